"""Fixtures of the `tenantry migrate` tests: legacy sources on the logical-replication server,
a private tenantry database per test module, and the bookkeeping queries the tests assert on.

Owns: making and dropping source databases, and reading `migrate.*` and canonical tables as
`tenantry_owner`. Must not: print any row it reads (the fixtures' data is fake, but tests never
log personal data).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget, conninfo
from tenantry.migrate.load import LoadReport, load
from tenantry.migrate.mapping import Entity, Mapping, load_mapping
from tests.legacy.carbot import data as carbot
from tests.legacy.matbakh import data as matbakh
from tests.legacy.myhibachi import data as myhibachi
from tests.legacy.server import LegacyServer, new_source_database
from tests.private_db import private_database

FIXTURES: dict[str, Any] = {"matbakh": matbakh, "carbot": carbot, "myhibachi": myhibachi}


def make_source(server: LegacyServer, fixture: str, name: str, scale: float, seed: int = 7) -> str:
    """A fresh source database of one fixture schema, filled; its URL (as the source admin)."""
    url = new_source_database(server, f"{name}_{os.getpid()}")
    module = FIXTURES[fixture]
    module.apply_schema(url)
    module.populate(url, scale=scale, seed=seed)
    return url


def drop_source(server: LegacyServer, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    from tests.legacy.server import _drop_slots

    with psycopg.connect(server.superuser_url(), autocommit=True) as su:
        _drop_slots(su, name)
        su.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(scope="package")
def mdb(server: DatabaseTarget, settings: Settings) -> Iterator[Database]:
    """A private tenantry database for the migrate tests (migrations write many tenants);
    every test moves its own sources under its own run names, so runs do not meet."""
    with private_database(server, settings, "migrate") as db:
        yield db


def superuser(db: Database) -> psycopg.Connection[tuple[Any, ...]]:
    """A superuser connection to the target with triggers off (unaudited, unguarded edits)."""
    target = db.target
    url = target.admin_url.set(database=target.owner_url.database)
    conn = psycopg.connect(target.libpq(url), autocommit=True)
    conn.execute("SET session_replication_role = replica")
    return conn


def run_tenants(db: Database, run: str) -> list[Any]:
    with owner(db) as conn:
        rows = conn.execute(
            "SELECT DISTINCT canonical_tenant FROM migrate.id_map"
            " WHERE run = %s AND canonical_tenant IS NOT NULL",
            (run,),
        ).fetchall()
    return [r[0] for r in rows]


def owner(db: Database, *, autocommit: bool = True) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(conninfo(db.owner_engine.url), autocommit=autocommit)


def audit_intact(db: Database, settings: Settings, tenant: Any) -> tuple[bool, str]:
    """`tenantry audit verify` of one tenant (the library call the command makes)."""
    from tenantry.audit.verify import verify_trail

    with owner(db, autocommit=False) as conn:
        report = verify_trail(conn, settings, tenant=tenant)
        return report.intact, "; ".join(b.describe() for b in report.breaks)


def one(conn: psycopg.Connection[tuple[Any, ...]], query: str, *args: Any) -> Any:
    row = conn.execute(query, args).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def outcomes(db: Database, run: str) -> dict[str, dict[str, int]]:
    """Id-map outcomes per entity, counted in the target (not taken from a report)."""
    out: dict[str, dict[str, int]] = {}
    with owner(db) as conn:
        for entity, outcome, n in conn.execute(
            "SELECT entity, outcome, count(*) FROM migrate.id_map WHERE run = %s"
            " GROUP BY entity, outcome",
            (run,),
        ):
            out.setdefault(entity, {})[outcome] = int(n)
    return out


def source_rows(url: str, entity: Entity) -> int:
    """The rows of an entity's source table this entity must account for: all of them, minus
    those a `where_outcome = "skip"` filter leaves to another entity."""
    query = f'SELECT count(*) FROM "{entity.schema}"."{entity.table}" t'
    if entity.where and entity.where_outcome == "skip":
        query += f" WHERE ({entity.where})"
    with psycopg.connect(url) as conn:
        return int(one(conn, query))


def source_tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            " WHERE table_type = 'BASE TABLE'"
        ).fetchall()
    return {r[0] for r in rows}


def accounted(db: Database, url: str, mapping: Mapping, run: str) -> dict[str, tuple[int, int]]:
    """Per entity present in the source: (source rows to account for, id-map rows)."""
    got = outcomes(db, run)
    present = source_tables(url)
    return {
        e.name: (source_rows(url, e), sum(got.get(e.name, {}).values()))
        for e in mapping.entities
        if e.source in present
    }


def duplicate_keys(db: Database, run: str) -> int:
    with owner(db) as conn:
        return int(
            one(
                conn,
                "SELECT count(*) FROM (SELECT entity, source_key FROM migrate.id_map"
                " WHERE run = %s GROUP BY 1, 2 HAVING count(*) > 1) d",
                run,
            )
        )


@dataclass
class Sources:
    server: LegacyServer
    made: list[str]

    def __call__(self, fixture: str, name: str, scale: float, seed: int = 7) -> str:
        url = make_source(self.server, fixture, name, scale, seed)
        self.made.append(url)
        return url


@pytest.fixture(scope="package")
def sources(legacy_server: LegacyServer) -> Iterator[Callable[..., str]]:
    """Makes source databases; drops them (and their slots) at the end."""
    made = Sources(legacy_server, [])
    yield made
    for url in made.made:
        drop_source(legacy_server, url)


SCALES = {"matbakh": 0.05, "myhibachi": 0.05, "carbot": 0.003}


@dataclass
class Loaded:
    fixture: str
    url: str
    mapping: Mapping
    run: str
    report: LoadReport
    keys: tuple[str, ...]


@pytest.fixture(scope="package")
def builtin_runs(mdb: Database, sources: Callable[..., str]) -> Callable[[str], Loaded]:
    """The load of each built-in mapping on its fixture, made once and shared by the tests
    that only read it (`load_<fixture>` runs)."""
    made: dict[str, Loaded] = {}

    def get(fixture: str) -> Loaded:
        if fixture not in made:
            run = f"load_{fixture}"
            url = sources(fixture, run, SCALES[fixture])
            mapping = load_mapping(fixture)
            keys = myhibachi.FERNET_KEYS if fixture == "myhibachi" else ()
            report = load(mdb, url, mapping, run=run, fernet_keys=keys)
            made[fixture] = Loaded(fixture, url, mapping, run, report, tuple(keys))
        return made[fixture]

    return get
