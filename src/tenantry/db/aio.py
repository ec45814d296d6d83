"""Tenant-bound reads on the event loop: an async psycopg pool for the API's read endpoints.

A read of the HTTP API is one statement. Through the unit of work it would cost a worker
thread, an ORM session and five round trips (BEGIN, tenant binding, the query, the subject
keys, COMMIT). `AsyncReader.fetch` sends the same `set_config` binding the unit of work uses
and the statement as one pipeline (`tenantry.db.pipelined`), which PostgreSQL runs as one
implicit transaction ending at the pipeline's Sync: one write, one round trip, prepared
statements, no thread. The binding is transaction-local exactly as in the unit of work, so a
pooled connection never carries a tenant into the next read, and RLS applies as
`tenantry_app`.

This module only moves rows. It does not build SQL (the services do), it does not open
sealed values (the privacy package does), and it never writes: writes keep their one commit
point in the unit of work.

A pool belongs to the event loop that opened it: `open()` in the application's lifespan,
`close()` at its end, each in its own loop (test clients run one loop each, sometimes side by
side). A read in a loop without an open pool (an app embedded without lifespan events) opens
a connection of its own: slower, never wrong. With the pipelined fast path off
(`tenantry.db.pipelined.PIPELINED`), a read is the binding and the statement in an explicit
transaction through psycopg's cursor: more round trips, the same rows.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from tenantry.db.errors import translate_driver_error
from tenantry.db.pipelined import PIPELINED, run_pipelined
from tenantry.db.provider import DatabaseTarget
from tenantry.errors import DatabaseUnavailableError

__all__ = ["AsyncReader"]

_BIND = "SELECT set_config('tenantry.tenant_id', %s, true), set_config('tenantry.actor', %s, true)"


class AsyncReader:
    """Read-only, tenant-bound statements over a pool of `tenantry_app` connections."""

    def __init__(
        self,
        target: DatabaseTarget,
        *,
        size: int,
        statement_timeout_ms: int = 30_000,
        pre_ping: bool = False,
    ) -> None:
        self._conninfo = target.libpq(target.app_url)
        self._size = size
        self._timeout = int(statement_timeout_ms)
        self._pre_ping = pre_ping
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncConnectionPool] = (
            weakref.WeakKeyDictionary()
        )
        # Loops without a pool still read at most `size` at a time.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        await conn.execute(f"SET statement_timeout = {self._timeout}")

    def _kwargs(self) -> dict[str, Any]:
        return {"autocommit": True}

    async def open(self) -> None:
        """Open a pool for the running event loop."""
        loop = asyncio.get_running_loop()
        if loop in self._pools:
            return
        pool: AsyncConnectionPool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._size,
            kwargs=self._kwargs(),
            configure=self._configure,
            check=AsyncConnectionPool.check_connection if self._pre_ping else None,
            open=False,
            name="tenantry-reads",
        )
        await pool.open()
        self._pools[loop] = pool

    async def close(self) -> None:
        """Close the running event loop's pool."""
        pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.close()

    async def fetch(
        self,
        tenant_id: uuid.UUID,
        actor: str,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any],
    ) -> list[tuple[Any, ...]]:
        """Run one read-only statement bound to the tenant; its rows."""
        try:
            return await self._fetch(tenant_id, actor, sql, params)
        except _FastPathLostError:  # `PIPELINED` is off now: once more, through the cursor
            return await self._fetch(tenant_id, actor, sql, params)

    async def _fetch(
        self,
        tenant_id: uuid.UUID,
        actor: str,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any],
    ) -> list[tuple[Any, ...]]:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        try:
            if pool is not None:
                # Not `pool.connection()`: its block would also commit, a lock and an event
                # loop trip for nothing on an autocommit connection.
                conn = await pool.getconn()
                try:
                    return await self._run(conn, tenant_id, actor, sql, params)
                finally:
                    await pool.putconn(conn)
            gate = self._gates.get(loop)
            if gate is None:
                gate = self._gates[loop] = asyncio.Semaphore(self._size)
            async with (
                gate,
                await psycopg.AsyncConnection.connect(self._conninfo, **self._kwargs()) as conn,
            ):
                await self._configure(conn)
                return await self._run(conn, tenant_id, actor, sql, params)
        except (PoolTimeout, PoolClosed) as exc:
            raise DatabaseUnavailableError("no database connection available") from exc
        except psycopg.Error as exc:
            raise translate_driver_error(exc) from exc

    @staticmethod
    async def _run(
        conn: psycopg.AsyncConnection[Any],
        tenant_id: uuid.UUID,
        actor: str,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any],
    ) -> list[tuple[Any, ...]]:
        if PIPELINED.on:
            # The statements up to the pipeline's one Sync form one implicit transaction: the
            # binding holds for the statement and ends with it. (Were a Sync ever sent between
            # them, the statement would run unbound and see no rows: it fails closed.)
            try:
                return await run_pipelined(conn, _BIND, (str(tenant_id), actor), sql, params)
            except (AttributeError, NameError) as exc:  # a psycopg internal it uses is gone
                PIPELINED.off(f"{type(exc).__name__}: {exc}")
                if conn.closed or conn.pgconn.transaction_status != pq.TransactionStatus.IDLE:
                    raise _FastPathLostError() from exc
        # psycopg's own way: the binding and the statement in one explicit transaction.
        async with conn.transaction():
            await conn.execute(_BIND, (str(tenant_id), actor))
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()


class _FastPathLostError(Exception):
    """The pipelined read failed half-way on a missing psycopg name; its connection is gone."""
