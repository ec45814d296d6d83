"""The fast pass of verify over binary COPY rows built here: it confirms an intact chain in
any arrival order and marks a chain suspect on every kind of damage, never the reverse."""

from __future__ import annotations

import hashlib
import random
import struct
import uuid

import pytest

from tenantry.audit import scan
from tenantry.audit.chain import GENESIS_HEX, canonical
from tenantry.audit.scan import ChainStart, check_rows

TENANT = uuid.UUID("0190a8e2-0000-7000-8000-000000000001")
OTHER = uuid.UUID("0190a8e2-0000-7000-8000-000000000002")


def _fields(
    tenant: uuid.UUID, seq: int, prev_hex: str, encrypted: bytes | None
) -> list[str | None]:
    return [
        str(tenant),
        str(1_780_000_000_000_000 + seq),
        "742",
        "crm.leads",
        f"0190a8e2-0000-7000-8000-0000000000{seq:02x}",
        "U",
        "user:test",
        "{score}",
        "{}",
        '{"score": 1}',
        '{"score": "Škoda"}',  # not ASCII: lengths count characters
        None if encrypted is None else str(uuid.UUID(int=seq)),
        None if encrypted is None else hashlib.sha256(encrypted).hexdigest(),
        str(seq),
        prev_hex,
    ]


def _row(
    tenant: uuid.UUID,
    seq: int,
    prev: bytes,
    hash_: bytes,
    encrypted: bytes | None,
    body: bytes,
) -> bytes:
    """One row as PostgreSQL's binary COPY of `scan._QUERY` sends it."""
    out = [struct.pack("!h", 6)]
    for value in (tenant.bytes, struct.pack("!q", seq), prev, hash_, encrypted, body):
        out.append(struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)))
        out.append(value or b"")
    return b"".join(out)


def chain(tenant: uuid.UUID, n: int, *, encrypted: dict[int, bytes] | None = None) -> list[bytes]:
    """`n` valid entries; the body is the canonical text without its last field."""
    rows, prev = [], bytes.fromhex(GENESIS_HEX)
    for seq in range(1, n + 1):
        enc = (encrypted or {}).get(seq)
        fields = _fields(tenant, seq, prev.hex(), enc)
        text = canonical(fields)
        digest = hashlib.sha256(text).digest()
        body = text[: -len(f"64:{prev.hex()}\n")]
        rows.append(_row(tenant, seq, prev, digest, enc, body))
        prev = digest
    return rows


def suspect(rows: list[bytes], **starts: ChainStart) -> bool:
    result = check_rows(rows, {TENANT: starts["start"]} if starts else {})
    return result.chains[TENANT].suspect


def test_an_intact_chain_is_confirmed_with_its_last_hash() -> None:
    rows = chain(TENANT, 5)
    result = check_rows(rows, {})
    outcome = result.chains[TENANT]
    assert result.entries == 5 and not outcome.suspect
    assert outcome.last_seq == 5 and outcome.last_hash == rows[-1][74:106]


def test_arrival_order_does_not_matter() -> None:
    rows = chain(TENANT, 40) + chain(OTHER, 30)
    random.Random(7).shuffle(rows)
    result = check_rows(rows, {})
    assert not result.chains[TENANT].suspect and not result.chains[OTHER].suspect
    assert result.chains[TENANT].last_seq == 40 and result.chains[OTHER].last_seq == 30


def test_a_chain_too_far_out_of_order_is_left_to_the_ordered_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(scan, "_MAX_WAITING", 3)
    rows = chain(TENANT, 10)
    assert suspect(rows[5:] + rows[:5])
    assert not suspect(rows[2:4] + rows[:2] + rows[4:])


def test_the_anchor_entry_hash_is_reported() -> None:
    rows = chain(TENANT, 6)
    outcome = check_rows(rows, {TENANT: ChainStart(0, bytes(32), anchor_seq=4)}).chains[TENANT]
    assert outcome.anchor_hash == rows[3][74:106]


def test_a_chain_starts_after_its_retention_base() -> None:
    rows = chain(TENANT, 6)
    base = ChainStart(3, rows[2][74:106])
    result = check_rows(rows[3:], {TENANT: base})
    assert not result.chains[TENANT].suspect and result.chains[TENANT].last_seq == 6
    assert suspect(rows[4:], start=base)  # entry 4 is gone


def _edit(row: bytes, at: int, new: bytes) -> bytes:
    return row[:at] + new + row[at + len(new) :]


@pytest.mark.parametrize(
    "damage",
    [
        "body",
        "hash",
        "prev",
        "gap",
        "twin",
        "reversed twin",
        "short prev",
        "short hash",
        "null body",
        "encrypted bytes",
    ],
)
def test_every_kind_of_damage_makes_the_chain_suspect(damage: str) -> None:
    rows = chain(TENANT, 5, encrypted={3: b"\x01ciphertext"})
    assert not suspect(rows)
    r = rows[2]  # entry 3, with encrypted values
    if damage == "body":
        rows[1] = rows[1].replace(b"user:test", b"user:tset")
    elif damage == "hash":
        rows[1] = _edit(rows[1], 74, bytes(32))
    elif damage == "prev":
        rows[1] = _edit(rows[1], 38, bytes(32))
    elif damage == "gap":
        del rows[1]
    elif damage == "twin":
        rows.insert(2, rows[1].replace(b"user:test", b"user:xxxx"))
    elif damage == "reversed twin":
        rows.insert(1, rows[1].replace(b"user:test", b"user:xxxx"))
    elif damage == "short prev":  # a 31-byte prev_hash must not shift the fields after it
        rows[1] = rows[1][:34] + struct.pack("!i", 31) + rows[1][38:69] + rows[1][70:]
    elif damage == "short hash":
        rows[1] = rows[1][:70] + struct.pack("!i", 31) + rows[1][74:105] + rows[1][106:]
    elif damage == "null body":
        rows[1] = rows[1][:110] + struct.pack("!i", -1)
    elif damage == "encrypted bytes":  # the digest PostgreSQL rendered into the body is not
        rows[2] = r.replace(b"\x01ciphertext", b"\x01ciphertexT")  # trusted: it is recomputed
    assert suspect(rows)


def test_a_prev_hash_that_smuggles_a_row_layout_is_refused() -> None:
    """A 76-byte `prev_hash` holding the right predecessor hash, a fake length, a digest and a
    fake NULL would line up with the fixed offsets; the length words are checked first."""
    first = chain(TENANT, 1)[0]
    predecessor = first[74:106]
    tail = struct.pack("!i", 32) + bytes(32) + struct.pack("!i", -1) + struct.pack("!i", 3) + b"any"
    forged = b"64:" + predecessor.hex().encode() + b"\n"
    digest = hashlib.sha256(tail + forged).digest()
    prev_column = predecessor + struct.pack("!i", 32) + digest + struct.pack("!i", -1) + b"\0" * 4
    head = struct.pack("!h", 6) + struct.pack("!i", 16) + TENANT.bytes
    head += struct.pack("!i", 8) + struct.pack("!q", 2)
    smuggler = head + struct.pack("!i", len(prev_column)) + prev_column + tail
    assert smuggler[38:70] == predecessor and smuggler[74:106] == digest
    assert suspect([first, smuggler])
