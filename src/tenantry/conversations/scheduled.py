"""The chat upkeep on a timer: `tenantry serve` runs it once at start and then every
`TENANTRY_CHAT_UPKEEP_HOURS`, so the months ahead always exist and the 90-day drop happens
without a cron job.

Every worker process of every server runs the timer; an advisory lock taken in the upkeep's
transaction lets one of them do the work and the others skip it. A failure is logged (by its
error class, never a value) and retried at the next tick; it never stops the server.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

import psycopg

from tenantry.conversations.upkeep import UpkeepReport, upkeep_chat_partitions
from tenantry.ids import uuid7

__all__ = ["UPKEEP_LOCK", "UpkeepTimer", "upkeep_once"]

UPKEEP_LOCK = 0x636861745F75706B  # pg_try_advisory_xact_lock key: "chat_upk"
log = logging.getLogger("tenantry.conversations")


def upkeep_once(owner_dsn: str, *, now: datetime, months_ahead: int = 3) -> UpkeepReport | None:
    """Run the upkeep as of `now` and commit; None when another process is running it."""
    with psycopg.connect(owner_dsn) as conn:
        row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (UPKEEP_LOCK,)).fetchone()
        if not (row and row[0]):
            return None
        report = upkeep_chat_partitions(conn, uuid7, now=now, months_ahead=months_ahead)
        conn.commit()
        return report


class UpkeepTimer:
    """A daemon thread running `upkeep_once` now and then every `every_seconds`."""

    def __init__(self, owner_dsn: str, every_seconds: float, now: Callable[[], datetime]) -> None:
        self.owner_dsn = owner_dsn
        self.every_seconds = every_seconds
        self.now = now
        self.runs = 0  # upkeeps this timer did (not skipped for another process)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every_seconds <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="chat-upkeep", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if upkeep_once(self.owner_dsn, now=self.now()) is not None:
                    self.runs += 1
            except (psycopg.Error, ValueError) as exc:
                log.warning("chat upkeep failed", extra={"error": type(exc).__name__})
            self._stop.wait(self.every_seconds)
