"""How an e-mail address is written down: the one normalisation every path uses.

The stored value of an address and its blind index must come from the same spelling, or a
lookup by index finds a record whose shown address differs (or misses it). Every path that
stores, indexes, looks up or searches for an address (the sealed `email` fields, the seed,
subject resolution, consent and double opt-in, erasure, the scan, event ingestion) calls
`normalise_email`; nothing else lower-cases or trims an address.
"""

from __future__ import annotations

import unicodedata

from tenantry.errors import ValidationError

__all__ = ["normalise_email"]


def normalise_email(email: str) -> str:
    """NFKC, trimmed, lower-cased; must look like an address."""
    value = unicodedata.normalize("NFKC", email).strip().lower()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain or " " in value:
        raise ValidationError("not a valid e-mail address")
    return value
