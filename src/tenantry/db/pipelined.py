"""One tenant-bound read as one libpq pipeline: a single write, a single wait, binary rows.

psycopg's `AsyncConnection.pipeline()` is general: every `execute` in it flushes and waits for
the socket on its own, and entering and leaving the block cost as much again. For the API's
reads (the tenant binding, then one statement) that came to three writes, four trips through
the event loop and about 0.15 ms of CPU per read, more than PostgreSQL spent answering. Here
the whole exchange is queued in libpq and sent at once:

    [Close of evicted or outdated statements] [Parse binding] [Parse statement]
    Bind/Execute binding, Bind/Execute statement, Sync

then the answers are read back as they arrive. The statements up to the Sync are one implicit
transaction, so the binding (`set_config(..., true)`) holds for the statement and ends with it,
exactly as in `psycopg`'s pipeline. Parameters are adapted and rows loaded by psycopg's own
`Transformer`, so values read the same as through a psycopg cursor.

Statements are prepared once per connection (named `tenantry_<n>`, at most
`PreparedStatements.MAX` per connection, the least recently used closed first), so PostgreSQL
plans a statement once, not on every read; statements the server lost (`DISCARD ALL`) or
outdated (a schema change) are closed, prepared again and the read repeated once. A connection
whose exchange did not finish (a broken socket, a cancelled task) has its statement cancelled
and is closed, never reused: its pool replaces it.

This module only speaks the protocol; `tenantry.db.aio.AsyncReader` owns the pool and the
binding's meaning, and translates the driver's errors. It speaks it through psycopg's libpq
wrapper (`psycopg.pq`) and adapters: should a name it uses be missing, `PIPELINED` turns off
(one warning) and the reader uses psycopg's ordinary cursor, with the same answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import abc, pq
from psycopg.adapt import PyFormat, Transformer

from tenantry.fastpath import FastPath, missing

__all__ = ["PIPELINED", "PreparedStatements", "numbered", "run_pipelined"]

# Off when a psycopg name this module speaks the protocol with is missing (checked here, once,
# and on the first read that meets one): `AsyncReader` then reads through psycopg's cursor.
PIPELINED = FastPath("db.pipelined", "psycopg")
try:
    from psycopg.errors import error_from_result
except ImportError as _exc:
    PIPELINED.off(str(_exc))
_gone = (
    missing(
        pq.PGconn,
        (
            "enter_pipeline_mode",
            "exit_pipeline_mode",
            "pipeline_sync",
            "send_prepare",
            "send_query_prepared",
            "send_query_params",
            "flush",
            "is_busy",
            "consume_input",
            "get_result",
            "finish",
            "socket",
            "transaction_status",
        ),
    )
    + missing(pq.ExecStatus, ("PIPELINE_SYNC", "PIPELINE_ABORTED", "TUPLES_OK", "FATAL_ERROR"))
    + missing(Transformer, ("from_context", "dump_sequence", "set_pgresult", "load_rows"))
    + missing(psycopg.AsyncConnection, ("cancel_safe",))
)
if _gone:
    PIPELINED.off(f"missing {', '.join(_gone)}")

_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?s|%%")
_OK = {pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK}
_ABORTED = getattr(pq.ExecStatus, "PIPELINE_ABORTED", None)
_EXPECTED = {*_OK, _ABORTED, pq.ExecStatus.FATAL_ERROR}


@lru_cache(maxsize=1024)
def numbered(sql: str, named: bool) -> tuple[bytes, tuple[str, ...]]:
    """`sql` with psycopg's `%s` / `%(name)s` placeholders as `$1, $2, ...`; the names in order.

    For positional placeholders the names are empty strings, one per placeholder. `%%` is a
    literal percent sign. Mixing both styles is an error, as in psycopg.
    """
    names: list[str] = []
    styles: set[bool] = set()

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        styles.add(name is not None)
        if name is None:
            names.append("")
            return f"${len(names)}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    converted = _PLACEHOLDER.sub(replace, sql)
    if styles and styles != {named}:
        raise psycopg.ProgrammingError(
            "the query's placeholders do not match its parameters (named vs. positional)"
        )
    return converted.encode(), tuple(names)


class PreparedStatements:
    """The statements prepared on one connection: (SQL, parameter types) -> statement name."""

    MAX = 256

    def __init__(self) -> None:
        self.names: OrderedDict[tuple[bytes, tuple[int, ...]], bytes] = OrderedDict()
        self.counter = 0
        self.to_close: list[bytes] = []  # closed on the server in the next exchange

    def lookup(self, key: tuple[bytes, tuple[int, ...]]) -> bytes | None:
        name = self.names.get(key)
        if name is not None:
            self.names.move_to_end(key)
        return name

    def new_name(self) -> bytes:
        self.counter += 1
        return b"tenantry_%d" % self.counter

    def make_room(self) -> None:
        """Forget the least recently used statement (and close it) when there are too many."""
        if len(self.names) >= self.MAX:
            self.to_close.append(self.names.popitem(last=False)[1])

    def drop(self, names: set[bytes], *, close: bool) -> None:
        """Forget these statements (and close them on the server)."""
        for key in [key for key, name in self.names.items() if name in names]:
            del self.names[key]
        if close:
            self.to_close.extend(names)


_registries: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], PreparedStatements] = (
    weakref.WeakKeyDictionary()
)


def _registry(conn: psycopg.AsyncConnection[Any]) -> PreparedStatements:
    registry = _registries.get(conn)
    if registry is None:
        registry = _registries[conn] = PreparedStatements()
    return registry


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, *, write: bool) -> None:
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if write:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if write:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


async def _exchange(pgconn: pq.abc.PGconn) -> list[pq.abc.PGresult]:
    """Send what libpq holds, then collect every result up to the pipeline's Sync."""
    loop = asyncio.get_running_loop()
    fd = pgconn.socket
    while pgconn.flush():
        await _ready(loop, fd, write=True)
    results: list[pq.abc.PGresult] = []
    ended_query = False
    while True:
        if pgconn.is_busy():
            await _ready(loop, fd, write=False)
            pgconn.consume_input()
            continue
        result = pgconn.get_result()
        if result is None:
            # libpq ends each statement's results with one None; two in a row would mean it
            # has nothing queued, which cannot happen before the Sync.
            if ended_query:
                raise psycopg.OperationalError("the pipeline ended before its Sync")
            ended_query = True
            continue
        ended_query = False
        if result.status == pq.ExecStatus.PIPELINE_SYNC:
            return results
        if result.status not in _EXPECTED:  # COPY would never end with a None
            raise psycopg.ProgrammingError(
                f"unexpected result in a pipelined read: {pq.ExecStatus(result.status).name}"
            )
        results.append(result)


async def _abandon(conn: psycopg.AsyncConnection[Any]) -> None:
    """Close a connection whose exchange did not finish, first stopping its statement.

    Closing alone would leave the statement running on the server until it next writes (a
    cancelled request's read could run on until `statement_timeout`).
    """
    pgconn = conn.pgconn
    if pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
        # Interrupted again, or no answer: it is closed anyway.
        with contextlib.suppress(BaseException):
            await conn.cancel_safe(timeout=2.0)
    pgconn.finish()


# libpq 17 sends a protocol Close, which is no error for a statement the server lost.
_CLOSE_MESSAGE = pq.version() >= 170000


def _close(pgconn: pq.abc.PGconn, name: bytes) -> None:
    """Queue the Close of a prepared statement."""
    if _CLOSE_MESSAGE:
        pgconn.send_close_prepared(name)
    else:  # libpq before 17: a statement (PgBouncer does not track it)
        pgconn.send_query_params(b"DEALLOCATE " + name, None)


Statement = tuple[bytes, tuple[int, ...], Sequence[abc.Buffer | None], list[pq.Format]]


def _adapt(tx: abc.Transformer, sql: str, params: Mapping[str, Any] | Sequence[Any]) -> Statement:
    if isinstance(params, str | bytes) or not isinstance(params, Mapping | Sequence):
        raise TypeError("query parameters should be a sequence or a mapping")
    query, names = numbered(sql, isinstance(params, Mapping))
    if not query.strip():
        raise psycopg.ProgrammingError("the query is empty")
    if isinstance(params, Mapping):
        missing = [n for n in names if n not in params]
        if missing:
            raise psycopg.ProgrammingError(f"query parameter missing: {missing[0]}")
        ordered = [params[n] for n in names]
    else:
        ordered = list(params)
    if len(ordered) != len(names):
        raise psycopg.ProgrammingError(
            f"the query has {len(names)} placeholders but {len(ordered)} parameters"
        )
    dumped = tx.dump_sequence(ordered, [PyFormat.AUTO] * len(ordered))
    return query, tuple(tx.types or ()), dumped, list(tx.formats or ())


async def _run_once(
    conn: psycopg.AsyncConnection[Any], registry: PreparedStatements, statements: list[Statement]
) -> tuple[list[pq.abc.PGresult], int, set[bytes]]:
    """Send the statements (preparing those the connection lacks).

    Every result in the order sent (the closes, the preparations, the statements), how many
    closes were sent, and the names of the statements taken from the registry (prepared by an
    earlier exchange).
    """
    pgconn = conn.pgconn
    preparing: list[tuple[tuple[bytes, tuple[int, ...]], bytes]] = []
    executing: list[bytes] = []
    cached: set[bytes] = set()
    for query, types, _values, _formats in statements:
        key = (query, types)
        name = registry.lookup(key)
        if name is None:
            registry.make_room()
            name = registry.new_name()
            preparing.append((key, name))
        else:
            cached.add(name)
        executing.append(name)
    closing, registry.to_close = registry.to_close, []

    done = False
    try:
        pgconn.enter_pipeline_mode()
        for name in closing:
            _close(pgconn, name)
        for (query, types), name in preparing:
            pgconn.send_prepare(name, query, param_types=types)
        for name, (_query, _types, values, formats) in zip(executing, statements, strict=True):
            pgconn.send_query_prepared(
                name, values, param_formats=formats, result_format=pq.Format.BINARY
            )
        pgconn.pipeline_sync()
        results = await _exchange(pgconn)
        pgconn.exit_pipeline_mode()
        done = True
    finally:
        if not done:
            # Mid-exchange: nobody can tell what the server has left to say.
            await _abandon(conn)

    # Results come in the order sent: the closes, the preparations, the statements.
    prepared = results[len(closing) : len(closing) + len(preparing)]
    for (key, name), result in zip(preparing, prepared, strict=True):
        if result.status == pq.ExecStatus.COMMAND_OK:
            registry.names[key] = name
    return results, len(closing), cached


def _stale(result: pq.abc.PGresult) -> bool:
    """The statement's prepared form is gone (DISCARD ALL) or outdated (a schema change)."""
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    if state == b"26000":  # invalid_sql_statement_name
        return True
    # "cached plan must not change result type" (feature_not_supported), told apart from the
    # other errors of its class by the server function raising it, which is never translated.
    source = result.error_field(pq.DiagnosticField.SOURCE_FUNCTION)
    return state == b"0A000" and source == b"RevalidateCachedQuery"


async def run_pipelined(
    conn: psycopg.AsyncConnection[Any],
    bind_sql: str,
    bind_params: Sequence[Any],
    sql: str,
    params: Mapping[str, Any] | Sequence[Any],
) -> list[tuple[Any, ...]]:
    """Run `bind_sql` then `sql` in one implicit transaction, in one round trip; `sql`'s rows.

    Both must be read-only statements returning rows, and the connection must be idle
    (autocommit, outside any transaction). Raises the psycopg error of the first statement
    PostgreSQL rejected. Statements the connection had prepared but the server lost or
    outdated are closed, prepared again and the exchange repeated once. Any other failure
    (the socket broke, the task was cancelled) stops the statement and closes the connection.
    """
    if conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        raise psycopg.ProgrammingError("a pipelined read needs an idle connection")
    registry = _registry(conn)
    tx = Transformer.from_context(conn)
    statements = [_adapt(tx, bind_sql, bind_params), _adapt(tx, sql, params)]
    for attempt in range(2):
        results, closes, cached = await _run_once(conn, registry, statements)
        failed = next(
            (i for i, r in enumerate(results) if r.status not in _OK and r.status != _ABORTED),
            None,
        )
        if failed is None:
            rows = results[-1]
            tx.set_pgresult(rows, set_loaders=True, format=pq.Format.BINARY)
            return tx.load_rows(0, rows.ntuples, tuple)
        error = results[failed]
        # A stale statement from the registry, or (before libpq 17) the DEALLOCATE of one the
        # server had already lost, which means it lost the others too (DISCARD ALL): the
        # registry's statements of this exchange are forgotten, and the read runs once more.
        if _stale(error) and (cached or failed < closes):
            # Prepared again, under new names, by the next exchange. Statements the server lost
            # are closed only where that is no error.
            lost = error.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"
            registry.drop(cached, close=_CLOSE_MESSAGE or not lost)
            if attempt == 0:
                continue
        raise error_from_result(error, encoding=conn.info.encoding)
    raise AssertionError("unreachable")
