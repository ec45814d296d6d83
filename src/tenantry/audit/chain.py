"""The canonical encoding of an audit entry and its hash: the one definition of the chain.

The trigger `audit.record_rows` (migration 0100) builds exactly this text inside PostgreSQL; verify
rebuilds it here. Each field is written as `<length>:<text>\\n` (length in characters), a NULL
as `-\\n`, in the order of `FIELDS`; the entry's hash is SHA-256 of the UTF-8 bytes. Fields
whose PostgreSQL type has no single obvious text form are taken in PostgreSQL's own text
output (`text[]` and `jsonb` cast to text), which is deterministic for a stored value.

`subject_id` and the digest of `encrypted_values` are part of the encoding from version 1 on
(NULL today), so the privacy kernel can store PII encrypted under the subject's key later
without changing these rules. Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "FIELDS",
    "GENESIS_HEX",
    "SELECT_FIELDS",
    "VERSION",
    "canonical",
    "entry_hash",
]

VERSION = "tenantry-audit-v1"

# The hash a chain's first entry links to.
GENESIS_HEX = "00" * 32

# Field order of the canonical text. `version` is the constant above.
FIELDS = (
    "version",
    "tenant_id",
    "recorded_at_us",
    "txid",
    "table_name",
    "row_id",
    "op",
    "actor",
    "changed_columns",
    "redacted_columns",
    "old_values",
    "new_values",
    "subject_id",
    "encrypted_values_sha256",
    "seq",
    "prev_hash",
)

# SQL expressions over `audit.log` yielding fields 2..16 as text, in order (version excluded).
SELECT_FIELDS = (
    "tenant_id::text",
    "(extract(epoch FROM recorded_at) * 1000000)::bigint::text",
    "txid::text",
    "table_name",
    "row_id",
    "op",
    "actor",
    "changed_columns::text",
    "redacted_columns::text",
    "old_values::text",
    "new_values::text",
    "subject_id::text",
    "encode(sha256(encrypted_values), 'hex')",
    "seq::text",
    "encode(prev_hash, 'hex')",
)


def _sql_field(expr: str) -> str:
    return f"CASE WHEN ({expr}) IS NULL THEN '-' ELSE length({expr})::text || ':' || ({expr}) END"


# The canonical text of an entry as one SQL expression over `audit.log l`, so verification
# streams a single column per entry and hashes it; `canonical()` below defines the same bytes.
CANONICAL_SQL = (
    f"'{len(VERSION)}:{VERSION}' || E'\\n' || "
    + " || E'\\n' || ".join(_sql_field(f) for f in SELECT_FIELDS)
    + " || E'\\n'"
)


def canonical(values: Sequence[str | None]) -> bytes:
    """The canonical bytes of an entry; `values` are the fields after `version`, in order."""
    if len(values) != len(FIELDS) - 1:
        raise ValueError(f"an audit entry has {len(FIELDS) - 1} fields, got {len(values)}")
    parts = [f"{len(VERSION)}:{VERSION}\n"]
    for value in values:
        parts.append("-\n" if value is None else f"{len(value)}:{value}\n")
    return "".join(parts).encode()


def entry_hash(values: Sequence[str | None]) -> str:
    """SHA-256 of the canonical bytes, as lowercase hex."""
    return hashlib.sha256(canonical(values)).hexdigest()
