"""Getting prepared rows into `events.inbox`: COPY, in one batch or streamed for bulk loads.

Ingestion (`events/ingest.py`) validates events and builds their rows as lines of COPY's text
format; this module only stores those lines. `store_lines` inserts one batch in the caller's
transaction (as the application role); `InboxWriter` streams a bulk load, one committed
transaction per chunk, without waiting for the server after each block, so that PostgreSQL
stores rows while Python prepares the next ones. Both report which event ids were inserted;
an id already stored is skipped, never overwritten. Nothing here validates an event or decides
its outcome.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psycopg
from psycopg.copy import LibpqWriter

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork

__all__ = ["COLUMNS", "InboxWriter", "store_lines"]

COLUMNS = (
    "tenant_id",
    "id",
    "event_type",
    "event_ts",
    "account_id",
    "location_id",
    "user_id",
    "user_key",
    "external_ids",
    "properties",
    "source",
    "ingested_at",
)
_COLS = ", ".join(COLUMNS)
_DIRECT = f"COPY events.inbox ({_COLS}) FROM STDIN"


def _cursor(uow: UnitOfWork) -> Any:
    conn = uow.session.connection().connection.driver_connection
    assert conn is not None
    return conn.cursor()


def _staged(uow: UnitOfWork, blocks: list[str]) -> set[str]:
    """COPY into a temporary table, then insert what is new: the ids inserted."""
    with _cursor(uow) as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tenantry_inbox_stage ON COMMIT DELETE ROWS AS"
            f" SELECT {_COLS} FROM events.inbox WITH NO DATA"
        )
        cur.execute("TRUNCATE tenantry_inbox_stage")
        with cur.copy(f"COPY tenantry_inbox_stage ({_COLS}) FROM STDIN") as copy:
            for block in blocks:
                copy.write(block)
        cur.execute(
            f"INSERT INTO events.inbox ({_COLS}) SELECT {_COLS} FROM tenantry_inbox_stage"
            " ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id::text"
        )
        return {r[0] for r in cur.fetchall()}


def store_lines(uow: UnitOfWork, lines: list[str]) -> set[str]:
    """Insert the lines whose event id is new, in the caller's transaction; the ids inserted.

    Through a temporary table and `INSERT ... ON CONFLICT DO NOTHING`: it works under row
    level security (where COPY into the inbox is not allowed) and skips stored ids one by one.
    """
    return _staged(uow, ["".join(lines)]) if lines else set()


@dataclass
class _Chunk:
    """The chunk being written."""

    uow: UnitOfWork
    context: ExitStack  # the unit of work and the cursor
    copy: Any = None  # the direct COPY while it goes well (its savepoint in `copying`)
    copying: ExitStack = field(default_factory=ExitStack)
    blocks: list[str] = field(default_factory=list)  # kept for the staged path
    ids: list[str] = field(default_factory=list)


class InboxWriter:
    """COPY of one tenant's rows into the inbox, chunk by chunk, while the caller goes on.

    The first `write` of a chunk opens a platform unit of work and a direct COPY in a savepoint;
    every `write` queues its block in the driver and sends what the connection takes at once,
    without waiting, so PostgreSQL stores the rows while the caller prepares the next block
    (it waits only when over `backlog` bytes are still unsent: the server is the slower one).
    `end_chunk` completes the COPY and commits. If an id is already stored, the chunk's COPY
    fails as a whole, is rolled back to its savepoint and the chunk goes through `store_lines`'s
    staged path instead.
    Leaving the `with` block rolls back a chunk that was not ended.
    """

    def __init__(
        self, db: Database, tenant_id: uuid.UUID, *, actor: str, backlog: int = 1 << 20
    ) -> None:
        self._db = db
        self._tenant_id = tenant_id
        self._actor = actor
        self._backlog = backlog
        self._chunk: _Chunk | None = None

    def __enter__(self) -> InboxWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        chunk, self._chunk = self._chunk, None
        if chunk is None:
            return
        try:
            if chunk.copy is not None:
                self._abandon_copy(chunk, exc or RuntimeError("chunk not ended"))
        except Exception:
            if exc is None:
                raise
            # The error that stopped the load matters more; the unit of work is closed below.
        finally:
            chunk.context.close()  # closing the unit of work rolls the chunk back

    def write(self, lines: list[str], ids: list[str]) -> None:
        """Add rows to the current chunk (the first rows open it)."""
        if not lines:
            return
        if self._chunk is None:
            self._chunk = self._begin()
        chunk = self._chunk
        data = "".join(lines)
        chunk.blocks.append(data)
        chunk.ids.extend(ids)
        if chunk.copy is not None:
            try:
                chunk.copy.write(data)
            except psycopg.errors.UniqueViolation as exc:
                self._abandon_copy(chunk, exc)

    def end_chunk(self) -> set[str]:
        """Complete and commit the current chunk; the ids it inserted."""
        chunk, self._chunk = self._chunk, None
        if chunk is None:
            return set()  # nothing of this chunk was to be stored
        with chunk.context:
            inserted: set[str] | None = None
            if chunk.copy is not None:
                chunk.copy = None
                try:
                    chunk.copying.close()  # the COPY's end: the server checks the last rows
                    inserted = set(chunk.ids)
                except psycopg.errors.UniqueViolation:
                    pass  # rolled back to the savepoint; the staged path follows
            if inserted is None:
                inserted = _staged(chunk.uow, chunk.blocks)
            chunk.uow.commit()
        return inserted

    def _begin(self) -> _Chunk:
        context = ExitStack()
        try:
            uow = context.enter_context(
                self._db.platform_uow(tenant_id=self._tenant_id, actor=self._actor)
            )
            chunk = _Chunk(uow, context)
            cur = context.enter_context(_cursor(uow))
            chunk.copying.enter_context(cur.connection.transaction())
            # psycopg sends what the socket takes and keeps the rest queued; it waits for the
            # server only once `backlog` bytes are queued.
            writer = LibpqWriter(cur, flush_threshold=self._backlog)
            chunk.copy = chunk.copying.enter_context(cur.copy(_DIRECT, writer=writer))
        except BaseException:
            context.close()
            raise
        return chunk

    @staticmethod
    def _abandon_copy(chunk: _Chunk, exc: BaseException) -> None:
        """End the COPY and roll back to its savepoint (an id exists, or the load stopped)."""
        chunk.copy = None
        chunk.copying.__exit__(type(exc), exc, exc.__traceback__)
