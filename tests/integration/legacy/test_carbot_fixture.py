"""The CarBot-shaped legacy fixture carries the quirks the migration mapping must survive."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tenantry.db.provider import DatabaseTarget
from tests.conftest import create_database, drop_database
from tests.legacy.carbot.data import apply_schema, populate

SCALE = 0.004
MAPPING = Path(__file__).parents[3] / "src/tenantry/migrate/mappings/carbot.toml"


@pytest.fixture(scope="module")
def source(server: DatabaseTarget) -> Iterator[tuple[str, dict[str, int]]]:
    name = f"carbot_src_{os.getpid()}"
    target = create_database(server, name)
    conninfo = target.libpq(target.owner_url)
    apply_schema(conninfo)
    counts = populate(conninfo, scale=SCALE, seed=7)
    yield conninfo, counts
    drop_database(server, name)


def one(conninfo: str, query: str) -> int:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def test_populate_reports_the_rows_it_wrote(source: tuple[str, dict[str, int]]) -> None:
    conninfo, counts = source
    for table in ("leads", "chat_sessions", "chat_messages", "appointments"):
        assert counts[table] == one(conninfo, f"SELECT count(*) FROM {table}")
    # plus the demo rows the schema script inserts itself
    assert one(conninfo, "SELECT count(*) FROM workshops") == counts["workshops"] + 1
    assert one(conninfo, "SELECT count(*) FROM customers") == counts["customers"] + 1
    assert counts["chat_messages"] == round(1_000_000 * SCALE)
    assert counts["leads"] == round(100_000 * SCALE)


def test_child_rows_point_at_workshops_that_do_not_exist(
    source: tuple[str, dict[str, int]],
) -> None:
    conninfo, _ = source
    orphans = one(
        conninfo,
        "SELECT count(*) FROM leads l WHERE l.workshop_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM workshops w WHERE w.id = l.workshop_id)",
    )
    anonymous = one(conninfo, "SELECT count(*) FROM leads WHERE workshop_id IS NULL")
    assert orphans + anonymous > 0
    assert (
        one(
            conninfo,
            "SELECT count(*) FROM appointments a WHERE NOT EXISTS "
            "(SELECT 1 FROM customers c WHERE c.id = a.customer_id)",
        )
        > 0
    )


def test_statuses_are_free_text_in_several_spellings(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    assert one(conninfo, "SELECT count(DISTINCT status) FROM leads") >= 8
    spellings = one(
        conninfo,
        "SELECT count(DISTINCT status) FROM appointments "
        "WHERE lower(status) IN ('cancelled', 'canceled', 'abgesagt')",
    )
    assert spellings >= 2


def test_german_json_columns_mix_objects_strings_and_text_timestamps(
    source: tuple[str, dict[str, int]],
) -> None:
    conninfo, _ = source
    kinds = one(conninfo, "SELECT count(DISTINCT jsonb_typeof(fahrzeug)) FROM leads")
    assert kinds >= 2  # objects and bare strings of the VARCHAR generation
    assert one(conninfo, "SELECT count(*) FROM leads WHERE fahrzeug ? 'marke'") > 0
    german_stamps = one(
        conninfo,
        "SELECT count(*) FROM leads, jsonb_array_elements(chatverlauf) e "
        "WHERE e->>'timestamp' ~ '^[0-9]{2}\\.[0-9]{2}\\.[0-9]{4}'",
    )
    assert german_stamps > 0


def test_duplicates_soft_deletes_and_bad_values_are_present(
    source: tuple[str, dict[str, int]],
) -> None:
    conninfo, _ = source
    same_phone = one(
        conninfo,
        "SELECT count(*) FROM customers a JOIN customers b ON a.id < b.id "
        "AND regexp_replace(a.phone, '^\\+49 ?30 ?', '030') = b.phone",
    )
    crm_again = one(
        conninfo,
        "SELECT count(*) FROM workshop_clients w JOIN customers c ON lower(w.email) = c.email",
    )
    assert same_phone + crm_again > 0
    assert crm_again > 0
    assert one(conninfo, "SELECT count(*) FROM leads WHERE deleted_at IS NOT NULL") > 0
    assert one(conninfo, "SELECT count(*) FROM customers WHERE email NOT LIKE '%@%'") > 0
    assert one(conninfo, "SELECT count(*) FROM workshops WHERE iban IS NOT NULL") > 0
    naive = one(
        conninfo,
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'workshop_services' "
        "AND column_name = 'created_at' AND data_type = 'timestamp without time zone'",
    )
    assert naive == 1


def test_card_numbers_hide_in_free_text(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    hits = one(
        conninfo,
        "SELECT (SELECT count(*) FROM chat_messages WHERE content ~ '4111 1111 1111 1111') "
        "+ (SELECT count(*) FROM leads WHERE anliegen ~ '4111 1111 1111 1111')"
        "+ (SELECT count(*) FROM workshop_clients WHERE notes ~ '4111 1111 1111 1111')",
    )
    assert hits > 0


def test_integer_workshops_leave_every_uuid_reference_dangling(server: DatabaseTarget) -> None:
    name = f"carbot_int_{os.getpid()}"
    target = create_database(server, name)
    try:
        conninfo = target.libpq(target.owner_url)
        apply_schema(conninfo, integer_workshops=True)
        counts = populate(conninfo, scale=0.001, seed=3)
        assert one(conninfo, "SELECT count(*) FROM workshops") == counts["workshops"] + 1
        resolvable = one(
            conninfo,
            "SELECT count(*) FROM leads l JOIN workshops w ON w.id::text = l.workshop_id::text",
        )
        assert resolvable == 0
        assert one(conninfo, "SELECT count(*) FROM leads WHERE workshop_id IS NOT NULL") > 0
    finally:
        drop_database(server, name)


def mapping_probes(source_has: set[str]) -> list[tuple[str, str]]:
    """(entity, SQL) pairs touching every column, expression and filter the mapping names."""
    spec = tomllib.loads(MAPPING.read_text(encoding="utf-8"))
    probes: list[tuple[str, str]] = []
    for ent in spec["entity"]:
        table = ent["source"].split(".", 1)[1]
        if table not in source_has:
            assert ent.get("optional"), f"{ent['name']}: {table} missing but not optional"
            continue
        exprs = [f"t.{k}" for k in ent.get("key", [])]
        for col in ent.get("columns", {}).values():
            spec_ = {"from": col} if isinstance(col, str) else col
            if "from" in spec_:
                exprs.append(f't."{spec_["from"]}"')
            if "sql" in spec_:
                exprs.append(f"({spec_['sql']})")
        tenant = ent.get("tenant")
        if isinstance(tenant, dict) and "from" in tenant:
            exprs.append(f't."{tenant["from"]}"')
        soft = ent.get("soft_delete")
        if isinstance(soft, dict):
            exprs.append(f"({soft['sql']})")
        elif isinstance(soft, str):
            exprs.append(f't."{soft}"')
        filters = [e["sql"] for e in ent.get("exclude", [])]
        if "where" in ent:
            filters.append(ent["where"])
        where = " AND ".join(f"({f}) IS NOT NULL" for f in filters) or "true"
        probes.append(
            (ent["name"], f"SELECT {', '.join(exprs)} FROM {table} t WHERE {where} LIMIT 5")
        )
    return probes


@pytest.mark.parametrize("integer_workshops", [False, True])
def test_mapping_names_only_columns_and_sql_the_fixture_has(
    server: DatabaseTarget, integer_workshops: bool
) -> None:
    name = f"carbot_map_{os.getpid()}_{int(integer_workshops)}"
    target = create_database(server, name)
    try:
        conninfo = target.libpq(target.owner_url)
        apply_schema(conninfo, integer_workshops=integer_workshops)
        populate(conninfo, scale=0.001, seed=5)
        with psycopg.connect(conninfo) as conn:
            tables = {
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
            }
            probes = mapping_probes(tables)
            assert len(probes) >= 12
            for entity, query in probes:
                try:
                    conn.execute(query)
                except psycopg.Error as exc:
                    pytest.fail(f"{entity}: {exc.diag.message_primary}")
    finally:
        drop_database(server, name)
