"""Double opt-in: a confirmation token bound to a subject, a purpose and an address.

The token itself goes to the subject (by e-mail) and is never stored: only its SHA-256. It is
single use and lives 7 days; an expired or replayed token is refused. Confirmation appends a
`granted` decision with source `double_opt_in` to the consent journal. Unconfirmed sign-ups
are purged once their token has expired.

`start_opt_in` and `confirm_opt_in` are the entrypoints' services: they take the acting
`Principal` and need its `write_crm` permission, as recording consent does. `issue_opt_in` and
`redeem_opt_in` are the same steps unchecked, for internal callers (the demo).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models import ConsentEntry, DoiToken, Subject, SubjectKey
from tenantry.models.enums import ConsentDecision, ConsentPurpose
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import email_index, resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Action, Principal
from tenantry.services.privacy.consent import Notice, append_consent

__all__ = [
    "DOI_TTL",
    "InvalidTokenError",
    "PendingOptIn",
    "confirm_opt_in",
    "issue_opt_in",
    "purge_unconfirmed",
    "redeem_opt_in",
    "start_opt_in",
]

DOI_TTL = timedelta(days=7)


class InvalidTokenError(ValidationError):
    """The confirmation link is invalid, expired or already used."""


@dataclass(frozen=True)
class PendingOptIn:
    token: str  # hand to the subject; never stored or logged
    token_id: uuid.UUID
    subject_id: uuid.UUID


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def start_opt_in(
    uow: UnitOfWork, principal: Principal, *, email: str, purpose: ConsentPurpose, notice: Notice
) -> PendingOptIn:
    """Register a pending opt-in and return the token to send to `email`."""
    principal.require(Action.WRITE_CRM, "start a double opt-in")
    return issue_opt_in(uow, keyring(uow), email=email, purpose=purpose, notice=notice)


def confirm_opt_in(
    uow: UnitOfWork, principal: Principal, token: str, *, notice: Notice, email: str | None = None
) -> ConsentEntry:
    """Confirm with the token from the link; refuses unknown, expired and used tokens."""
    principal.require(Action.WRITE_CRM, "confirm a double opt-in")
    return redeem_opt_in(uow, keyring(uow), token, notice=notice, email=email)


def issue_opt_in(
    uow: UnitOfWork, ring: KeyRing, *, email: str, purpose: ConsentPurpose, notice: Notice
) -> PendingOptIn:
    """`start_opt_in` without a principal: for internal callers."""
    subject = resolve_subject(uow, ring, email=email)
    token = secrets.token_urlsafe(32)
    now = uow.clock.now()
    row = DoiToken(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        subject_id=subject.id,
        purpose=purpose,
        address_bidx=email_index(ring, email),
        token_hash=_hash(token),
        notice_version=notice.version,
        notice_hash=notice.sha256,
        created_at=now,
        expires_at=now + DOI_TTL,
    )
    uow.session.add(row)
    uow.flush()
    return PendingOptIn(token, row.id, subject.id)


def redeem_opt_in(
    uow: UnitOfWork, ring: KeyRing, token: str, *, notice: Notice, email: str | None = None
) -> ConsentEntry:
    """`confirm_opt_in` without a principal: for internal callers."""
    if not token or len(token) > 200:
        raise InvalidTokenError()
    row = uow.session.scalars(
        sa.select(DoiToken)
        .where(DoiToken.tenant_id == uow.require_tenant(), DoiToken.token_hash == _hash(token))
        .with_for_update()
    ).one_or_none()
    now = uow.clock.now()
    if row is None:
        raise InvalidTokenError()
    if row.confirmed_at is not None:
        raise InvalidTokenError("this confirmation link has already been used")
    if row.expires_at <= now:
        raise InvalidTokenError("this confirmation link has expired")
    if email is not None and email_index(ring, email) != row.address_bidx:
        raise InvalidTokenError()
    if notice.sha256 != row.notice_hash:
        raise ValidationError("the notice differs from the one the subject was shown")
    row.confirmed_at = now
    return append_consent(
        uow,
        row.subject_id,
        row.purpose,
        ConsentDecision.GRANTED,
        source="double_opt_in",
        notice=notice,
        doi_token_id=row.id,
    )


def purge_unconfirmed(uow: UnitOfWork, *, dry_run: bool = False) -> int:
    """Delete expired, unconfirmed tokens, and subjects left with nothing but them."""
    tenant, now = uow.require_tenant(), uow.clock.now()
    expired = sa.and_(
        DoiToken.tenant_id == tenant, DoiToken.confirmed_at.is_(None), DoiToken.expires_at <= now
    )
    other = aliased(DoiToken)
    orphans = sa.select(DoiToken.subject_id).where(
        expired,
        ~sa.exists().where(
            ConsentEntry.tenant_id == tenant, ConsentEntry.subject_id == DoiToken.subject_id
        ),
        ~sa.exists().where(
            other.tenant_id == tenant,
            other.subject_id == DoiToken.subject_id,
            other.id != DoiToken.id,
            sa.or_(other.confirmed_at.is_not(None), other.expires_at > now),
        ),
    )
    subject_ids = list(uow.session.scalars(orphans))
    count = int(
        uow.session.scalar(sa.select(sa.func.count()).select_from(DoiToken).where(expired)) or 0
    )
    if dry_run:
        return count
    uow.session.execute(sa.delete(DoiToken).where(expired))
    if subject_ids:
        uow.session.execute(
            sa.delete(SubjectKey).where(
                SubjectKey.tenant_id == tenant, SubjectKey.subject_id.in_(subject_ids)
            )
        )
        uow.session.execute(
            sa.delete(Subject).where(Subject.tenant_id == tenant, Subject.id.in_(subject_ids))
        )
    return count
