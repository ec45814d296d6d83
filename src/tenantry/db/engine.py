"""Engine factory and the `Database` handle that the rest of the system receives.

`connect_database()` makes the server reachable (embedded or external), optionally migrates it,
and builds two engines: one as `tenantry_app` for tenant work under row level security, one as
`tenantry_owner` for platform work (migrations, tenant creation, bulk loads). The sealer of
personal data comes from above, as a factory (`tenantry.composition.open_database` passes the
one that holds the master key): this package never imports the key code.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker

from tenantry.clock import Clock, SystemClock
from tenantry.config import Settings, get_settings
from tenantry.db.provider import DatabaseTarget, ensure_database
from tenantry.db.uow import SealerFactory, UnitOfWork
from tenantry.fastpath import FastPath
from tenantry.ids import IdGenerator, uuid7

__all__ = ["Database", "connect_database", "make_engine"]


# psycopg turns a statement's `%(name)s` placeholders into `$n` with a regular expression over
# its whole text, and caches the result only for statements of up to 4 KiB and 50 parameters.
# The multi-row INSERT of a batch of lead captures is 10 to 50 KiB: it was parsed anew on every
# flush, a fifth of a batch's CPU. These limits let psycopg's cache (128 statements, least
# recently used first out) keep such statements too; longer ones are still parsed each time.
_CACHED_STATEMENT_BYTES = 64 * 1024
_CACHED_STATEMENT_PARAMS = 4096


# Off (one warning) when psycopg no longer has these private limits: its own limits stand.
STATEMENT_CACHE = FastPath("db.engine statement cache", "psycopg")
_LIMITS = {
    "MAX_CACHED_STATEMENT_LENGTH": _CACHED_STATEMENT_BYTES,
    "MAX_CACHED_STATEMENT_PARAMS": _CACHED_STATEMENT_PARAMS,
}


def _cache_long_statements() -> None:
    """Raise psycopg's limits for caching converted statements (never lowers them)."""
    if not STATEMENT_CACHE.on:
        return
    try:
        queries = importlib.import_module("psycopg._queries")
    except ImportError as exc:
        STATEMENT_CACHE.off(str(exc))
        return
    gone = [name for name in _LIMITS if not isinstance(getattr(queries, name, None), int)]
    if gone:
        STATEMENT_CACHE.off(f"missing psycopg._queries.{', '.join(gone)}")
        return
    for name, value in _LIMITS.items():
        setattr(queries, name, max(getattr(queries, name), value))


def make_engine(url: URL, settings: Settings, *, pool_size: int | None = None) -> Engine:
    """A pooled psycopg 3 engine with the configured statement timeout."""
    engine = create_engine(
        url,
        pool_size=pool_size or settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=settings.pool_pre_ping,
        pool_reset_on_return="rollback",
    )
    # Many rows added to one table in one flush go out as one multi-row INSERT, as they do
    # when the INSERT returns values. psycopg would otherwise send one INSERT per row (in a
    # pipeline): one statement-level audit trigger run per row instead of one per flush.
    engine.dialect.use_insertmanyvalues_wo_returning = True
    _cache_long_statements()
    timeout = int(settings.statement_timeout_ms)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(f"SET statement_timeout = {timeout}")
        dbapi_conn.commit()

    return engine


@dataclass
class Database:
    """The configured database: its URLs, both engines and unit-of-work factories."""

    target: DatabaseTarget
    app_engine: Engine
    owner_engine: Engine
    clock: Clock = field(default_factory=SystemClock)
    ids: IdGenerator = uuid7
    sealing: SealerFactory | None = None  # None: personal data can be neither written nor read
    _app_sessions: sessionmaker[Session] = field(init=False)
    _owner_sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self._app_sessions = sessionmaker(self.app_engine, expire_on_commit=False)
        self._owner_sessions = sessionmaker(self.owner_engine, expire_on_commit=False)

    def tenant_uow(self, tenant_id: uuid.UUID, *, actor: str | None = None) -> UnitOfWork:
        """A unit of work as `tenantry_app`, bound to one tenant (RLS enforces the rest)."""
        return UnitOfWork(
            self._app_sessions,
            tenant_id=tenant_id,
            actor=actor,
            clock=self.clock,
            ids=self.ids,
            sealer_factory=self.sealing,
        )

    def unbound_uow(self) -> UnitOfWork:
        """A unit of work as `tenantry_app` with no tenant bound: sees no tenant rows."""
        return UnitOfWork(
            self._app_sessions, tenant_id=None, actor=None, clock=self.clock, ids=self.ids
        )

    def platform_uow(
        self, *, actor: str = "platform", tenant_id: uuid.UUID | None = None
    ) -> UnitOfWork:
        """A unit of work as `tenantry_owner` for platform operations.

        The owner bypasses RLS; `tenant_id` (optional) only names the tenant being worked on,
        for repositories and the audit trail. Queries must still filter by tenant.
        """
        return UnitOfWork(
            self._owner_sessions,
            tenant_id=tenant_id,
            actor=actor,
            clock=self.clock,
            ids=self.ids,
            sealer_factory=self.sealing,
        )

    def dispose(self) -> None:
        self.app_engine.dispose()
        self.owner_engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        """A `with open_database(...) as db:` block disposes of the engines when it ends."""
        self.dispose()


def connect_database(
    settings: Settings | None = None,
    *,
    target: DatabaseTarget | None = None,
    migrate: bool = False,
    clock: Clock | None = None,
    ids: Callable[[], uuid.UUID] | None = None,
    sealing: SealerFactory | None = None,
) -> Database:
    """Reach the configured database (starting the embedded one if needed) and wrap it."""
    settings = settings or get_settings()
    target = target or ensure_database(settings)
    if migrate:
        from tenantry.db.migrate import upgrade

        upgrade(target)
    return Database(
        target=target,
        app_engine=make_engine(target.app_url, settings),
        owner_engine=make_engine(target.owner_url, settings, pool_size=2),
        clock=clock or SystemClock(),
        ids=ids or uuid7,
        sealing=sealing,
    )
