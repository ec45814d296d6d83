"""Migrations: one linear chain, up and down and up again, and no drift from the models."""

from __future__ import annotations

import os

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from tenantry.db.migrate import (
    VERSION_SCHEMA,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade,
)
from tenantry.db.provider import DatabaseTarget
from tenantry.errors import ValidationError
from tenantry.models import SCHEMAS, Base
from tenantry.models.audit import is_partition
from tests.conftest import create_database, drop_database


@pytest.fixture
def empty_db(server: DatabaseTarget):
    name = f"tenantry_migrations_{os.getpid()}"
    target = create_database(server, name)
    yield target
    drop_database(server, name)


def _include_name(name: str | None, type_: str, parents: dict[str, str | None]) -> bool:
    if type_ == "schema":
        return name in SCHEMAS
    if type_ == "table":
        return not is_partition(parents.get("schema_name"), name)
    return True


def _diff(target: DatabaseTarget) -> list[object]:
    engine = create_engine(target.owner_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "include_schemas": True,
                    "include_name": _include_name,
                    "compare_type": True,
                },
            )
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def _tables(target: DatabaseTarget) -> set[str]:
    engine = create_engine(target.owner_url)
    try:
        insp = inspect(engine)
        return {
            f"{s}.{t}"
            for s in SCHEMAS
            if s in insp.get_schema_names()
            for t in insp.get_table_names(schema=s)
            if not is_partition(s, t)
        }
    finally:
        engine.dispose()


def test_migration_chain_has_exactly_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert all(len(r._all_down_revisions) <= 1 for r in revisions), (
        "merge revisions are not allowed"
    )


def test_upgrade_downgrade_upgrade_round_trip(empty_db: DatabaseTarget) -> None:
    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision()
    assert _tables(empty_db) == {t.fullname for t in Base.metadata.tables.values()}

    downgrade(empty_db, "base")
    assert current_revision(empty_db) is None
    assert _tables(empty_db) == set()

    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision()


def test_migrated_schema_matches_the_models(target: DatabaseTarget) -> None:
    assert _diff(target) == []


def test_upgrade_is_idempotent(target: DatabaseTarget) -> None:
    upgrade(target)
    assert current_revision(target) == head_revision()


def _in_public(target: DatabaseTarget) -> list[str]:
    with psycopg.connect(target.libpq(target.owner_url)) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


def test_migrations_put_nothing_in_public(empty_db: DatabaseTarget) -> None:
    # PostgreSQL 15 lets only the database's owner create in public; an admin-created
    # database is not owned by tenantry_owner.
    upgrade(empty_db)
    assert _in_public(empty_db) == []
    downgrade(empty_db, "base")
    assert _in_public(empty_db) == []


def test_a_version_table_left_in_public_is_adopted(empty_db: DatabaseTarget) -> None:
    upgrade(empty_db, "0100")
    with psycopg.connect(empty_db.libpq(empty_db.owner_url)) as conn:
        conn.execute(f"ALTER TABLE {VERSION_SCHEMA}.alembic_version SET SCHEMA public")
    assert current_revision(empty_db) == "0100"  # an older tenantry's database
    upgrade(empty_db)
    assert current_revision(empty_db) == head_revision()
    assert _in_public(empty_db) == []


def test_an_unknown_revision_is_a_validation_error(target: DatabaseTarget) -> None:
    with pytest.raises(ValidationError, match="nosuchrev"):
        upgrade(target, "nosuchrev")
    assert current_revision(target) == head_revision()
