"""The data generator is deterministic, realistic and keeps to reserved e-mail domains."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tenantry.privacy.master import LocalMasterKey
from tenantry.seed.generator import COLUMNS, SCALES, ChunkSpec, generate_chunk
from tenantry.seed.loader import derive_tenants
from tenantry.seed.pools import build_pools
from tenantry.seed.sealing import PlatformSeedKeys

UNIT_MASTER = LocalMasterKey(bytes(range(32)), "unit")
UNIT_PLATFORM = PlatformSeedKeys(1, bytes(32), bytes(range(1, 33)))

ANCHOR = 1_780_000_000  # a fixed "now" so runs compare


@pytest.fixture(scope="module")
def chunk() -> dict[str, str]:
    spec = ChunkSpec(
        42,
        SCALES["small"],
        ANCHOR,
        build_pools(42),
        tuple(derive_tenants(12, 42)),
        UNIT_MASTER,
        UNIT_PLATFORM,
    )
    return generate_chunk(spec)


def rows(chunk: dict[str, str], table: str) -> list[dict[str, str]]:
    cols = COLUMNS[table]
    return [dict(zip(cols, line.split("\t"), strict=True)) for line in chunk[table].splitlines()]


def _unsealed(chunk: dict[str, str]) -> dict[str, str]:
    """The chunk with keys, ciphertexts and pseudonyms (fresh random keys each run) masked."""
    masked = {t: re.sub(r"\\\\x[0-9a-f]+", "<bytes>", text) for t, text in chunk.items()}
    return {t: re.sub(r"\t[0-9a-f]{64}\t", "\t<pseudonym>\t", v) for t, v in masked.items()}


def test_same_seed_gives_identical_data(chunk: dict[str, str]) -> None:
    spec = ChunkSpec(
        42,
        SCALES["small"],
        ANCHOR,
        build_pools(42),
        tuple(derive_tenants(12, 42)),
        UNIT_MASTER,
        UNIT_PLATFORM,
    )
    again = generate_chunk(spec)
    assert _unsealed(again) == _unsealed(chunk)
    assert again["crm.customers"] != chunk["crm.customers"]  # the keys are fresh


def test_personal_data_is_only_ever_ciphertext(chunk: dict[str, str]) -> None:
    for table, column in (
        ("crm.customers", "email"),
        ("crm.customers", "last_name"),
        ("crm.leads", "phone"),
        ("crm.vehicles", "license_plate"),
    ):
        values = [r[column] for r in rows(chunk, table)]
        sealed = [v for v in values if v != "\\N"]  # COPY's NULL
        assert sealed and all(v.startswith("\\\\x5431") for v in sealed), table  # header "T1"


def test_other_seed_gives_other_data(chunk: dict[str, str]) -> None:
    spec = ChunkSpec(
        43,
        SCALES["small"],
        ANCHOR,
        build_pools(43),
        tuple(derive_tenants(12, 43)),
        UNIT_MASTER,
        UNIT_PLATFORM,
    )
    assert generate_chunk(spec)["crm.leads"] != chunk["crm.leads"]


def test_no_address_leaves_the_generator_in_plain_text(chunk: dict[str, str]) -> None:
    assert not re.findall(r"[^\t\s]+@[^\t\s]+", "".join(chunk.values()))


def test_lines_have_one_field_per_column(chunk: dict[str, str]) -> None:
    for table, text in chunk.items():
        for line in text.splitlines():
            assert line.count("\t") == len(COLUMNS[table]) - 1, table


def test_converted_leads_have_a_customer_and_lost_leads_a_reason(chunk: dict[str, str]) -> None:
    leads = rows(chunk, "crm.leads")
    statuses = Counter(r["status"] for r in leads)
    assert set(statuses) == {"new", "contacted", "qualified", "converted", "lost"}
    assert all(r["customer_id"] != "\\N" for r in leads if r["status"] == "converted")
    assert all(r["lost_reason"] != "\\N" for r in leads if r["status"] == "lost")


def test_personas_of_seed_001_appear_on_visibility_check_leads(chunk: dict[str, str]) -> None:
    leads = rows(chunk, "crm.leads")
    personas = {r["persona"] for r in leads if r["source"] == "visibility_check"}
    assert personas <= {"solo-sarah", "bewahrer-ben", "wachstums-walter", "ketten-katrin"}
    assert all(r["persona"] == "\\N" for r in leads if r["source"] != "visibility_check")


def test_workshops_get_vehicles_with_german_plates_and_tuv_dates(chunk: dict[str, str]) -> None:
    vehicles = rows(chunk, "crm.vehicles")
    assert vehicles
    assert all(v["license_plate_bidx"].startswith("\\\\x") for v in vehicles)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v["tuv_due_on"]) for v in vehicles)


def test_payments_never_exceed_the_booking_total(chunk: dict[str, str]) -> None:
    totals = {b["id"]: int(b["total_cents"]) for b in rows(chunk, "commerce.bookings")}
    paid: Counter[str] = Counter()
    for p in rows(chunk, "commerce.payments"):
        paid[p["booking_id"]] += int(p["amount_cents"])
    assert paid and all(paid[b] <= totals[b] for b in paid)
