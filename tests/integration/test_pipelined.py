"""One tenant-bound read as one libpq pipeline (`run_pipelined`) against real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import errors

from tenantry.db import pipelined
from tenantry.db.engine import Database
from tenantry.db.pipelined import run_pipelined
from tests.conftest import TenantFixture

T = TypeVar("T")
Conn = psycopg.AsyncConnection[Any]

BIND = "SELECT set_config('tenantry.tenant_id', %s, true)"


def _with_conn(db: Database, scenario: Callable[[Conn], Awaitable[T]]) -> T:
    async def main() -> T:
        conninfo = db.target.libpq(db.target.app_url)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            return await scenario(conn)

    return asyncio.run(main())


@pytest.fixture(params=[True, False], ids=["close", "deallocate"])
def either_close(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Statements closed with libpq 17's Close message, and with `DEALLOCATE` as before it."""
    monkeypatch.setattr(pipelined, "_CLOSE_MESSAGE", request.param)


async def _prepared(conn: Conn) -> dict[str, int]:
    """Our prepared statements on this connection: name -> times executed."""
    cur = await conn.execute(
        "SELECT name, generic_plans + custom_plans FROM pg_prepared_statements"
        " WHERE name LIKE 'tenantry\\_%'"
    )
    return dict(await cur.fetchall())


def test_values_go_in_and_come_out_as_through_a_psycopg_cursor(
    db: Database, tenant: TenantFixture
) -> None:
    values = {
        "u": uuid.UUID("018f0000-0000-7000-8000-000000000001"),
        "t": "Grüße, 'quoted' %s",
        "i": 42,
        "big": 2**40,
        "n": None,
        "l": [uuid.UUID(int=1), uuid.UUID(int=2)],
        "d": dt.datetime(2026, 11, 22, 12, 30, tzinfo=dt.UTC),
        "m": Decimal("13.0"),
        "b": True,
        "x": b"\x00\xffbytes",
    }
    sql = (
        "SELECT %(u)s, %(t)s, %(i)s, %(big)s, %(n)s::text, %(l)s, %(d)s, %(m)s, %(b)s, %(x)s,"
        " 100 %% 7, %(u)s = %(u)s"
    )

    async def scenario(conn: Conn) -> tuple[Any, Any]:
        ours = await run_pipelined(conn, BIND, (str(tenant.id),), sql, values)
        cur = conn.cursor(binary=True)
        await cur.execute(sql, values)
        return ours, await cur.fetchall()

    ours, theirs = _with_conn(db, scenario)
    assert ours == theirs
    assert ours[0][0] == values["u"] and ours[0][5] == values["l"] and ours[0][10] == 2


def test_the_binding_holds_for_the_statement_and_ends_with_it(
    db: Database, tenant: TenantFixture
) -> None:
    async def scenario(conn: Conn) -> tuple[Any, Any]:
        inside = await run_pipelined(
            conn,
            BIND,
            (str(tenant.id),),
            "SELECT current_setting('tenantry.tenant_id'), (SELECT count(*) FROM identity.locations)",
            (),
        )
        cur = await conn.execute(
            "SELECT current_setting('tenantry.tenant_id', true),"
            " (SELECT count(*) FROM identity.locations)"
        )
        return inside, await cur.fetchone()

    inside, after = _with_conn(db, scenario)
    assert inside == [(str(tenant.id), len(tenant.locations))]
    assert not after[0] and after[1] == 0


def test_a_statement_is_prepared_once_per_connection(db: Database, tenant: TenantFixture) -> None:
    async def scenario(conn: Conn) -> dict[str, int]:
        for n in range(3):
            rows = await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT %s + 1", (n,))
            assert rows == [(n + 1,)]
        return await _prepared(conn)

    # the binding and the statement, each prepared once and run three times
    assert sorted(_with_conn(db, scenario).values()) == [3, 3]


def test_beyond_the_limit_the_least_recently_used_statement_is_closed(
    db: Database, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipelined.PreparedStatements, "MAX", 3)

    async def scenario(conn: Conn) -> tuple[dict[str, int], list[Any]]:
        for n in range(4):  # the binding stays in use; the statements take turns
            await run_pipelined(conn, BIND, (str(tenant.id),), f"SELECT {n}", ())
        held = await _prepared(conn)
        again = await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 0", ())
        return held, again

    held, again = _with_conn(db, scenario)
    assert len(held) == 3  # binding, SELECT 2, SELECT 3: SELECT 0 and SELECT 1 were closed
    assert again == [(0,)]


def test_a_rejected_statement_raises_its_error_and_leaves_the_connection_clean(
    db: Database, tenant: TenantFixture
) -> None:
    async def scenario(conn: Conn) -> tuple[Any, Any, Any]:
        with pytest.raises(errors.DivisionByZero):
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 1 / %s", (0,))
        with pytest.raises(errors.SyntaxError):  # rejected when prepared: not remembered
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELEC 1", ())
        status = conn.pgconn.transaction_status, conn.pgconn.pipeline_status
        cur = await conn.execute("SELECT current_setting('tenantry.tenant_id', true)")
        return status, await cur.fetchone(), await _prepared(conn)

    (tx_status, pipeline_status), (binding,), held = _with_conn(db, scenario)
    assert tx_status == psycopg.pq.TransactionStatus.IDLE
    assert pipeline_status == psycopg.pq.PipelineStatus.OFF
    assert not binding
    assert len(held) == 2  # the binding and `SELECT 1 / $1`


@pytest.mark.usefixtures("either_close")
def test_statements_the_server_forgot_are_prepared_again(
    db: Database, tenant: TenantFixture
) -> None:

    async def scenario(conn: Conn) -> list[Any]:
        await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT %s::int * 2", (2,))
        await conn.execute("DEALLOCATE ALL")  # as DISCARD ALL or a pooler would
        return await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT %s::int * 2", (3,))

    assert _with_conn(db, scenario) == [(6,)]


def test_a_cancelled_read_stops_its_statement_and_closes_its_connection(
    db: Database, tenant: TenantFixture
) -> None:
    async def scenario(conn: Conn) -> tuple[bool, list[Any]]:
        pid = conn.info.backend_pid
        read = asyncio.create_task(
            run_pipelined(conn, BIND, (str(tenant.id),), "SELECT pg_sleep(5)", ())
        )
        await asyncio.sleep(0.3)
        read.cancel()
        with pytest.raises(asyncio.CancelledError):
            await read
        await asyncio.sleep(0.3)
        conninfo = db.target.libpq(db.target.app_url)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as other:
            cur = await other.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s AND state = 'active'", (pid,)
            )
            return conn.closed, await cur.fetchall()

    closed, still_running = _with_conn(db, scenario)
    assert closed is True
    assert still_running == []  # not left sleeping on the server until it ends


@pytest.mark.usefixtures("either_close")
def test_a_new_statement_after_the_server_forgot_the_others_is_prepared_with_them(
    db: Database, tenant: TenantFixture
) -> None:

    async def scenario(conn: Conn) -> list[Any]:
        await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 1", ())
        await conn.execute("DEALLOCATE ALL")
        # the binding comes from the registry, the statement is new: the retry prepares both
        return await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 2", ())

    assert _with_conn(db, scenario) == [(2,)]


@pytest.mark.usefixtures("either_close")
def test_closing_a_statement_the_server_forgot_is_no_error(
    db: Database, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipelined.PreparedStatements, "MAX", 2)

    async def scenario(conn: Conn) -> tuple[list[Any], dict[str, int]]:
        await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 1", ())
        await conn.execute("DEALLOCATE ALL")
        # the cache is full: SELECT 1 is evicted (closed) while the server has it no more
        rows = await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 2", ())
        rows += await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 3", ())
        return rows, await _prepared(conn)

    rows, held = _with_conn(db, scenario)
    assert rows == [(2,), (3,)]
    assert len(held) <= 2


@pytest.mark.usefixtures("either_close")
def test_a_statement_outdated_by_a_schema_change_is_replaced_not_leaked(
    db: Database, tenant: TenantFixture
) -> None:

    async def scenario(conn: Conn) -> tuple[list[Any], list[Any], int, int]:
        await conn.execute("CREATE TEMP TABLE pipelined_t (a int)")
        await conn.execute("INSERT INTO pipelined_t VALUES (1)")
        before = await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT * FROM pipelined_t", ())
        await conn.execute("ALTER TABLE pipelined_t ADD COLUMN b int DEFAULT 7")
        after = await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT * FROM pipelined_t", ())
        await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 1", ())  # closes the old ones
        return before, after, len(await _prepared(conn)), len(pipelined._registry(conn).names)

    before, after, on_server, registered = _with_conn(db, scenario)
    assert before == [(1,)] and after == [(1, 7)]
    assert on_server == registered


def test_other_errors_of_the_same_class_keep_the_prepared_statements(
    db: Database, tenant: TenantFixture
) -> None:
    unsupported = "SELECT * FROM (SELECT 1 AS a) x FULL JOIN (SELECT 2 AS b) y ON x.a < y.b"

    async def scenario(conn: Conn) -> dict[str, int]:
        await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 1", ())
        for _ in range(3):
            with pytest.raises(errors.FeatureNotSupported):
                await run_pipelined(conn, BIND, (str(tenant.id),), unsupported, ())
        return await _prepared(conn)

    held = _with_conn(db, scenario)
    assert len(held) == 3  # the binding, SELECT 1 and the unsupported one, each once
    assert max(held.values()) == 4  # the binding ran every time, from the same statement


def test_a_statement_that_does_not_return_rows_as_a_read_does_is_refused(
    db: Database, tenant: TenantFixture
) -> None:
    async def scenario(conn: Conn) -> bool:
        with pytest.raises(psycopg.ProgrammingError, match="COPY_OUT"):
            await asyncio.wait_for(
                run_pipelined(conn, BIND, (str(tenant.id),), "COPY (SELECT 1) TO STDOUT", ()),
                timeout=5,
            )
        return conn.closed

    assert _with_conn(db, scenario) is True


def test_parameters_that_do_not_match_the_placeholders_are_refused(
    db: Database, tenant: TenantFixture
) -> None:
    async def scenario(conn: Conn) -> None:
        with pytest.raises(psycopg.ProgrammingError, match="2 placeholders but 1"):
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT %s, %s", (1,))
        with pytest.raises(psycopg.ProgrammingError, match=r"named vs\. positional"):
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT %(a)s", (1,))
        with pytest.raises(psycopg.ProgrammingError, match="missing: b"):
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT %(a)s, %(b)s", {"a": 1})
        with pytest.raises(TypeError):
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT %s", "x")
        with pytest.raises(psycopg.ProgrammingError, match="empty"):
            await run_pipelined(conn, BIND, (str(tenant.id),), "  ", ())
        await conn.set_autocommit(False)
        await conn.execute("SELECT 1")  # a transaction is open
        with pytest.raises(psycopg.ProgrammingError, match="idle connection"):
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 1", ())

    _with_conn(db, scenario)


def test_a_connection_the_server_dropped_fails_the_read_and_is_closed(
    db: Database, tenant: TenantFixture
) -> None:
    async def scenario(conn: Conn) -> bool:
        conninfo = db.target.libpq(db.target.app_url)
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as other:
            await other.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        await asyncio.sleep(0.1)
        with pytest.raises(psycopg.OperationalError):
            await run_pipelined(conn, BIND, (str(tenant.id),), "SELECT 1", ())
        return conn.closed

    assert _with_conn(db, scenario) is True
