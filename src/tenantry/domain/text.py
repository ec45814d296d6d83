"""Which text PostgreSQL can store: no NUL character, no UTF-16 surrogate without its pair.

Pure rule, no I/O; the HTTP API's request guard and the command line both refuse such text
before it reaches a query.
"""

from __future__ import annotations

import re

__all__ = ["unstorable_text"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(text: str) -> bool:
    """Whether `text` holds a character PostgreSQL cannot store (NUL, a lone surrogate)."""
    return _UNSTORABLE.search(text) is not None
