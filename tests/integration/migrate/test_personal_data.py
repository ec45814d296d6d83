"""Personal data through `migrate load`: sealed at rest (no source e-mail in plaintext anywhere
in the target), opened by the normal read path, Fernet ciphertext of MyHibachi opened with the
right keys (current and rotated-out), a wrong key refused before anything is written, and card
numbers in free text never arriving.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.migrate.load import load
from tenantry.migrate.mapping import load_mapping
from tenantry.models.engage import ChatMessage
from tests.integration.migrate.conftest import Loaded, one, owner
from tests.legacy.myhibachi import data as myhibachi

# Canonical tables whose text is business data by design (a location's public contact e-mail).
BUSINESS_CONTACT = {("identity", "locations")}
CARD_NUMBERS = ["4111111111111111", "5555555555554444", "4012888888881881"]


def _source_all(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]


def plaintext_hits(db: Database, needles: Iterable[str]) -> list[str]:
    """Every `schema.table.column` of the target whose text, JSON or bytes holds one of the
    needles (case-insensitive); the needles themselves are never reported."""
    patterns = ["%" + n.lower() + "%" for n in needles]
    hits: list[str] = []
    with owner(db) as conn:
        columns = conn.execute(
            "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
            " FROM information_schema.columns c JOIN information_schema.tables t"
            " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN"
            " ('pg_catalog', 'information_schema', 'public')"
            " AND c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json',"
            " 'bytea', 'ARRAY')"
        ).fetchall()
        assert len(columns) > 50  # the scan covers the canonical model
        for schema, table, column, kind in columns:
            if (schema, table) in BUSINESS_CONTACT:
                continue
            value = (
                f"lower(encode(\"{column}\", 'escape'))"
                if kind == "bytea"
                else f'lower("{column}"::text)'
            )
            found = one(
                conn,
                f'SELECT count(*) FROM "{schema}"."{table}" WHERE {value} LIKE ANY(%s)',
                patterns,
            )
            if found:
                hits.append(f"{schema}.{table}.{column}")
    return hits


def _fernet_open(token: str) -> tuple[str, str] | None:
    """(plaintext, which key) of a token under the fixture's keys."""
    for label, key in (("current", myhibachi.FERNET_KEY), ("old", myhibachi.FERNET_KEY_OLD)):
        try:
            return Fernet(key.encode()).decrypt(token.encode()).decode(), label
        except InvalidToken:
            continue
    return None


def _single_member(
    conn: psycopg.Connection[tuple[Any, ...]], run: str, entity: str
) -> dict[str, Any]:
    """source key -> (canonical id, tenant) of loaded rows nothing was merged into."""
    rows = conn.execute(
        "SELECT l.source_key, l.canonical_id, l.canonical_tenant FROM migrate.id_map l"
        " WHERE l.run = %s AND l.entity = %s AND l.outcome = 'loaded' AND NOT EXISTS"
        " (SELECT 1 FROM migrate.id_map m WHERE m.run = l.run AND m.outcome = 'merged'"
        " AND m.canonical_id = l.canonical_id)",
        (run, entity),
    ).fetchall()
    return {key: (cid, tenant) for key, cid, tenant in rows}


def test_no_source_email_is_stored_in_plaintext(
    mdb: Database, builtin_runs: Callable[[str], Loaded]
) -> None:
    carbot, matbakh, hibachi = (builtin_runs(f) for f in ("carbot", "matbakh", "myhibachi"))
    emails = [r[0] for r in _source_all(carbot.url, "SELECT email FROM customers")]
    emails += [r[0] for r in _source_all(matbakh.url, "SELECT email FROM auth.users")]
    emails += [
        opened[0]
        for (token,) in _source_all(
            hibachi.url, "SELECT email_encrypted FROM core.customers WHERE email_encrypted <> ''"
        )
        if (opened := _fernet_open(token)) is not None
    ]
    emails = [e.strip() for e in emails if e and "@" in e]
    assert len(emails) > 50
    assert plaintext_hits(mdb, emails) == []


def test_the_read_path_opens_a_loaded_customer(
    mdb: Database, builtin_runs: Callable[[str], Loaded]
) -> None:
    carbot = builtin_runs("carbot")
    source = dict(_source_all(carbot.url, "SELECT id::text, email FROM customers"))
    with owner(mdb) as conn:
        alone = _single_member(conn, carbot.run, "customers")
    checked = 0
    for key, (cid, tenant) in alone.items():
        email = source[key]
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", email or ""):
            continue
        with mdb.tenant_uow(tenant) as uow:
            customer = uow.repos.customers.get(cid)
            assert customer.email is not None
            assert customer.email.lower() == email.strip().lower()
        checked += 1
    assert checked >= 10


def test_fernet_values_are_opened_with_current_and_old_keys(
    mdb: Database, builtin_runs: Callable[[str], Loaded]
) -> None:
    hibachi = builtin_runs("myhibachi")
    tokens = dict(
        _source_all(
            hibachi.url,
            "SELECT id::text, email_encrypted FROM core.customers"
            " WHERE email_encrypted LIKE 'gAAAAA%'",
        )
    )
    with owner(mdb) as conn:
        alone = _single_member(conn, hibachi.run, "core_customers")
    seen: set[str] = set()
    for key, token in tokens.items():
        opened = _fernet_open(token)
        if opened is None or key not in alone:
            continue
        plain, label = opened
        cid, tenant = alone[key]
        with mdb.tenant_uow(tenant) as uow:
            customer = uow.repos.customers.get(cid, include_deleted=True)
            assert customer.email is not None
            assert customer.email.lower() == plain.strip().lower()
        seen.add(label)
    assert seen == {"current", "old"}


def test_ciphertext_under_an_unknown_key_is_quarantined_not_loaded(
    mdb: Database, builtin_runs: Callable[[str], Loaded]
) -> None:
    hibachi = builtin_runs("myhibachi")
    unknown = [
        key
        for key, token in _source_all(
            hibachi.url,
            "SELECT id::text, email_encrypted FROM core.customers"
            " WHERE email_encrypted LIKE 'gAAAAA%'",
        )
        if _fernet_open(token) is None
    ]
    assert unknown, "the fixture has no token under an unknown key"
    with owner(mdb) as conn:
        rows = conn.execute(
            "SELECT outcome, reason FROM migrate.id_map WHERE run = %s"
            " AND entity = 'core_customers' AND source_key = ANY(%s)",
            (hibachi.run, unknown),
        ).fetchall()
    assert len(rows) == len(unknown)
    for outcome, reason in rows:
        assert outcome == "quarantined"
        assert "email" in reason


def test_a_wrong_fernet_key_fails_before_anything_is_written(
    mdb: Database, sources: Callable[..., str]
) -> None:
    url = sources("myhibachi", "wrong_key", 0.02)
    mapping = load_mapping("myhibachi")

    def counts() -> tuple[int, ...]:
        with owner(mdb) as conn:
            return tuple(
                one(conn, f"SELECT count(*) FROM {t}")
                for t in (
                    "identity.tenants",
                    "identity.locations",
                    "crm.customers",
                    "migrate.runs",
                    "migrate.id_map",
                )
            )

    wrong = Fernet.generate_key().decode()
    before = counts()
    with pytest.raises(ValidationError) as failure:
        load(mdb, url, mapping, run="wrong_key", fernet_keys=(wrong,))
    message = str(failure.value)
    assert "\n" not in message and "fernet" in message.lower()
    assert "gAAAAA" not in message and wrong not in message
    assert counts() == before
    with owner(mdb) as conn:
        assert one(conn, "SELECT count(*) FROM migrate.runs WHERE name = 'wrong_key'") == 0
    slots = _source_all(
        url, "SELECT count(*) FROM pg_replication_slots WHERE database = current_database()"
    )
    assert slots[0][0] == 0


def test_card_numbers_in_free_text_never_reach_the_target(
    mdb: Database, builtin_runs: Callable[[str], Loaded]
) -> None:
    carbot = builtin_runs("carbot")
    builtin_runs("matbakh")  # its card columns must not arrive either
    with_card = [
        r[0]
        for r in _source_all(
            carbot.url,
            "SELECT id::text FROM chat_messages WHERE content LIKE '%4111 1111 1111 1111%'",
        )
    ]
    assert with_card, "the fixture has no chat message with a card number"
    with owner(mdb) as conn:
        placed = conn.execute(
            "SELECT canonical_id, canonical_tenant FROM migrate.id_map WHERE run = %s"
            " AND entity = 'chat_messages' AND outcome = 'loaded' AND source_key = ANY(%s)",
            (carbot.run, with_card),
        ).fetchall()
    assert len(placed) == len(with_card)  # the messages themselves are kept
    for cid, tenant in placed:
        with mdb.tenant_uow(tenant) as uow:
            message = uow.session.scalars(
                sa.select(ChatMessage).where(ChatMessage.id == cid)
            ).first()
            assert message is not None and message.body
            digits = re.sub(r"[ -]", "", message.body)
            assert not any(card in digits for card in CARD_NUMBERS)
            assert "Karte" in message.body  # the rest of the text is there


def test_no_card_number_is_stored_anywhere_in_the_target(
    mdb: Database, builtin_runs: Callable[[str], Loaded]
) -> None:
    for fixture in ("carbot", "matbakh"):  # chat/lead free text; card columns of profiles
        builtin_runs(fixture)
    spaced = [" ".join(c[i : i + 4] for i in range(0, 16, 4)) for c in CARD_NUMBERS]
    assert plaintext_hits(mdb, CARD_NUMBERS + spaced) == []
