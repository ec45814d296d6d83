"""A PostgreSQL server for legacy *source* databases, with logical replication switched on.

The sources a migration reads from (matbakh-, CarBot- and MyHibachi-shaped databases) live on a
second server, started from the binaries of the `pgserver` wheel (always installed, PostgreSQL
16; no contrib) by `tests/pgcluster.py`: a temporary folder, 127.0.0.1 at a free port, password
authentication, as an unprivileged OS user when run as root; plus `wal_level=logical` and room
for replication slots and WAL senders. Each source database is owned by `legacy_admin`, a role
like a hosted database's admin (Supabase's `postgres`): it may log in, create databases and
roles, and replicate, but it is no superuser.

Usable without pytest (bench code imports it): `start_legacy_server()` / `server.stop()`.
The pytest fixture `legacy_server` (session) is in `tests/conftest.py`.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from urllib.parse import quote

import pgserver
import psycopg
from psycopg import sql

from tests.pgcluster import PgCluster, start_cluster

__all__ = [
    "LEGACY_ADMIN",
    "LEGACY_SETTINGS",
    "LegacyServer",
    "new_source_database",
    "pgserver_bindir",
    "start_legacy_server",
]

LEGACY_ADMIN = "legacy_admin"
LEGACY_SETTINGS = {
    "wal_level": "logical",
    "max_replication_slots": "20",
    "max_wal_senders": "20",
    "max_connections": "100",
    # Commits flushed at once (cheap, fsync is off), as on a production source: decoding
    # sees WAL only up to the flushed position.
    "synchronous_commit": "on",
}


def pgserver_bindir() -> Path:
    """The server binaries shipped in the pgserver wheel."""
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


class LegacyServer:
    """A running legacy server; `stop()` removes it with its data."""

    def __init__(self, cluster: PgCluster, admin_password: str) -> None:
        self.cluster = cluster
        self.admin_password = admin_password

    @property
    def port(self) -> int:
        return self.cluster.port

    @property
    def bindir(self) -> Path:
        return self.cluster.bindir

    def url(self, database: str, role: str = LEGACY_ADMIN, password: str | None = None) -> str:
        """A `postgresql://` URL of a database (as the source admin unless told otherwise)."""
        secret = self.admin_password if password is None else password
        return f"postgresql://{role}:{quote(secret, safe='')}@127.0.0.1:{self.port}/{database}"

    def superuser_url(self, database: str = "postgres") -> str:
        return self.cluster.url("postgres", self.cluster.superuser_password, database)

    def stop(self) -> None:
        self.cluster.stop()


def start_legacy_server(bindir: Path | None = None) -> LegacyServer:
    """Start a server for legacy sources (pgserver's binaries unless `bindir` is given)."""
    cluster = start_cluster(
        bindir or pgserver_bindir(),
        settings=LEGACY_SETTINGS,
        provision=False,
        prefix="tenantry-legacy-",
    )
    password = "legacy pw/" + secrets.token_hex(8)  # characters a URL must escape
    try:
        with psycopg.connect(cluster.superuser_url, autocommit=True) as su:
            su.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN CREATEDB CREATEROLE REPLICATION NOSUPERUSER PASSWORD {}"
                ).format(sql.Identifier(LEGACY_ADMIN), sql.Literal(password))
            )
    except BaseException:
        cluster.stop()
        raise
    return LegacyServer(cluster, password)


def new_source_database(server: LegacyServer, name: str) -> str:
    """A fresh, empty database owned by the source admin; its URL as that admin.

    An existing database of that name is dropped first (with its replication slots).
    """
    with psycopg.connect(server.superuser_url(), autocommit=True) as su:
        _drop_slots(su, name)
        su.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        # Owned by the admin, who thereby also owns `public` (pg_database_owner, PostgreSQL 15).
        su.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(LEGACY_ADMIN)
            )
        )
    return server.url(name)


def _drop_slots(su: psycopg.Connection[tuple[object, ...]], database: str) -> None:
    """Drop the database's replication slots (a slot keeps DROP DATABASE from working)."""
    deadline = time.monotonic() + 10
    while True:
        rows = su.execute(
            "SELECT slot_name, pg_terminate_backend(active_pid) FROM pg_replication_slots "
            "WHERE database = %s",
            (database,),
        ).fetchall()
        try:
            for slot, _ in rows:
                su.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            return
        except psycopg.errors.ObjectInUse:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the terminated reader has not let go of the slot yet
