"""A second PostgreSQL server, set up the way docs/configuration.md tells a user to set up theirs.

Started from the distribution's server binaries (Debian: /usr/lib/postgresql/N/bin; or the
folder in `TENANTRY_TEST_PG_BIN`) in a temporary folder, listening on 127.0.0.1 at a free port
with password (scram-sha-256) authentication. A superuser creates only what PostgreSQL reserves
to superusers: `tenantry_owner` with BYPASSRLS (on PostgreSQL 15 no other role may) and the admin
role `tenantry_admin` (LOGIN CREATEDB CREATEROLE, a member of `pg_signal_backend` as cloud
admins are). The admin, not a superuser, then creates the database `tenantry`, which it owns;
tenantry does the rest through `TENANTRY_DATABASE_URL`.

As root the server runs as an unprivileged OS user (PostgreSQL refuses root), as pgserver does.
`find_bindir()` returns None when no binaries are installed; callers skip then.
`start_cluster` also serves other test servers (`tests/legacy/server.py`): any binaries folder,
extra server settings, and the provisioning step left out.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

__all__ = ["ADMIN_ROLE", "PgCluster", "find_bindir", "skip_reason", "start_cluster"]

ADMIN_ROLE = "tenantry_admin"
DATABASE = "tenantry"
_TOOLS = ("initdb", "pg_ctl", "postgres")


def find_bindir() -> Path | None:
    """The newest server binaries folder (>= 15), or None."""
    given = os.environ.get("TENANTRY_TEST_PG_BIN")
    candidates = [given] if given else glob.glob("/usr/lib/postgresql/*/bin")

    def version(path: str) -> int:
        name = Path(path).parent.name
        return int(name) if name.isdigit() else 0

    for path in sorted(candidates, key=version, reverse=True):
        if all((Path(path) / tool).is_file() for tool in _TOOLS) and (given or version(path) >= 15):
            return Path(path)
    return None


def skip_reason() -> str:
    return (
        "no PostgreSQL >= 15 server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin; "
        "install them (Debian/Ubuntu: apt-get install postgresql-15) or set "
        "TENANTRY_TEST_PG_BIN to their folder to run the external-server tests"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _os_user() -> str | None:
    """The unprivileged OS user the server runs as when we are root (None: as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no unprivileged user (postgres, nobody) exists")


@dataclass
class PgCluster:
    """A running server; URLs use TCP and passwords."""

    bindir: Path
    root: Path
    port: int
    superuser_password: str
    admin_password: str
    user: str | None
    settings: Mapping[str, str] = field(default_factory=dict)

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, role: str, password: str, database: str = DATABASE) -> str:
        # A URL must percent-encode the password (the admin's has characters that need it).
        return f"postgresql://{role}:{quote(password, safe='')}@127.0.0.1:{self.port}/{database}"

    @property
    def admin_url(self) -> str:
        """What the user puts in TENANTRY_DATABASE_URL."""
        return self.url(ADMIN_ROLE, self.admin_password)

    @property
    def superuser_url(self) -> str:
        return self.url("postgres", self.superuser_password, "postgres")

    def _run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, user=self.user, check=True, capture_output=True, text=True, timeout=120, **kwargs
        )

    def stop(self) -> None:
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        except subprocess.CalledProcessError:
            pass
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _init(cluster: PgCluster) -> None:
    pwfile = cluster.root / "pw"
    pwfile.write_text(cluster.superuser_password + "\n")
    cluster.socket_dir.mkdir()
    if cluster.user is not None:
        entry = pwd.getpwnam(cluster.user)
        for path in (cluster.root, pwfile, cluster.socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    cluster._run(
        str(cluster.bindir / "initdb"),
        "-D",
        str(cluster.root / "data"),
        "-U",
        "postgres",
        "--auth=scram-sha-256",
        f"--pwfile={pwfile}",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
    )
    pwfile.unlink()


def _start(cluster: PgCluster) -> None:
    # Durability off: a throwaway test server. Everything else stays at the defaults.
    options = (
        f"-c listen_addresses=127.0.0.1 -p {cluster.port} "
        f"-c unix_socket_directories={cluster.socket_dir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    for name, value in cluster.settings.items():
        options += f" -c {name}={value}"
    cluster._run(
        str(cluster.bindir / "pg_ctl"),
        "-D",
        str(cluster.root / "data"),
        "-o",
        options,
        "-l",
        str(cluster.root / "server.log"),
        "-w",
        "-t",
        "60",
        "start",
    )


def _provision(cluster: PgCluster) -> None:
    with psycopg.connect(cluster.superuser_url, autocommit=True) as su:
        su.execute("CREATE ROLE tenantry_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS")
        su.execute(
            sql.SQL("CREATE ROLE {} LOGIN CREATEDB CREATEROLE PASSWORD {}").format(
                sql.Identifier(ADMIN_ROLE), sql.Literal(cluster.admin_password)
            )
        )
        su.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(ADMIN_ROLE)))
    with psycopg.connect(cluster.url(ADMIN_ROLE, cluster.admin_password, "postgres")) as admin:
        admin.autocommit = True
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))


def start_cluster(
    bindir: Path,
    *,
    settings: Mapping[str, str] | None = None,
    provision: bool = True,
    prefix: str = "tenantry-extpg-",
) -> PgCluster:
    """Initialise, start and (unless told not to) provision a server; the caller stops it.

    `settings` are extra server settings (`-c name=value`, values without spaces).
    """
    user = _os_user()
    last: Exception | None = None
    for _ in range(3):  # the free port can be taken between the probe and the start
        # As root, under /tmp: the server's OS user must be able to reach the folder, and
        # $TMPDIR may be private to root. mkdtemp makes a fresh folder of mode 0700.
        shared = "/tmp" if user else None  # noqa: S108
        root = Path(tempfile.mkdtemp(prefix=prefix, dir=shared))
        cluster = PgCluster(
            bindir=bindir,
            root=root,
            port=_free_port(),
            superuser_password=secrets.token_urlsafe(16),
            admin_password="a+dm in/" + secrets.token_hex(8),  # characters URLs must escape
            user=user,
            settings=dict(settings or {}),
        )
        try:
            _init(cluster)
            _start(cluster)
            if provision:
                _provision(cluster)
            return cluster
        except (subprocess.CalledProcessError, psycopg.Error) as exc:
            log = root / "server.log"
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            last = RuntimeError(f"test server failed: {exc}\n{detail}")
            cluster.stop()
    assert last is not None
    raise last
