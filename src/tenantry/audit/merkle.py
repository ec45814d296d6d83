"""The Merkle tree of a bulk batch: how a batch entry commits to its rows' leaves.

A leaf is the 32-byte SHA-256 digest of one loaded row (see `tenantry.audit.bulk`). The tree
follows RFC 6962's domain separation: a leaf node is SHA-256(0x00 || leaf), an inner node
SHA-256(0x01 || left || right). Each level pairs nodes left to right; an odd node at the end
of a level is carried up unchanged (never paired with itself, so no two leaf lists share a
root by duplication). The root of no leaves is SHA-256 of the empty string. Leaves are
ordered by the row id's bytes (PostgreSQL's "C" collation), which both the writer and the
verifier ask the database for. A batch whose row ids carry meaning (time-ordered ids, see
`tenantry.audit.bulk`) binds each leaf to its row id first (`bound_leaf`: SHA-256 of 0x02,
the leaf and the row id's UTF-8 bytes), so that the root commits to the ids too. Pure
functions, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["BOUND_PREFIX", "LEAF_PREFIX", "NODE_PREFIX", "bound_leaf", "merkle_root"]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
BOUND_PREFIX = b"\x02"


def bound_leaf(leaf: bytes, row_id: str) -> bytes:
    """A leaf bound to its row id (32 bytes, a leaf of `merkle_root` in its place)."""
    return hashlib.sha256(BOUND_PREFIX + leaf + row_id.encode()).digest()


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """The root over `leaves` (each 32 bytes, in row-id order)."""
    sha256 = hashlib.sha256
    level: list[bytes] = []
    for leaf in leaves:
        if len(leaf) != 32:
            raise ValueError(f"a leaf is a 32-byte digest, got {len(leaf)} bytes")
        level.append(sha256(LEAF_PREFIX + leaf).digest())
    if not level:
        return sha256(b"").digest()
    while len(level) > 1:
        paired = [
            sha256(NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
