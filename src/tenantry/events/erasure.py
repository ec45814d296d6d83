"""What identifies a data subject in the event pipeline: the lake's needles.

The subject's footprint (`tenantry.services.privacy.footprint`) finds its rows in
`events.inbox`, `events.outbox` and the lake by these values: the subject's pseudonym
(`user_key`) and, for e-mail events without a user, the keyed hash of the address. The
erasure deletes those rows by the footprint and passes the needles to
`tenantry.lake.erasure.erase_subject_from_lake`.
"""

from __future__ import annotations

import contextlib

from tenantry.errors import ValidationError
from tenantry.events.ingest import email_key
from tenantry.privacy.keys import KeyRing

__all__ = ["lake_needles"]


def lake_needles(ring: KeyRing, *, pseudonym: str | None, email: str | None) -> list[str]:
    """The subject's values as written to the lake: pseudonym and keyed e-mail hash."""
    needles = []
    if pseudonym:
        needles.append(pseudonym)
    if email:
        with contextlib.suppress(ValidationError):  # not an address: nothing was stored for it
            needles.append(email_key(ring, email))
    return needles
