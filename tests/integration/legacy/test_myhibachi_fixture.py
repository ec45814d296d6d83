"""The MyHibachi legacy fixture: schema.sql applies on plain PostgreSQL, the generator plants
the quirks the mapping must survive, and every SQL expression of the built-in mapping runs on it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from tenantry.db.provider import DatabaseTarget
from tenantry.models import enums
from tests.conftest import create_database, drop_database
from tests.legacy.myhibachi import data

MAPPING = Path(__file__).parents[3] / "src/tenantry/migrate/mappings/myhibachi.toml"
NAME = "legacy_myhibachi_fixture"


@pytest.fixture(scope="module")
def source(server: DatabaseTarget) -> Iterator[tuple[str, dict[str, int]]]:
    t = create_database(server, NAME)
    conninfo = t.libpq(t.owner_url)
    data.apply_schema(conninfo)
    counts = data.populate(conninfo, scale=0.05, seed=7)
    yield conninfo, counts
    drop_database(server, NAME)


def _all(conninfo: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(conninfo) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def _open(token: str) -> str | None:
    keys = MultiFernet([Fernet(k.encode()) for k in data.FERNET_KEYS])
    try:
        return keys.decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def test_counts_match_the_tables(source: tuple[str, dict[str, int]]) -> None:
    conninfo, counts = source
    for table, n in counts.items():
        assert _all(conninfo, f"SELECT count(*) FROM {table}")[0][0] == n, table
    assert counts["core.customers"] >= 30


def test_demo_station_of_the_schema_script(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    rows = _all(conninfo, "SELECT name FROM identity.stations WHERE code = 'DEFAULT'")
    assert rows == [("Default Station",)]


def test_mixed_fernet_and_plaintext(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    values = [r[0] for r in _all(conninfo, "SELECT email_encrypted FROM core.customers")]
    tokens = [v for v in values if v.startswith("gAAAAA")]
    plain = [v for v in values if v and not v.startswith("gAAAAA")]
    assert plain and all("@example." in v.lower() for v in plain)
    opened = [_open(v) for v in tokens]
    assert sum(o is None for o in opened) >= 1  # under a key nobody supplies
    assert all(o is None or "@example." in o.lower() for o in opened)
    current = Fernet(data.FERNET_KEY.encode())
    old_only = 0
    for v in tokens:
        try:
            current.decrypt(v.encode())
        except InvalidToken:
            old_only += _open(v) is not None
    assert old_only >= 1  # rotated key: opens only with the second --fernet-key
    phones = [r[0] for r in _all(conninfo, "SELECT phone_encrypted FROM core.customers")]
    assert "" in phones
    addresses = [r[0] for r in _all(conninfo, "SELECT address_encrypted FROM core.bookings")]
    assert any(a.startswith("gAAAAA") for a in addresses)


def test_duplicates_across_and_within_generations(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    core = {}
    for first, last, email in _all(
        conninfo, "SELECT first_name, last_name, email_encrypted FROM core.customers"
    ):
        opened = _open(email) if email.startswith("gAAAAA") else email
        if opened:
            core.setdefault(opened.lower(), []).append((first, last))
    assert any(len(v) > 1 and v[0][0] != v[1][0] for v in core.values())
    public = {r[0].lower() for r in _all(conninfo, "SELECT email FROM public.customers")}
    assert public & set(core)
    same_event = _all(
        conninfo,
        "SELECT count(*) FROM public.bookings p JOIN core.bookings c "
        "ON p.booking_datetime = c.date + c.slot AND p.party_size = c.party_adults + c.party_kids",
    )
    assert same_event[0][0] >= 1


def test_messy_values_to_quarantine(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    statuses = {
        r[0] for r in _all(conninfo, "SELECT DISTINCT status FROM public.catering_payments")
    }
    assert {"Completed", "completed ", "CONFIRMED"} <= statuses
    orphans = _all(
        conninfo,
        "SELECT count(*) FROM public.payments p WHERE p.booking_id IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM public.bookings b WHERE b.id::text = p.booking_id)",
    )
    assert orphans[0][0] >= 1
    assert (
        _all(
            conninfo, "SELECT count(*) FROM public.catering_payments WHERE payment_method = 'CHECK'"
        )[0][0]
        >= 1
    )
    converted = _all(
        conninfo,
        "SELECT count(*) FROM lead.leads WHERE status = 'converted' AND customer_id IS NULL",
    )
    assert converted[0][0] >= 1
    for table in ("core.customers", "core.bookings", "lead.leads"):
        assert _all(conninfo, f"SELECT count(*) FROM {table} WHERE deleted_at IS NOT NULL")[0][0]
    naive = _all(
        conninfo,
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'bookings' AND table_schema = 'public' "
        "AND column_name = 'booking_datetime'",
    )
    assert naive == [("timestamp without time zone",)]


def _sql_specs(mapping: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    for entity in mapping["entity"]:
        for col, spec in entity.get("columns", {}).items():
            if isinstance(spec, dict) and "sql" in spec:
                yield entity["source"], col, spec["sql"]
        if "where" in entity:
            yield entity["source"], "where", f"({entity['where']})"
        for ex in entity.get("exclude", []):
            yield entity["source"], "exclude", f"({ex['sql']})"


def test_mapping_expressions_run_on_the_fixture(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    mapping = tomllib.loads(MAPPING.read_text())
    specs = list(_sql_specs(mapping))
    assert len(specs) > 15
    with psycopg.connect(conninfo) as conn:
        for table, _col, expr in specs:
            conn.execute(f"SELECT ({expr})::text FROM {table} t LIMIT 5")  # type: ignore[arg-type]
        for entity in mapping["entity"]:
            schema, table = entity["source"].split(".")
            have = {
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s",
                    (schema, table),
                )
            }
            used = (
                {
                    spec if isinstance(spec, str) else spec.get("from")
                    for spec in entity.get("columns", {}).values()
                }
                | set(entity.get("key", []))
                | set(entity.get("personal", {}))
            )
            assert used - {None} <= have, (entity["name"], used - have)


def test_mapping_enum_targets_exist() -> None:
    mapping = tomllib.loads(MAPPING.read_text())
    allowed: set[str] = set()
    for name in dir(enums):
        obj = getattr(enums, name)
        if isinstance(obj, type) and issubclass(obj, enums.StrEnum):
            allowed |= {m.value for m in obj}
    for entity in mapping["entity"]:
        for col, spec in entity.get("columns", {}).items():
            if isinstance(spec, dict) and spec.get("convert") == "enum":
                targets = set(spec["values"].values()) | (
                    {spec["default"]} if "default" in spec else set()
                )
                assert targets <= allowed, (entity["name"], col, targets - allowed)
