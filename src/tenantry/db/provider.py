"""Where the PostgreSQL server comes from: the embedded `pgserver` one, or an external one.

This module owns server start-up, database creation and the bootstrap of the two fixed roles
(`tenantry_owner`, `tenantry_app`). It returns connection URLs; it builds no engine and applies
no migration (see `engine.py` and `migrate.py`).
"""

from __future__ import annotations

import logging
import os
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from tenantry.config import Settings
from tenantry.errors import ConfigurationError, DatabaseUnavailableError

__all__ = [
    "APP_ROLE",
    "OWNER_ROLE",
    "DatabaseTarget",
    "bootstrap_roles",
    "ensure_database",
    "stop_embedded",
]

OWNER_ROLE = "tenantry_owner"
APP_ROLE = "tenantry_app"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseTarget:
    """Connection URLs of one configured database (SQLAlchemy URLs with the psycopg driver).

    `admin_url` may create roles and databases; `owner_url` connects as (or switches to)
    `tenantry_owner`; `app_url` connects as `tenantry_app`.
    """

    admin_url: URL
    owner_url: URL
    app_url: URL
    embedded: bool

    def libpq(self, url: URL) -> str:
        """The URL as a plain libpq connection string (for psql and psycopg)."""
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    def with_database(self, name: str) -> DatabaseTarget:
        """The same server and roles, pointed at another database (tests use this)."""
        return DatabaseTarget(
            admin_url=self.admin_url,
            owner_url=self.owner_url.set(database=name),
            app_url=self.app_url.set(database=name),
            embedded=self.embedded,
        )


def _as_psycopg(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg")


def _embedded_server(pgdata: Path) -> str:
    """Start (or attach to) the embedded server and return its superuser URI."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        # cleanup_mode=None keeps the server running after this process exits, so the URL
        # printed by `tenantry db url` stays usable; `tenantry db stop` ends it.
        server = pgserver.get_server(  # type: ignore[attr-defined]
            pgdata.resolve(), cleanup_mode=None
        )
    return str(server.get_uri())


def stop_embedded(settings: Settings) -> bool:
    """Stop the embedded server if it runs; True when one was stopped."""
    pid_file = settings.pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on import
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    # pgserver runs the server as the system user `pgserver` when started by root.
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=settings.pgdata.resolve(), user=user)
    except subprocess.CalledProcessError:
        return False
    return True


def bootstrap_roles(admin_libpq: str, database: str, *, app_password: str | None = None) -> None:
    """Create the fixed roles if missing and give them what they need on `database`.

    Idempotent. `tenantry_owner` bypasses RLS (it runs migrations and bulk loads);
    `tenantry_app` never does and owns nothing.
    """
    with psycopg.connect(admin_libpq, autocommit=True) as conn:
        existing = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
        if OWNER_ROLE not in existing:
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS"
                ).format(sql.Identifier(OWNER_ROLE))
            )
        if APP_ROLE not in existing:
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT"
                ).format(sql.Identifier(APP_ROLE))
            )
        conn.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(sql.Identifier(APP_ROLE)))
        if app_password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(app_password)
                )
            )
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
        conn.execute(
            sql.SQL("GRANT CONNECT, CREATE, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(OWNER_ROLE)
            )
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE)
            )
        )


def ensure_database(settings: Settings) -> DatabaseTarget:
    """Make the configured database reachable and return its URLs.

    Embedded: start the server in `$TENANTRY_HOME/pg`, create roles and database.
    External: use `TENANTRY_DATABASE_URL`; create the roles when that user may.
    """
    try:
        if settings.database_url is None:
            return _ensure_embedded(settings)
        return _ensure_external(settings)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(
            f"cannot connect to PostgreSQL: {type(exc).__name__}"
        ) from exc


# Reloadable settings for a laptop-sized embedded server: fewer checkpoints during bulk loads.
_EMBEDDED_SETTINGS = {"max_wal_size": "4GB", "checkpoint_timeout": "15min"}


def _tune_embedded(admin_libpq: str) -> None:
    with psycopg.connect(admin_libpq, autocommit=True) as conn:
        changed = False
        for name, value in _EMBEDDED_SETTINGS.items():
            current = conn.execute(
                "SELECT setting || coalesce(unit, '') FROM pg_settings WHERE name = %s", (name,)
            ).fetchone()
            wanted = {"4GB": "4096MB", "15min": "900s"}.get(value, value)
            if current is None or current[0] != wanted:
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(
                        sql.Identifier(name), sql.Literal(value)
                    )
                )
                changed = True
        if changed:
            conn.execute("SELECT pg_reload_conf()")


def _ensure_embedded(settings: Settings) -> DatabaseTarget:
    uri = make_url(_embedded_server(settings.pgdata))
    admin = uri.set(username="postgres", password=None)
    _tune_embedded(admin.render_as_string(hide_password=False))
    bootstrap_roles(admin.render_as_string(hide_password=False), settings.database_name)
    base = admin.set(database=settings.database_name)
    return DatabaseTarget(
        admin_url=_as_psycopg(admin),
        owner_url=_as_psycopg(base.set(username=OWNER_ROLE)),
        app_url=_as_psycopg(base.set(username=APP_ROLE)),
        embedded=True,
    )


def _ensure_external(settings: Settings) -> DatabaseTarget:
    assert settings.database_url is not None
    try:
        admin = make_url(settings.database_url.get_secret_value())
    except Exception as exc:
        raise ConfigurationError("TENANTRY_DATABASE_URL is not a valid database URL") from exc
    if not admin.database:
        raise ConfigurationError("TENANTRY_DATABASE_URL must name a database")
    app_password = settings.app_password.get_secret_value() if settings.app_password else None
    admin_libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        bootstrap_roles(admin_libpq, admin.database, app_password=app_password)
    except psycopg.errors.InsufficientPrivilege:
        log.info("no privilege to create roles; expecting %s and %s to exist", OWNER_ROLE, APP_ROLE)
    owner = admin
    if admin.username != OWNER_ROLE:
        # Connect as the admin, act as the owner: objects created are owned by tenantry_owner.
        owner = admin.update_query_dict({"options": f"-c role={OWNER_ROLE}"})
    if settings.app_database_url is not None:
        app = make_url(settings.app_database_url.get_secret_value())
    else:
        app = admin.set(username=APP_ROLE, password=app_password)
    return DatabaseTarget(
        admin_url=_as_psycopg(admin),
        owner_url=_as_psycopg(owner),
        app_url=_as_psycopg(app),
        embedded=False,
    )
