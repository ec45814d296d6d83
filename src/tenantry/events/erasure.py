"""Erasure of a data subject from the event pipeline's OLTP side, and the lake's needles.

The privacy kernel's erasure calls, in this order and before it overwrites the subject's
pseudonym: `lake_needles` (what identifies the subject in the lake), `erase_subject_events`
(the subject's rows in `events.inbox`), `erase_subject_changes` (its consent changes in
`events.outbox`), then `tenantry.lake.erasure.erase_subject_from_lake` with those needles.
Events are found by the subject's pseudonym (`user_key`) and, for e-mail events without a
user, by the keyed hash of the address.
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.events.ingest import email_key
from tenantry.lake.vocabulary import EMAIL_KEY
from tenantry.privacy.keys import KeyRing

__all__ = ["erase_subject_changes", "erase_subject_events", "lake_needles"]


def lake_needles(ring: KeyRing, *, pseudonym: str | None, email: str | None) -> list[str]:
    """The subject's values as written to the lake: pseudonym and keyed e-mail hash."""
    needles = []
    if pseudonym:
        needles.append(pseudonym)
    if email:
        with contextlib.suppress(ValidationError):  # not an address: nothing was stored for it
            needles.append(email_key(ring, email))
    return needles


def erase_subject_events(uow: UnitOfWork, needles: list[str]) -> int:
    """Delete the tenant's inbox rows of the subject; returns how many were deleted."""
    if not needles:
        return 0
    result = uow.session.execute(
        sa.text(
            "DELETE FROM events.inbox WHERE tenant_id = :t"
            " AND (user_key = ANY(:n) OR properties->>:k = ANY(:n))"
        ),
        {"t": uow.require_tenant(), "n": needles, "k": EMAIL_KEY},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def erase_subject_changes(uow: UnitOfWork, needles: list[str]) -> int:
    """Delete the tenant's outbox rows naming the subject (its consent changes carry the
    pseudonym as `user_key`); returns how many were deleted."""
    if not needles:
        return 0
    result = uow.session.execute(
        sa.text(
            "DELETE FROM events.outbox WHERE tenant_id = :t AND payload->>'user_key' = ANY(:n)"
        ),
        {"t": uow.require_tenant(), "n": needles},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
