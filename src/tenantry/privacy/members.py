"""Which data subject a user of the tenant is, and whether it consents to a purpose now.

A user (`identity.users`, global and sealed under the platform key) is a person of the tenant
through a membership. Its data subject is the tenant's live (not erased) subject registered
under the user's e-mail, found by the blind index under the tenant's key, never by the address.
Ingestion (consent for `analytics`) and the personalization runtime (consent for
`personalisation`) both ask this question; this module is the one place that answers it.

`member_subjects` answers it for a batch (ingestion). `MemberSubjects.find` answers it for one
user per request: finding the subject means opening the sealed address and hashing it, so the
user -> subject link is kept in process (`ExpiringCache`), together with the user's platform
blind index it was derived from; every call still runs one statement that checks the
membership, that the user's address is unchanged, that the subject is live, and reads the
consent as the database has it now. A withdrawn consent, an erasure or a removed membership
therefore counts from the next call on; a changed address derives the link again. Reads only;
opened addresses stay in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenantry.cache import ExpiringCache
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models import Membership, User
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import email_index
from tenantry.privacy.vault import keyring

__all__ = ["LinkChangedError", "MemberSubject", "MemberSubjects", "member_subjects"]

# The consent rule, for a subject row `s`: active consent for the purpose `%(p)s` now.
_CONSENTS = (
    "EXISTS (SELECT 1 FROM privacy.active_consents c"
    " WHERE c.tenant_id = s.tenant_id AND c.subject_id = s.id AND c.purpose = %(p)s)"
)


@dataclass(frozen=True, slots=True)
class MemberSubject:
    """A member's live subject: its id, its pseudonym (the lake's `user_key`), and whether it
    has active consent for the purpose asked."""

    subject_id: uuid.UUID
    pseudonym: str
    consents: bool


def _members(
    uow: UnitOfWork, ring: KeyRing, users: Collection[uuid.UUID], purpose: str
) -> tuple[dict[uuid.UUID, MemberSubject | None], dict[uuid.UUID, bytes]]:
    """The members' subjects, and the platform blind index of each member's address."""
    tenant = uow.require_tenant()
    members = uow.session.scalars(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == tenant, User.id.in_(users))
    ).all()
    out: dict[uuid.UUID, MemberSubject | None] = {user.id: None for user in members}
    platform = {user.id: bytes(user.email_bidx) for user in members}
    by_index: dict[bytes, list[uuid.UUID]] = {}
    for user in members:  # the address is sealed: opened here, in memory only
        try:
            by_index.setdefault(email_index(ring, user.email), []).append(user.id)
        except ValidationError:
            continue
    if not by_index:
        return out, platform
    rows = (
        uow.session.connection()
        .exec_driver_sql(
            f"SELECT s.email_bidx, s.id, s.pseudonym, {_CONSENTS} FROM privacy.subjects s"
            " WHERE s.tenant_id = %(t)s AND s.erased_at IS NULL AND s.email_bidx = ANY(%(b)s)",
            {"t": tenant, "p": str(purpose), "b": list(by_index)},
        )
        .all()
    )
    for bidx, subject_id, pseudonym, consents in rows:
        found = MemberSubject(subject_id, pseudonym, bool(consents))
        for user_id in by_index[bytes(bidx)]:
            out[user_id] = found
    return out, platform


def member_subjects(
    uow: UnitOfWork, ring: KeyRing, users: Collection[uuid.UUID], purpose: str
) -> dict[uuid.UUID, MemberSubject | None]:
    """The members among `users` -> their live subject (None: they have none).

    Users who are not members of the unit of work's tenant are left out.
    """
    return _members(uow, ring, users, purpose)[0]


# One statement per call: still a member, same address, subject live, consent now.
_CHECK = (
    "SELECT u.email_bidx, s.id IS NOT NULL AS live,"
    f" CASE WHEN s.id IS NULL THEN false ELSE {_CONSENTS} END AS consents"
    " FROM identity.memberships m JOIN identity.users u ON u.id = m.user_id"
    " LEFT JOIN privacy.subjects s"
    "  ON s.tenant_id = m.tenant_id AND s.id = %(s)s AND s.erased_at IS NULL"
    " WHERE m.tenant_id = %(t)s AND m.user_id = %(u)s"
)


class LinkChangedError(Exception):
    """The kept link no longer holds (a new address, an erased subject): derive it again."""


@dataclass(frozen=True, slots=True)
class _Link:
    platform_bidx: bytes  # the user's address, as the link was derived from it
    subject_id: uuid.UUID
    pseudonym: str


class MemberSubjects:
    """`member_subjects` for one user per call, for a request path (see the module docstring).

    `check(tenant, user)` is the statement that confirms a kept link (the caller may run it
    anywhere that binds the tenant, e.g. the API's pipelined reader) and `confirm` reads its
    rows; `find` does both in a unit of work and derives the link when none is kept. Links
    are kept for `ttl` seconds (at most `maxsize`); members without a subject are not kept,
    so a subject created later (a consent recorded) is found by the next call.
    """

    def __init__(self, purpose: str, *, ttl: float = 600.0, maxsize: int = 100_000) -> None:
        self.purpose = str(purpose)
        self._links: ExpiringCache[tuple[uuid.UUID, uuid.UUID], _Link] = ExpiringCache(maxsize, ttl)

    def check(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> tuple[str, dict[str, Any]] | None:
        """The statement (psycopg parameters) that confirms the kept link; None: none kept."""
        link = self._links.get((tenant_id, user_id))
        if link is None:
            return None
        return _CHECK, {"t": tenant_id, "u": user_id, "s": link.subject_id, "p": self.purpose}

    def confirm(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, rows: Sequence[Sequence[Any]]
    ) -> MemberSubject:
        """The subject and its consent now, from the rows of `check`'s statement.

        NotFoundError: the user is no member (any more). LinkChangedError: derive it again.
        """
        key = (tenant_id, user_id)
        link = self._links.get(key)
        if not rows:
            self._links.pop(key)
            raise NotFoundError("user not found")
        platform_bidx, live, consents = rows[0]
        if link is None or bytes(platform_bidx) != link.platform_bidx or not live:
            self._links.pop(key)
            raise LinkChangedError()
        return MemberSubject(link.subject_id, link.pseudonym, bool(consents))

    def find(self, uow: UnitOfWork, user_id: uuid.UUID) -> MemberSubject | None:
        """The user's live subject and its consent now (None: a member without a subject);
        NotFoundError if the user is not a member of the unit of work's tenant."""
        tenant = uow.require_tenant()
        statement = self.check(tenant, user_id)
        if statement is not None:
            rows = uow.session.connection().exec_driver_sql(*statement).all()
            try:
                return self.confirm(tenant, user_id, rows)
            except LinkChangedError:
                pass
        found, platform = _members(uow, keyring(uow), (user_id,), self.purpose)
        if user_id not in found:
            raise NotFoundError("user not found")
        subject = found[user_id]
        if subject is not None:
            link = _Link(platform[user_id], subject.subject_id, subject.pseudonym)
            self._links.put((tenant, user_id), link)
        return subject
