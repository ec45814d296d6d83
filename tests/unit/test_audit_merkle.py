"""The Merkle tree of bulk batches: domain-separated, odd nodes carried up, order-sensitive."""

from __future__ import annotations

import hashlib

import pytest

from tenantry.audit.merkle import bound_leaf, merkle_root


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


LEAVES = [h(bytes([i])) for i in range(5)]


def test_the_root_follows_the_documented_tree() -> None:
    a, b, c, d, e = (h(b"\x00" + leaf) for leaf in LEAVES)
    ab, cd = h(b"\x01" + a + b), h(b"\x01" + c + d)
    assert merkle_root(LEAVES) == h(b"\x01" + h(b"\x01" + ab + cd) + e)
    assert merkle_root(LEAVES[:1]) == a
    assert merkle_root([]) == h(b"")


def test_any_change_reorder_or_duplicated_tail_changes_the_root() -> None:
    root = merkle_root(LEAVES)
    assert merkle_root([LEAVES[1], LEAVES[0], *LEAVES[2:]]) != root
    assert merkle_root([*LEAVES[:4], h(b"x")]) != root
    assert merkle_root([*LEAVES, LEAVES[-1]]) != root
    assert merkle_root(LEAVES[:4]) != root


def test_a_leaf_must_be_a_digest() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        merkle_root([b"short"])


def test_a_bound_leaf_commits_to_its_row_id() -> None:
    leaf = hashlib.sha256(b"row").digest()
    bound = bound_leaf(leaf, "0190c2a0-0000-7000-8000-000000000001")
    assert len(bound) == 32
    assert (
        bound == hashlib.sha256(b"\x02" + leaf + b"0190c2a0-0000-7000-8000-000000000001").digest()
    )
    assert bound != bound_leaf(leaf, "0190c2a0-0000-7000-8000-000000000002")
    assert merkle_root([bound]) != merkle_root([leaf])
