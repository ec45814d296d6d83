"""Where the PostgreSQL server comes from: the embedded `pgserver` one, or an external one.

This module owns server start-up, database creation and the bootstrap of the two fixed roles
(`tenantry_owner`, `tenantry_app`). It returns connection URLs; it builds no engine and applies
no migration (see `engine.py` and `migrate.py`).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import URL, make_url

from tenantry.config import Settings
from tenantry.errors import ConfigurationError, DatabaseUnavailableError

__all__ = [
    "APP_ROLE",
    "OWNER_ROLE",
    "DatabaseTarget",
    "bootstrap_roles",
    "conninfo",
    "ensure_database",
    "reason",
    "stop_embedded",
    "uri",
]

OWNER_ROLE = "tenantry_owner"
APP_ROLE = "tenantry_app"


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
        """The URL as a libpq connection string (for psql and psycopg); see `conninfo`."""
        return conninfo(url)

    def with_database(self, name: str) -> DatabaseTarget:
        """The same server and roles, pointed at another database (tests use this)."""
        return DatabaseTarget(
            admin_url=self.admin_url,
            owner_url=self.owner_url.set(database=name),
            app_url=self.app_url.set(database=name),
            embedded=self.embedded,
        )


def conninfo(url: URL) -> str:
    """A libpq `key=value` connection string with the URL's parts and query parameters.

    Never the URL rendered as text: SQLAlchemy writes a space in a query value as `+`, which
    libpq does not decode (`options=-c role=x` reached the server as `-c+role=x`). Each part is
    a separate keyword here, quoted by psycopg, as SQLAlchemy passes them to `psycopg.connect`.
    """
    params: dict[str, str | int | None] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database,
    }
    for key, value in url.query.items():
        # A repeated key (several hosts) is libpq's comma-separated list.
        params[key] = value if isinstance(value, str) else ",".join(value)
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def uri(url: URL) -> str:
    """A `postgresql://` URI with every part percent-encoded, as libpq decodes it.

    What `tenantry db url` prints: psql, psycopg and SQLAlchemy (after swapping the scheme)
    all read it. Spaces in `options` become `%20`, never SQLAlchemy's `+`; a Unix-socket host
    moves into the `host` query parameter.
    """
    user = quote(url.username or "", safe="")
    if url.password is not None:
        user += ":" + quote(str(url.password), safe="")
    query = {k: v if isinstance(v, str) else ",".join(v) for k, v in url.query.items()}
    host = url.host or ""
    if host.startswith("/"):
        query["host"], host = host, ""
    netloc = f"{user}@" if user else ""
    netloc += f"[{host}]" if ":" in host else host
    if url.port:
        netloc += f":{url.port}"
    text = f"postgresql://{netloc}/{quote(url.database or '', safe='')}"
    if query:
        text += "?" + urlencode(query, quote_via=quote, safe="")
    return text


def _as_psycopg(url: URL) -> URL:
    return url.set(drivername="postgresql+psycopg")


def _running_server(pgdata: Path) -> str | None:
    """The URI of a server that already runs and is ready in `pgdata`, else None.

    `get_server` would first wait for pgserver's machine-wide lock, which another process
    holds while it runs initdb. `pgserver.utils.PostmasterInfo` is not part of pgserver's
    documented API: where it is missing or changed, this returns None and `get_server` runs.
    """
    try:
        from pgserver.utils import PostmasterInfo

        running = PostmasterInfo.read_from_pgdata(pgdata)
        if running is not None and running.is_running() and running.status == "ready":
            return str(running.get_uri())
    except (ImportError, AttributeError, TypeError, ValueError, OSError):
        return None
    return None


def _embedded_server(pgdata: Path) -> str:
    """Start (or attach to) the embedded server and return its superuser URI."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        running = _running_server(pgdata.resolve())
        if running is not None:
            return running
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


# The roles' attributes; the role names are constants, so these are whole statements.
_CREATE_ROLE: dict[str, LiteralString] = {
    OWNER_ROLE: "CREATE ROLE tenantry_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS",
    APP_ROLE: (
        "CREATE ROLE tenantry_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOINHERIT"
    ),
}


def _denied(what: str, fix: str) -> ConfigurationError:
    return ConfigurationError(f"{what}; have a superuser run: {fix}")


def bootstrap_roles(admin_libpq: str, database: str, *, app_password: str | None = None) -> None:
    """Create the fixed roles if missing and give them what they need on `database`.

    Idempotent, and it changes only what is missing, so an admin who is not a superuser (nor the
    owner of anything) can run it once a DBA did the parts it may not do. `tenantry_owner`
    bypasses RLS (it runs migrations and bulk loads); `tenantry_app` never does and owns
    nothing. The connecting user becomes a member of `tenantry_owner`, so it can act as it.
    A part the admin may not do is a `ConfigurationError` naming the SQL a superuser must run.
    """
    with psycopg.connect(admin_libpq, autocommit=True) as conn:
        admin, is_super = conn.execute(
            "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() or ("", False)
        roles = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT rolname, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = ANY(%s)",
                ([OWNER_ROLE, APP_ROLE],),
            ).fetchall()
        }
        for role in (OWNER_ROLE, APP_ROLE):
            if role in roles:
                continue
            try:
                conn.execute(_CREATE_ROLE[role])
            except psycopg.errors.InsufficientPrivilege:
                raise _denied(
                    f"role {role} does not exist and {admin} may not create it"
                    + (" (BYPASSRLS needs a superuser)" if role == OWNER_ROLE else ""),
                    _CREATE_ROLE[role],
                ) from None
            roles[role] = (role == OWNER_ROLE, False)
        owner_bypass, _ = roles[OWNER_ROLE]
        if not owner_bypass:
            raise _denied(
                f"role {OWNER_ROLE} must have BYPASSRLS", f"ALTER ROLE {OWNER_ROLE} BYPASSRLS"
            )
        app_bypass, app_super = roles[APP_ROLE]
        if app_bypass or app_super:
            # The application role must never see past row-level security.
            try:
                conn.execute("ALTER ROLE tenantry_app NOSUPERUSER NOBYPASSRLS")
            except psycopg.errors.InsufficientPrivilege:
                raise _denied(
                    f"role {APP_ROLE} must not bypass row-level security",
                    f"ALTER ROLE {APP_ROLE} NOSUPERUSER NOBYPASSRLS",
                ) from None
        if not is_super and admin != OWNER_ROLE:
            _join_owner(conn, admin)
        if app_password:
            try:
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(APP_ROLE), sql.Literal(app_password)
                    )
                )
            except psycopg.errors.InsufficientPrivilege:
                raise _denied(
                    f"{admin} may not set the password of {APP_ROLE} "
                    "(or set TENANTRY_APP_DATABASE_URL instead of TENANTRY_APP_PASSWORD)",
                    f"ALTER ROLE {APP_ROLE} PASSWORD '...'",
                ) from None
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
        _grant_database(conn, database, OWNER_ROLE, "CONNECT, CREATE, TEMPORARY")
        _grant_database(conn, database, APP_ROLE, "CONNECT")


def _join_owner(conn: psycopg.Connection[Any], admin: str) -> None:
    """Make `admin` a member of `tenantry_owner` that may `SET ROLE` to it."""
    # 'MEMBER' is what SET ROLE needs on PostgreSQL 15; 16 split it out as 'SET'.
    privilege = "SET" if conn.info.server_version >= 160000 else "MEMBER"
    row = conn.execute(
        "SELECT pg_has_role(current_user, %s, %s)", (OWNER_ROLE, privilege)
    ).fetchone()
    if row and row[0]:
        return
    try:
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(OWNER_ROLE), sql.Identifier(admin))
        )
    except psycopg.errors.InsufficientPrivilege:
        raise _denied(
            f"{admin} is not a member of {OWNER_ROLE} and may not become one",
            f"GRANT {OWNER_ROLE} TO {admin}",
        ) from None


def _grant_database(
    conn: psycopg.Connection[Any], database: str, role: str, privileges: LiteralString
) -> None:
    wanted = [p.strip() for p in privileges.split(",")]
    have = conn.execute(
        "SELECT bool_and(has_database_privilege(%s, %s, p)) FROM unnest(%s::text[]) AS p",
        (role, database, wanted),
    ).fetchone()
    if have and have[0]:
        return  # already granted: an admin who does not own the database need not re-grant
    statement = sql.SQL("GRANT {} ON DATABASE {} TO {}").format(
        sql.SQL(privileges), sql.Identifier(database), sql.Identifier(role)
    )
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        raise _denied(
            f"{role} lacks {privileges} on database {database} and the admin may not grant it",
            statement.as_string(conn),
        ) from None


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
        raise DatabaseUnavailableError(f"PostgreSQL cannot be reached: {reason(exc)}") from exc
    except psycopg.Error as exc:
        raise DatabaseUnavailableError(f"cannot prepare the database: {reason(exc)}") from exc


def reason(exc: BaseException) -> str:
    """libpq's or the server's message about a connection, on one line.

    These messages name hosts, ports, roles and databases, never passwords or row values.
    """
    diag = getattr(exc, "diag", None)
    text = getattr(diag, "message_primary", None) or str(exc) or type(exc).__name__
    text = " ".join(text.split())
    for noise in ("connection failed: ", "connection is bad: "):  # psycopg's own wrapping
        text = text.removeprefix(noise)
    # A conninfo string or URL quoted back (an invalid option) may hold a password.
    text = _SECRETS[0].sub(r"\1[hidden]", text)
    return _SECRETS[1].sub(r"\1[hidden]\2", text)


# A password in a conninfo string or a URL; never printed.
_SECRETS = (
    re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE),
    re.compile(r"(://[^:/@\s]*:)[^@\s]*(@)"),
)


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
    bootstrap_roles(conninfo(admin), admin.database, app_password=app_password)
    owner = admin
    if admin.username != OWNER_ROLE:
        # Connect as the admin, act as the owner: objects created are owned by tenantry_owner.
        # The option is a query parameter of the URL object, which SQLAlchemy and `conninfo`
        # pass to libpq as the `options` keyword (never as URL text).
        given = admin.query.get("options")
        given = given if isinstance(given, str) else " ".join(given or ())
        owner = admin.update_query_dict({"options": f"{given} -c role={OWNER_ROLE}".strip()})
    if settings.app_database_url is not None:
        app = make_url(settings.app_database_url.get_secret_value())
    else:
        # Not `set()`: it ignores None, and the admin's password would be tried for the app.
        app = admin._replace(username=APP_ROLE, password=app_password)
    return DatabaseTarget(
        admin_url=_as_psycopg(admin),
        owner_url=_as_psycopg(owner),
        app_url=_as_psycopg(app),
        embedded=False,
    )
