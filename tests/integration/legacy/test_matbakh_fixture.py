"""The matbakh legacy fixture: schema.sql runs on plain PostgreSQL and populate() leaves the
quirks of the real product in place (the same restaurant twice under partner- and user-scoped
keys, e-mails only in auth.users, plaintext tokens and card columns, free-text statuses, an
unparseable text timestamp, orphan keys, soft-deleted partners, the demo lead)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from tenantry.db.provider import DatabaseTarget
from tenantry.models import Base
from tenantry.models.sealed import SealedField
from tests.conftest import create_database, drop_database
from tests.legacy.matbakh.data import apply_schema, populate


@pytest.fixture(scope="module")
def source(server: DatabaseTarget) -> Iterator[tuple[str, dict[str, int]]]:
    name = f"legacy_matbakh_{os.getpid()}"
    target = create_database(server, name)
    conninfo = target.libpq(target.owner_url)
    apply_schema(conninfo)
    counts = populate(conninfo, scale=0.3, seed=7)
    yield conninfo, counts
    drop_database(server, name)


def _one(conninfo: str, query: str) -> Any:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def test_counts_match_the_tables(source: tuple[str, dict[str, int]]) -> None:
    conninfo, counts = source
    for table, n in counts.items():
        # schema.sql itself inserts the demo lead; populate() reports only its own rows
        extra = 1 if table == "public.visibility_check_leads" else 0
        assert _one(conninfo, f"SELECT count(*) FROM {table}") == n + extra, table
    assert counts["public.business_partners"] > 0 and counts["public.business_profiles"] > 0


def test_same_restaurant_in_partners_and_profiles(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    both = _one(
        conninfo,
        "SELECT count(*) FROM public.business_partners p JOIN public.business_profiles b"
        " ON b.user_id = p.user_id",
    )
    spelled_differently = _one(
        conninfo,
        "SELECT count(*) FROM public.business_partners p JOIN public.business_profiles b"
        " ON b.user_id = p.user_id WHERE p.company_name <> b.company_name",
    )
    only_profile = _one(
        conninfo,
        "SELECT count(*) FROM public.business_profiles b WHERE NOT EXISTS"
        " (SELECT 1 FROM public.business_partners p WHERE p.user_id = b.user_id)",
    )
    assert isinstance(both, int) and both > 0
    assert spelled_differently == both  # never byte-identical: matching must be fuzzy
    assert isinstance(only_profile, int) and only_profile > 0


def test_emails_only_in_auth_users(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    cols = _one(
        conninfo,
        "SELECT count(*) FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = 'profiles' AND column_name = 'email'",
    )
    assert cols == 0
    assert _one(conninfo, "SELECT count(*) FROM auth.users WHERE email LIKE '%@example.com'") == (
        _one(conninfo, "SELECT count(*) FROM auth.users")
    )


def test_plaintext_secrets_and_card_columns(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    assert _one(
        conninfo, "SELECT count(*) FROM public.google_oauth_tokens WHERE access_token LIKE 'ya29.%'"
    ) == _one(conninfo, "SELECT count(*) FROM public.google_oauth_tokens")
    assert (
        _one(
            conninfo,
            "SELECT count(*) FROM public.business_profiles"
            " WHERE card_number ~ '^[0-9]{16}$' AND card_cvc IS NOT NULL",
        )
        > 0
    )
    assert (
        _one(conninfo, "SELECT count(*) FROM public.google_oauth_tokens WHERE service_type = 'ads'")
        is not None
    )


def test_messy_values(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    spellings = _one(
        conninfo,
        "SELECT count(DISTINCT status) FROM public.visibility_check_leads"
        " WHERE lower(trim(status)) = 'completed' OR lower(trim(status)) = 'pending'",
    )
    assert isinstance(spellings, int) and spellings >= 3
    assert (
        _one(
            conninfo,
            "SELECT count(*) FROM public.partner_bookings WHERE booking_date = 'demnächst'",
        )
        == 1
    )
    assert (
        _one(
            conninfo,
            "SELECT count(*) FROM public.business_profiles b WHERE NOT EXISTS"
            " (SELECT 1 FROM auth.users u WHERE u.id = b.user_id)",
        )
        == 1
    )
    assert (
        _one(conninfo, "SELECT count(*) FROM public.business_partners WHERE user_id IS NULL") == 1
    )
    assert (
        _one(conninfo, "SELECT count(*) FROM public.business_partners WHERE status = 'cancelled'")
        > 0
    )
    assert (
        _one(conninfo, "SELECT count(*) FROM public.visibility_check_leads WHERE email !~ '@'") > 0
    )


def test_demo_lead_from_the_migrations(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    assert _one(
        conninfo,
        "SELECT email FROM public.visibility_check_leads"
        " WHERE id = '00000000-0000-0000-0000-000000000abc'",
    ) == ("lovable-test@example.com")


def test_same_seed_same_data(server: DatabaseTarget) -> None:
    name = f"legacy_matbakh_seed_{os.getpid()}"
    target = create_database(server, name)
    try:
        conninfo = target.libpq(target.owner_url)
        apply_schema(conninfo)
        populate(conninfo, scale=0.2, seed=3)
        first = _one(
            conninfo,
            "SELECT md5(string_agg(company_name, ',' ORDER BY id)) FROM public.business_profiles",
        )
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                "DROP SCHEMA public CASCADE; DROP SCHEMA auth CASCADE; CREATE SCHEMA public"
            )
        apply_schema(conninfo)
        populate(conninfo, scale=0.2, seed=3)
        again = _one(
            conninfo,
            "SELECT md5(string_agg(company_name, ',' ORDER BY id)) FROM public.business_profiles",
        )
        assert first == again
    finally:
        drop_database(server, name)


# --- the built-in mapping against this fixture (the engine is not needed for these checks) ---

MAPPING_FILE = (
    Path(__file__).parents[3] / "src" / "tenantry" / "migrate" / "mappings" / "matbakh.toml"
)
MEMBERSHIP_COLUMNS = {"role"}  # identity.users (+ memberships): the membership's role


def _mapping() -> dict[str, Any]:
    with MAPPING_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _model(target: str) -> type[Base]:
    for mapper in Base.registry.mappers:
        table = mapper.class_.__table__
        if f"{table.schema}.{table.name}" == target:
            return mapper.class_  # type: ignore[no-any-return]
    raise AssertionError(f"no model for {target}")


def _attributes(model: type[Base]) -> set[str]:
    names = set(sa.inspect(model).attrs.keys())
    names |= {k for k, v in vars(model).items() if isinstance(v, SealedField)}
    for klass in model.__mro__:
        names |= {k for k, v in vars(klass).items() if isinstance(v, SealedField)}
    return names


def _expr(spec: Any) -> str:
    if isinstance(spec, str):
        return f't."{spec}"::text'
    if "sql" in spec:
        return f"({spec['sql']})::text"
    if "from" in spec:
        return f't."{spec["from"]}"::text'
    return "NULL"


def test_mapping_targets_and_values_exist() -> None:
    mapping = _mapping()
    names = {e["name"] for e in mapping["entity"]}
    assert len(names) == len(mapping["entity"])
    for entity in mapping["entity"]:
        model = _model(entity["target"])
        allowed = _attributes(model) | (
            MEMBERSHIP_COLUMNS if entity["target"] == "identity.users" else set()
        )
        for column, spec in entity.get("columns", {}).items():
            assert column in allowed, f"{entity['name']}: {column} is not a target column"
            if isinstance(spec, dict) and "ref" in spec:
                assert spec["ref"] in names
            if isinstance(spec, dict) and spec.get("convert") == "enum":
                col = model.__table__.c[column]
                enum_values = set(col.type.enums)
                assert set(spec["values"].values()) <= enum_values, (entity["name"], column)
                assert spec.get("default", next(iter(enum_values))) in enum_values
            for card in ("card_number", "card_cvc", "cvc", "cvv", "card_expiry"):
                assert not (isinstance(spec, dict) and spec.get("from") == card)
                assert card not in _expr(spec)
        tenant = entity["tenant"]
        if isinstance(tenant, dict) and "ref" in tenant:
            assert tenant["ref"] in names
    for rule in mapping["consolidate"]:
        assert set(rule["entities"]) <= names


def test_mapping_sql_runs_on_the_fixture(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    mapping = _mapping()
    with psycopg.connect(conninfo) as conn:
        for entity in mapping["entity"]:
            exprs = [_expr(spec) for spec in entity.get("columns", {}).values()]
            exprs += [f't."{c}"::text' for c in entity.get("key", [])]
            exprs += [f't."{c}"::text' for c in entity.get("personal", {})]
            tenant = entity["tenant"]
            if isinstance(tenant, dict) and "from" in tenant:
                exprs.append(f't."{tenant["from"]}"::text')
            soft = entity.get("soft_delete")
            if soft is not None:
                exprs.append(_expr(soft) if isinstance(soft, dict) else f't."{soft}"::text')
            exprs += [f"({rule['sql']})::text" for rule in entity.get("exclude", [])]
            where = entity.get("where", "true")
            query = f"SELECT {', '.join(exprs)} FROM {entity['source']} t WHERE {where}"
            rows = conn.execute(query).fetchall()  # type: ignore[arg-type]
            assert rows, f"{entity['name']}: no rows pass its filter"


def test_demo_lead_is_excluded_and_only_it(source: tuple[str, dict[str, int]]) -> None:
    conninfo, _ = source
    (vc,) = [e for e in _mapping()["entity"] if e["name"] == "vc_leads"]
    rule = vc["exclude"][0]["sql"]
    excluded = _one(conninfo, f"SELECT count(*) FROM public.visibility_check_leads t WHERE {rule}")
    assert excluded == 1
