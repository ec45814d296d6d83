"""Switches for the fast paths that lean on a library's internals.

Three shortcuts use names a library does not promise to keep: `api.compiled` (FastAPI's
routing internals), `db.pipelined` (psycopg's libpq wrapper and adapters) and the statement
cache limits of `db.engine` (`psycopg._queries`). Each has a `FastPath` switch. A missing name
found when the module loads, or first used by a request, turns its switch off: a warning is
logged once and the library's ordinary path serves from then on, with the same answers. The
switch is read once per use (an attribute), so an intact fast path pays nothing for it.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["FastPath", "missing"]

_log = logging.getLogger("tenantry.fastpath")


class FastPath:
    """Whether one fast path is on; `off` turns it off for the process, warning once."""

    def __init__(self, name: str, library: str) -> None:
        self.name = name
        self.library = library
        self.on = True
        self.reason: str | None = None
        self._lock = threading.Lock()

    def off(self, reason: str) -> None:
        with self._lock:
            if not self.on:
                return
            self.on = False
            self.reason = reason
        _log.warning(
            "fast path %s is off (%s changed: %s); the library's own path serves instead",
            self.name,
            self.library,
            reason,
        )

    def reset(self) -> None:
        """On again (tests that switched it off)."""
        with self._lock:
            self.on = True
            self.reason = None


def missing(owner: object, names: tuple[str, ...]) -> list[str]:
    """Those of `names` that `owner` (a module or class) lacks."""
    return [name for name in names if not hasattr(owner, name)]
