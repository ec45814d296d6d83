"""The canonical encoding of audit entries: unambiguous, versioned, and stable."""

from __future__ import annotations

import hashlib

import pytest

from tenantry.audit.chain import FIELDS, GENESIS_HEX, SELECT_FIELDS, canonical, entry_hash
from tenantry.audit.maintenance import retention_cutoff

ENTRY: list[str | None] = [
    "0190a8e2-0000-7000-8000-000000000001",
    "1780000000000000",
    "742",
    "crm.leads",
    "0190a8e2-0000-7000-8000-0000000000aa",
    "U",
    "user:0190a8e2-0000-7000-8000-0000000000ff",
    "{email,status}",
    "{email}",
    '{"status": "new"}',
    '{"status": "contacted"}',
    None,
    None,
    "7",
    GENESIS_HEX,
]


def test_every_field_is_length_prefixed_and_null_is_distinct_from_empty() -> None:
    text = canonical(ENTRY).decode()
    lines = text.split("\n")
    assert lines[0] == "17:tenantry-audit-v1"
    assert lines[4] == "9:crm.leads"
    assert lines[12] == "-" and lines[13] == "-"
    empty = canonical([*ENTRY[:11], "", *ENTRY[12:]])
    assert empty != canonical(ENTRY)


def test_the_hash_is_sha256_of_the_canonical_bytes() -> None:
    assert entry_hash(ENTRY) == hashlib.sha256(canonical(ENTRY)).hexdigest()
    # A fixed vector: changing the encoding would silently break every stored chain.
    assert entry_hash(ENTRY) == "d4a9c5d264067376e7f8ebd3204539f6b57ecd0b1bf4affef6f04bc264fef789"


def test_separators_inside_values_cannot_shift_fields() -> None:
    a = [*ENTRY]
    b = [*ENTRY]
    a[6], a[7] = "user:x\n3:abc", "{}"
    b[6], b[7] = "user:x", "abc\n2:{}"
    assert canonical(a) != canonical(b)


def test_length_counts_characters_not_bytes() -> None:
    entry = [*ENTRY]
    entry[9] = '{"make": "Škoda"}'
    assert '17:{"make": "Škoda"}' in canonical(entry).decode()


def test_field_count_is_checked() -> None:
    assert len(SELECT_FIELDS) == len(FIELDS) - 1 == len(ENTRY)
    with pytest.raises(ValueError, match="fields"):
        canonical(ENTRY[:-1])


@pytest.mark.parametrize(
    ("today", "months", "cutoff"),
    [
        ((2026, 11, 22), 1, (2026, 11, 1)),
        ((2026, 1, 5), 2, (2025, 12, 1)),
        ((2026, 3, 1), 120, (2016, 4, 1)),
    ],
)
def test_retention_cuts_whole_months(today, months, cutoff) -> None:
    from datetime import date

    assert retention_cutoff(date(*today), months) == date(*cutoff)
