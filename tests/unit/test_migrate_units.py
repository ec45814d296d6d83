"""Pure parts of the migration toolkit: the mapping format, value conversions, the bisection
of range checksums. No database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet

from tenantry.migrate.convert import CONVERSIONS as C
from tenantry.migrate.convert import (
    Context,
    LegacyKeyError,
    UnconvertibleError,
    enum_value,
    extract_path,
    mask_card_numbers,
    open_fernet,
    parse_array,
    parse_timestamp,
    split_name,
)
from tenantry.migrate.mapping import MappingError, builtin_names, load_mapping, parse_mapping
from tenantry.migrate.verify import bisect, canonical_equal

BERLIN = ZoneInfo("Europe/Berlin")

MINIMAL = """
[mapping]
name = "shop"
vertical = "workshop"

[[entity]]
name = "shops"
source = "public.shops"
target = "identity.tenants"
[entity.columns]
legal_name = "name"

[[entity]]
name = "clients"
source = "public.clients"
target = "crm.customers"
tenant = { ref = "shops", from = "shop_id" }
[entity.columns]
email = { from = "mail", convert = "email" }
"""


def test_every_builtin_mapping_parses_and_names_its_entities() -> None:
    assert {"matbakh", "carbot", "myhibachi"} <= set(builtin_names())
    for name in builtin_names():
        mapping = load_mapping(name)
        assert mapping.name == name and mapping.entities


def test_a_minimal_mapping_parses() -> None:
    mapping = parse_mapping(MINIMAL)
    assert [e.name for e in mapping.entities] == ["shops", "clients"]
    assert mapping.entity("clients").tenant.ref == "shops"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('target = "crm.customers"', 'target = "crm.nothing"'), "not a table tenantry loads"),
        (('email = { from = "mail"', 'emial = { from = "mail"'), "no such writable column"),
        (('convert = "email"', 'convert = "emial"'), "unknown conversion"),
        (('ref = "shops"', 'ref = "shop"'), "not an entity listed before"),
        (('email = { from = "mail"', 'email = { from = "card_number"'), "card data"),
        (('legal_name = "name"', 'legal_name = "name'), "not valid TOML"),
    ],
)
def test_a_mapping_that_is_wrong_says_where(change: tuple[str, str], message: str) -> None:
    with pytest.raises(MappingError) as caught:
        parse_mapping(MINIMAL.replace(*change))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value).strip()


def test_timestamps_in_every_legacy_spelling_become_aware() -> None:
    expected = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    for text in (
        "2024-05-01 12:00:00+02",
        "2024-05-01T10:00:00Z",
        "2024-05-01 12:00:00",  # without zone: the mapping's zone
        "01.05.2024 12:00",
        "1714557600",
    ):
        assert parse_timestamp(text, BERLIN) == expected, text
    with pytest.raises(UnconvertibleError):
        parse_timestamp("demnächst", BERLIN)


def test_amounts_in_three_generations_become_cents() -> None:
    ctx = Context()
    assert C["euros_to_cents"]("12", ctx, None) == 1200
    assert C["numeric_to_cents"]("12.50", ctx, None) == 1250
    assert C["numeric_to_cents"]("1.234,50", ctx, None) == 123450
    assert C["cents"]("1250", ctx, None) == 1250
    with pytest.raises(UnconvertibleError):
        C["numeric_to_cents"]("12.505", ctx, None)


def test_free_text_statuses_map_case_and_spacing_insensitively() -> None:
    values = {"neu": "new", "in bearbeitung": "contacted"}
    assert enum_value(" NEU ", values, None) == "new"
    assert enum_value("In_Bearbeitung", values, None) == "contacted"
    assert enum_value("unbekannt", values, "new") == "new"
    with pytest.raises(UnconvertibleError):
        enum_value("unbekannt", values, None)


def test_json_paths_fall_back_in_order_and_arrays_parse() -> None:
    doc = '{"fahrzeug": {"marke": "VW"}, "telefon": {"mobil": "", "festnetz": "+49 30 1"}}'
    assert extract_path(doc, ["telefon.mobil", "telefon.festnetz"]) == "+49 30 1"
    assert extract_path(doc, ["fahrzeug.modell"]) is None
    assert parse_array('{vip,"a b",NULL}') == ["vip", "a b"]
    assert split_name("Mustermann, Erika") == ("Erika", "Mustermann")


def test_fernet_opens_with_any_given_key_and_plaintext_passes() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Fernet(old).encrypt(b"kunde@example.com").decode()
    ctx = Context(fernet_keys=(new, old))
    assert open_fernet(token, ctx) == "kunde@example.com"
    assert open_fernet("klartext@example.com", ctx) == "klartext@example.com"
    with pytest.raises(UnconvertibleError):
        open_fernet(token, Context(fernet_keys=(new,)))
    with pytest.raises(LegacyKeyError):
        open_fernet(token, Context())


def test_luhn_valid_card_numbers_are_masked_and_other_numbers_kept() -> None:
    text = "Karte 4111 1111 1111 1111, Kundennummer 1234567890123"
    masked = mask_card_numbers(text)
    assert "4111" not in masked and "[card number removed]" in masked
    assert "1234567890123" in masked  # not Luhn-valid


def test_bisection_names_exactly_the_differing_keys() -> None:
    def digest(v: str) -> bytes:
        return hashlib.blake2b(v.encode(), digest_size=16).digest()

    source = {f"{i:05d}": digest(f"row {i}") for i in range(5000)}
    target = dict(source)
    target["00042"] = digest("changed")
    del target["04000"]
    target["99999"] = digest("extra")
    assert bisect(source, target) == ["00042", "04000", "99999"]
    assert bisect(source, dict(source)) == []


def test_meaning_ignores_representation() -> None:
    assert canonical_equal(
        datetime(2024, 1, 1, 12, tzinfo=UTC),
        datetime(2024, 1, 1, 13, tzinfo=ZoneInfo("Europe/Berlin")),
    )
    assert canonical_equal(Decimal("12.50"), Decimal("12.5"))
    assert canonical_equal([], None)
    assert not canonical_equal("a", "b")
