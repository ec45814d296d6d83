"""Getting prepared rows into `events.inbox`: COPY, and a background writer for bulk loads.

Ingestion (`events/ingest.py`) validates events and builds their rows as lines of COPY's text
format; this module only stores those lines. `store_lines` inserts one batch in the caller's
transaction; `InboxWriter` runs the bulk load's chunks on one background thread, one committed
transaction per chunk, so that Python prepares the next rows while PostgreSQL copies the
current ones. Both report which event ids were inserted; an id already stored is skipped, never
overwritten. Nothing here validates an event or decides its outcome.
"""

from __future__ import annotations

import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psycopg

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


def store_lines(uow: UnitOfWork, lines: list[str], ids: list[str], *, direct: bool) -> set[str]:
    """Insert the lines whose event id is new, in the caller's transaction; the ids inserted.

    `direct` (as the owner role: COPY is not allowed under row level security): COPY straight
    into the inbox inside a savepoint; if an id is already stored (a re-run load, a concurrent
    writer), that fails as a whole and the lines take the staged path: COPY into a temporary
    table, then insert from it with ON CONFLICT DO NOTHING.
    """
    if not lines:
        return set()
    data = "".join(lines)
    if direct:
        try:
            with _cursor(uow) as cur, cur.connection.transaction(), cur.copy(_DIRECT) as copy:
                copy.write(data)
            return set(ids)
        except psycopg.errors.UniqueViolation:
            pass  # a retry or a concurrent writer: some ids exist; take the staged path
    return _staged(uow, [data])


@dataclass
class _Chunk:
    """The chunk being written (touched by the writer thread only)."""

    uow: UnitOfWork
    context: ExitStack  # the unit of work and the cursor
    copy: Any = None  # the direct COPY while it goes well (its savepoint in `copying`)
    copying: ExitStack = field(default_factory=ExitStack)
    blocks: list[str] = field(default_factory=list)  # kept for the staged path
    ids: list[str] = field(default_factory=list)


class InboxWriter:
    """COPY of one tenant's rows, chunk by chunk, on a background thread.

    `write` hands over a block of lines (it returns at once unless `depth` blocks are already
    waiting); the first block of a chunk opens a platform unit of work and a direct COPY in a
    savepoint, later blocks stream into the same COPY, and `end_chunk` completes it and commits.
    If an id is already stored, the chunk's COPY fails as a whole and the chunk is stored through
    the staged path instead (as `store_lines`). Chunks commit in the order they were written.
    Leaving the `with` block on an error rolls back the open chunk and stops the thread.
    """

    def __init__(self, db: Database, tenant_id: uuid.UUID, *, actor: str, depth: int = 3) -> None:
        self._db = db
        self._tenant_id = tenant_id
        self._actor = actor
        self._depth = depth
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        self._chunk: _Chunk | None = None  # writer thread only
        self._failed: BaseException | None = None  # writer thread only

    def __enter__(self) -> InboxWriter:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-copy")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pool, self._pool = self._pool, None
        assert pool is not None
        try:
            # Chunks already ended still commit; a chunk left open (the load stopped on an
            # error while reading or preparing it) is rolled back.
            try:
                pool.submit(self._discard).result()
            except Exception:
                if exc is None:
                    raise
                # The error that stopped the load matters more; the unit of work is closed.
        finally:
            self._pending.clear()
            pool.shutdown(wait=True, cancel_futures=True)

    def write(self, lines: list[str], ids: list[str]) -> None:
        """Queue rows of the current chunk; raises an error of an earlier write."""
        if lines:
            self._pending.append(self._submit(self._write, "".join(lines), ids))
        while self._pending and (len(self._pending) > self._depth or self._pending[0].done()):
            self._pending.popleft().result()

    def end_chunk(self) -> Future[set[str]]:
        """Complete and commit the current chunk; the future holds the ids it inserted."""
        return self._submit(self._end)

    def _submit(self, fn: Any, *args: Any) -> Future[Any]:
        if self._pool is None:
            raise RuntimeError("InboxWriter used outside its `with` block")
        return self._pool.submit(self._guarded, fn, *args)

    def _guarded(self, fn: Any, *args: Any) -> Any:
        # After a failure nothing more is written: no later chunk may commit past a lost one.
        if self._failed is not None:
            raise RuntimeError("an earlier write of this load failed") from self._failed
        try:
            return fn(*args)
        except BaseException as exc:
            self._failed = exc
            raise

    # Below: the writer thread.

    def _begin(self) -> _Chunk:
        context = ExitStack()
        try:
            uow = context.enter_context(
                self._db.platform_uow(tenant_id=self._tenant_id, actor=self._actor)
            )
            chunk = _Chunk(uow, context)
            cur = context.enter_context(_cursor(uow))
            chunk.copying.enter_context(cur.connection.transaction())
            chunk.copy = chunk.copying.enter_context(cur.copy(_DIRECT))
        except BaseException:
            context.close()
            raise
        return chunk

    def _write(self, data: str, ids: list[str]) -> None:
        if self._chunk is None:
            self._chunk = self._begin()
        chunk = self._chunk
        chunk.blocks.append(data)
        chunk.ids.extend(ids)
        if chunk.copy is not None:
            try:
                chunk.copy.write(data)
            except psycopg.errors.UniqueViolation as exc:
                self._abandon_copy(chunk, exc)

    @staticmethod
    def _abandon_copy(chunk: _Chunk, exc: BaseException) -> None:
        """Some id exists: end the COPY, roll back to its savepoint; the staged path follows."""
        chunk.copy = None
        chunk.copying.__exit__(type(exc), exc, exc.__traceback__)

    def _end(self) -> set[str]:
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

    def _discard(self) -> None:
        chunk, self._chunk = self._chunk, None
        if chunk is not None:
            error = RuntimeError("bulk ingestion stopped")
            try:
                if chunk.copy is not None:
                    self._abandon_copy(chunk, error)
            finally:
                chunk.context.close()  # closing the unit of work rolls the chunk back
