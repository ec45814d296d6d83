"""What commands print: Rich tables that wrap rather than cut, or JSON for scripts.

Tables go to stdout. A cell too long for its column folds onto further lines (never an
ellipsis), so nothing is lost in a narrow terminal or when the output is piped, where the width
is `COLUMNS` or, unset, 120 characters.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table

__all__ = ["console", "print_json", "show", "table"]

# Width of output that goes to a pipe or a file when COLUMNS does not say.
PIPE_WIDTH = 120


def console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr) with a sensible width when it is not a terminal."""
    c = Console(stderr=stderr)
    if c.is_terminal or os.environ.get("COLUMNS"):
        return c
    return Console(stderr=stderr, width=PIPE_WIDTH)


def table(*columns: str, title: str | None = None, right: tuple[str, ...] = ()) -> Table:
    """A table whose cells wrap; columns named in `right` are right-aligned (numbers)."""
    t = Table(title=title)
    for name in columns:
        t.add_column(name, justify="right" if name in right else "left")
    return t


def _fold(t: Table) -> Table:
    for column in t.columns:
        column.overflow = "fold"
        column.no_wrap = False
    return t


def show(*renderables: RenderableType, out: Console | None = None) -> None:
    """Print, folding every table's cells instead of truncating them (tables built elsewhere,
    e.g. by the pipeline's renderers, included)."""
    target = out or console()
    for r in renderables:
        target.print(_fold(r) if isinstance(r, Table) else r)


def print_json(data: Any) -> None:
    """JSON on stdout: dates and ids as strings, non-ASCII kept."""
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
