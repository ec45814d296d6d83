"""The data generator is deterministic, realistic and keeps to reserved e-mail domains."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tenantry.seed.generator import COLUMNS, SCALES, ChunkSpec, generate_chunk
from tenantry.seed.loader import derive_tenants
from tenantry.seed.pools import build_pools

ANCHOR = 1_780_000_000  # a fixed "now" so runs compare


@pytest.fixture(scope="module")
def chunk() -> dict[str, str]:
    spec = ChunkSpec(42, SCALES["small"], ANCHOR, build_pools(42), tuple(derive_tenants(12, 42)))
    return generate_chunk(spec)


def rows(chunk: dict[str, str], table: str) -> list[dict[str, str]]:
    cols = COLUMNS[table]
    return [dict(zip(cols, line.split("\t"), strict=True)) for line in chunk[table].splitlines()]


def test_same_seed_gives_identical_data(chunk: dict[str, str]) -> None:
    spec = ChunkSpec(42, SCALES["small"], ANCHOR, build_pools(42), tuple(derive_tenants(12, 42)))
    assert generate_chunk(spec) == chunk


def test_other_seed_gives_other_data(chunk: dict[str, str]) -> None:
    spec = ChunkSpec(43, SCALES["small"], ANCHOR, build_pools(43), tuple(derive_tenants(12, 43)))
    assert generate_chunk(spec)["crm.leads"] != chunk["crm.leads"]


def test_every_email_uses_a_reserved_domain(chunk: dict[str, str]) -> None:
    emails = re.findall(r"[^\t\s]+@[^\t\s]+", "".join(chunk.values()))
    assert emails
    assert {e.rsplit("@", 1)[1] for e in emails} <= {"example.com", "example.org", "example.net"}


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
    assert all(re.fullmatch(r"[A-Z]{1,2}-[A-Z]{2} \d{1,4}", v["license_plate"]) for v in vehicles)
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v["tuv_due_on"]) for v in vehicles)


def test_payments_never_exceed_the_booking_total(chunk: dict[str, str]) -> None:
    totals = {b["id"]: int(b["total_cents"]) for b in rows(chunk, "commerce.bookings")}
    paid: Counter[str] = Counter()
    for p in rows(chunk, "commerce.payments"):
        paid[p["booking_id"]] += int(p["amount_cents"])
    assert paid and all(paid[b] <= totals[b] for b in paid)
