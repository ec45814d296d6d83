"""Running the Alembic migrations programmatically, as `tenantry_owner`.

Owns the Alembic configuration (script location inside the package, so an installed wheel can
migrate) and the upgrade/downgrade/current/heads operations. Holds one advisory lock while it
migrates, so two processes starting at once do not race.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tenantry.db.provider import DatabaseTarget

__all__ = ["alembic_config", "current_revision", "downgrade", "head_revision", "upgrade"]

_LOCK_KEY = 0x7E7A_7259  # any constant; names the migration lock in pg_locks


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have one head, found {len(heads)}")
    return heads[0]


def _run(target: DatabaseTarget, fn_name: str, revision: str) -> None:
    engine = create_engine(target.owner_url, pool_size=1)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _LOCK_KEY})
            conn.commit()
            try:
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                getattr(command, fn_name)(cfg, revision)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
                conn.commit()
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
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
