"""Which data subject a user of the tenant is, and whether it consents to a purpose now.

A user (`identity.users`, global and sealed under the platform key) is a person of the tenant
through a membership. Its data subject is the tenant's live (not erased) subject registered
under the user's e-mail, found by the blind index under the tenant's key, never by the address.
Ingestion (consent for `analytics`) and the personalization runtime (consent for
`personalisation`) both ask this question; this module is the one place that answers it. It
reads and never writes; the opened address stays in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import Membership, User
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import email_index

__all__ = ["MemberSubject", "member_subjects"]


@dataclass(frozen=True, slots=True)
class MemberSubject:
    """A member's live subject: its id, its pseudonym (the lake's `user_key`), and whether it
    has active consent for the purpose asked."""

    subject_id: uuid.UUID
    pseudonym: str
    consents: bool


def member_subjects(
    uow: UnitOfWork, ring: KeyRing, users: Collection[uuid.UUID], purpose: str
) -> dict[uuid.UUID, MemberSubject | None]:
    """The members among `users` -> their live subject (None: they have none).

    Users who are not members of the unit of work's tenant are left out.
    """
    tenant = uow.require_tenant()
    members = uow.session.scalars(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant, User.id.in_(users))
    ).all()
    out: dict[uuid.UUID, MemberSubject | None] = {user.id: None for user in members}
    by_index: dict[bytes, list[uuid.UUID]] = {}
    for user in members:  # the address is sealed: opened here, in memory only
        try:
            by_index.setdefault(email_index(ring, user.email), []).append(user.id)
        except ValidationError:
            continue
    if not by_index:
        return out
    rows = uow.session.execute(
        sa.text(
            "SELECT s.email_bidx, s.id, s.pseudonym, EXISTS ("
            "  SELECT 1 FROM privacy.active_consents c"
            "  WHERE c.tenant_id = s.tenant_id AND c.subject_id = s.id AND c.purpose = :p)"
            " FROM privacy.subjects s"
            " WHERE s.tenant_id = :t AND s.erased_at IS NULL AND s.email_bidx = ANY(:bidx)"
        ),
        {"t": tenant, "p": purpose, "bidx": list(by_index)},
    ).all()
    for bidx, subject_id, pseudonym, consents in rows:
        found = MemberSubject(subject_id, pseudonym, bool(consents))
        for user_id in by_index[bytes(bidx)]:
            out[user_id] = found
    return out
