"""Running the Alembic migrations programmatically, as `tenantry_owner`.

Owns the Alembic configuration (script location inside the package, so an installed wheel can
migrate) and the upgrade/downgrade/current/heads operations. Holds one advisory lock while it
migrates, so two processes starting at once do not race. Alembic's version table lives in the
schema `tenantry`, which `tenantry_owner` creates and owns: migrations put nothing in `public`
(on PostgreSQL 15 and later only the database's owner may create objects there).
Every failure is a `TenantryError` with one line of text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from tenantry.db.provider import DatabaseTarget, reason
from tenantry.errors import (
    ConfigurationError,
    DatabaseUnavailableError,
    TenantryError,
    ValidationError,
)

__all__ = [
    "VERSION_SCHEMA",
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "prepare_version_table",
    "read_revision",
    "upgrade",
]

_LOCK_KEY = 0x7E7A_7259  # any constant; names the migration lock in pg_locks

VERSION_SCHEMA = "tenantry"
"""Schema of Alembic's `alembic_version` table (owned by `tenantry_owner`)."""


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have one head, found {len(heads)}")
    return heads[0]


def prepare_version_table(conn: Connection) -> None:
    """Create the version table's schema; adopt a version table an older tenantry left in
    `public`. Commits."""
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {VERSION_SCHEMA}"))
    legacy = conn.execute(
        text(
            "SELECT to_regclass('public.alembic_version') IS NOT NULL"
            f" AND to_regclass('{VERSION_SCHEMA}.alembic_version') IS NULL"
        )
    ).scalar()
    if legacy:
        conn.execute(text(f"ALTER TABLE public.alembic_version SET SCHEMA {VERSION_SCHEMA}"))
    conn.commit()


def read_revision(conn: Connection) -> str | None:
    """The revision the database is at (None before the first migration)."""
    context = MigrationContext.configure(conn, opts={"version_table_schema": VERSION_SCHEMA})
    revision = context.get_current_revision()
    legacy_table = "SELECT to_regclass('public.alembic_version') IS NOT NULL"
    if revision is None and conn.execute(text(legacy_table)).scalar():
        # Migrated by an older tenantry; the next upgrade moves the table.
        legacy = MigrationContext.configure(conn).get_current_revision()
        return legacy
    return revision


def _failure(action: str, exc: BaseException) -> TenantryError:
    """One line saying why `action` failed (SQLSTATE class decides the error type)."""
    orig = (exc.orig or exc) if isinstance(exc, DBAPIError) else exc
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return DatabaseUnavailableError(f"{action} failed: connection lost")
    if isinstance(orig, psycopg.OperationalError) and getattr(orig, "sqlstate", None) is None:
        return DatabaseUnavailableError(f"PostgreSQL cannot be reached: {reason(orig)}")
    sqlstate = getattr(orig, "sqlstate", None) or ""
    message = f"{action} failed: {reason(orig)}"
    if sqlstate == "42501":  # insufficient privilege: the setup, not the data, is at fault
        return ConfigurationError(f"{message} (see docs/configuration.md, External server)")
    return (
        DatabaseUnavailableError(message) if sqlstate.startswith("08") else TenantryError(message)
    )


def _guarded(action: str, work: Callable[[], Any]) -> Any:
    try:
        return work()
    except TenantryError:
        raise
    except CommandError as exc:  # unknown revision and other Alembic complaints
        raise ValidationError(f"{action} failed: {' '.join(str(exc).split())}") from exc
    except (DBAPIError, psycopg.Error) as exc:
        raise _failure(action, exc) from exc
    except SQLAlchemyError as exc:  # raised before any statement reached the server
        raise TenantryError(f"{action} failed: {' '.join(str(exc).split())}") from exc


def _run(target: DatabaseTarget, fn_name: str, revision: str) -> None:
    engine = create_engine(target.owner_url, pool_size=1)

    def migrate() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
            try:
                prepare_version_table(conn)
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                getattr(command, fn_name)(cfg, revision)
                conn.commit()
            finally:
                # A failed migration leaves the transaction aborted; end it so the unlock runs
                # and the migration's own error is the one reported.
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()

    try:
        _guarded(f"db {fn_name}", migrate)
    finally:
        engine.dispose()


def upgrade(target: DatabaseTarget, revision: str = "head") -> None:
    """Apply migrations up to `revision` (idempotent)."""
    _run(target, "upgrade", revision)


def downgrade(target: DatabaseTarget, revision: str = "base") -> None:
    """Revert migrations down to `revision`."""
    _run(target, "downgrade", revision)


def current_revision(target: DatabaseTarget) -> str | None:
    engine = create_engine(target.owner_url, pool_size=1)

    def read() -> str | None:
        with engine.connect() as conn:
            return read_revision(conn)

    try:
        result: str | None = _guarded("reading the revision", read)
        return result
    finally:
        engine.dispose()
