"""Shared fixtures: one real PostgreSQL per test session, one migrated database in it.

The embedded server (pgserver) starts in a temporary folder unless `TENANTRY_DATABASE_URL`
names an external server, whose user must be allowed to create databases, or
`TENANTRY_TEST_SERVER=external` asks for a second server started from the distribution's
PostgreSQL binaries and reached as a user reaches theirs (see `tests/pgcluster.py`: TCP,
passwords, an admin that is neither superuser nor the database's owner; it creates the test
databases as a member of `tenantry_owner`, and drops them WITH (FORCE) as a member of
`pg_signal_backend`). Tests isolate
themselves by creating their own tenants, so they can share one database and commit for real.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql
from pydantic import SecretStr

from tenantry.clock import FixedClock
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.db.provider import OWNER_ROLE, DatabaseTarget, ensure_database, stop_embedded
from tenantry.models import Location
from tenantry.models.enums import LegalForm, MembershipRole, Vertical
from tenantry.privacy.master import LocalMasterKey
from tenantry.services.platform import create_tenant
from tenantry.services.principal import Principal
from tests.legacy.server import LegacyServer, start_legacy_server
from tests.pgcluster import PgCluster, find_bindir, skip_reason, start_cluster

# The master key of every test database (tests that build key rings use the same one).
TEST_MASTER = LocalMasterKey(bytes(range(32)), "test")


def pytest_configure(config: pytest.Config) -> None:
    # Servers the tests start (`tenantry serve` in a subprocess too) run no chat upkeep of
    # their own: its 90-day drop at the real time would take other tests' rows. Tests drive
    # the upkeep themselves, with the clock they need.
    os.environ.setdefault("TENANTRY_CHAT_UPKEEP_HOURS", "0")
    # Nor the outcome projection: tests that need it run it themselves.
    os.environ.setdefault("TENANTRY_OUTCOME_POLL_SECONDS", "0")
    # Nor background lead rescoring: tests run the scoring projection when they mean to.
    os.environ.setdefault("TENANTRY_LEAD_RESCORE_SECONDS", "0")
    # Nor the daily rescoring of every tenant's open leads (it would rescore other tests' leads).
    os.environ.setdefault("TENANTRY_LEAD_RESCORE_DAILY", "0")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A second PostgreSQL server set up as docs/configuration.md says; skips without binaries."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(skip_reason())
    cluster = start_cluster(bindir)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def legacy_server() -> Iterator[LegacyServer]:
    """A server for legacy source databases, with wal_level=logical (`tests/legacy/server.py`)."""
    server = start_legacy_server()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def settings(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    if os.environ.get("TENANTRY_DATABASE_URL"):
        yield Settings()
        return
    home = tmp_path_factory.mktemp("home")
    if os.environ.get("TENANTRY_TEST_SERVER") == "external":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        yield Settings(
            home=home,
            database_url=SecretStr(cluster.admin_url),
            app_password=SecretStr("app-" + cluster.admin_password),
        )
        return
    s = Settings(home=home)
    yield s
    stop_embedded(s)


@pytest.fixture(scope="session")
def server(settings: Settings) -> DatabaseTarget:
    return ensure_database(settings)


def create_database(server: DatabaseTarget, name: str) -> DatabaseTarget:
    admin = server.libpq(server.admin_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(OWNER_ROLE)
            )
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO tenantry_app").format(sql.Identifier(name))
        )
    return server.with_database(name)


def drop_database(server: DatabaseTarget, name: str) -> None:
    with psycopg.connect(server.libpq(server.admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def target(server: DatabaseTarget) -> Iterator[DatabaseTarget]:
    name = f"tenantry_test_{os.getpid()}"
    t = create_database(server, name)
    upgrade(t)
    yield t
    drop_database(server, name)


@pytest.fixture(scope="session")
def db(target: DatabaseTarget, settings: Settings) -> Iterator[Database]:
    database = open_database(settings, target=target, master=TEST_MASTER)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FixedClock:
    from datetime import UTC, datetime

    return FixedClock(datetime(2026, 3, 14, 10, 30, tzinfo=UTC))


@dataclass
class TenantFixture:
    id: uuid.UUID
    slug: str
    locations: list[uuid.UUID]

    def principal(
        self, role: MembershipRole = MembershipRole.OWNER, locations: list[uuid.UUID] | None = None
    ) -> Principal:
        scope = frozenset(locations) if locations is not None else None
        return Principal(tenant_id=self.id, role=role, location_ids=scope)


def make_tenant(
    db: Database, *, vertical: Vertical = Vertical.RESTAURANT, locations: int = 2
) -> TenantFixture:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug=slug,
            legal_name=f"Test {slug} GmbH",
            vertical=vertical,
            legal_form=LegalForm.GMBH,
        )
        ids = []
        for i in range(locations):
            loc = Location(
                tenant_id=tenant.id,
                id=uow.ids(),
                name=f"Location {i}",
                slug=f"loc-{i}",
                vertical=vertical,
                city="Berlin",
            )
            uow.session.add(loc)
            ids.append(loc.id)
        uow.commit()
        return TenantFixture(id=tenant.id, slug=slug, locations=ids)


@pytest.fixture
def tenant(db: Database) -> TenantFixture:
    return make_tenant(db)


@pytest.fixture
def other_tenant(db: Database) -> TenantFixture:
    return make_tenant(db)


@pytest.fixture
def clocked_db(db: Database, clock: FixedClock) -> Database:
    """The session's database with a clock the test controls."""
    return Database(
        target=db.target,
        app_engine=db.app_engine,
        owner_engine=db.owner_engine,
        clock=clock,
        sealing=db.sealing,
    )
