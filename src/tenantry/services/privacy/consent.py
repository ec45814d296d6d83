"""Consent: an append-only journal of decisions, the current state, and gating.

Processing for a purpose is allowed only while the subject's latest decision for it is
`granted` and not expired. Services gate with `require_consent()`; queries join the SQL view
`privacy.active_consents` (same rule, evaluated by the database at `now()`). Entries record the
exact notice text the subject saw by its SHA-256 and version.

`record_consent` and `read_consent` are the entrypoints' services: they take the acting
`Principal` and check its role (recording needs `write_crm`, reading `read`), so the API and
the CLI are held to one rule. `append_consent`, `consent_status` and the gates are the
unchecked steps that internal code (ingestion, double opt-in, the demo) builds on.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import PermissionDeniedError, ValidationError
from tenantry.models import ConsentEntry, Subject
from tenantry.models.enums import ConsentDecision, ConsentPurpose, LegalBasis
from tenantry.privacy.subjects import find_subject, resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Action, Principal

__all__ = [
    "ConsentRequiredError",
    "ConsentStatus",
    "Notice",
    "SubjectConsent",
    "append_consent",
    "consent_history",
    "consent_status",
    "has_consent",
    "read_consent",
    "record_consent",
    "require_consent",
]


class ConsentRequiredError(PermissionDeniedError):
    """No valid consent for this purpose: missing, denied, withdrawn or expired."""


@dataclass(frozen=True)
class Notice:
    """The privacy notice text a subject was shown, identified by version and hash."""

    version: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class ConsentStatus:
    purpose: ConsentPurpose
    decision: ConsentDecision | None
    recorded_at: datetime | None
    expires_at: datetime | None
    active: bool
    reason: str


@dataclass(frozen=True)
class SubjectConsent:
    """A subject's consent per purpose; `pseudonym` is None when the address is unknown."""

    pseudonym: str | None
    states: list[ConsentStatus]


def record_consent(
    uow: UnitOfWork,
    principal: Principal,
    *,
    email: str,
    purpose: ConsentPurpose | str,
    decision: ConsentDecision | str,
    source: str,
    notice: Notice,
    expires_at: datetime | None = None,
) -> ConsentEntry:
    """Record the decision of the subject with this address (created if new)."""
    principal.require(Action.WRITE_CRM, "record consent")
    subject = resolve_subject(uow, keyring(uow), email=email)
    return append_consent(
        uow, subject.id, purpose, decision, source=source, notice=notice, expires_at=expires_at
    )


def read_consent(
    uow: UnitOfWork,
    principal: Principal,
    *,
    email: str,
    purposes: tuple[ConsentPurpose, ...] = tuple(ConsentPurpose),
) -> SubjectConsent:
    """The current state per purpose of the subject with this address (read-only).

    An unknown address reads as consent `missing` for every purpose; nothing is created.
    """
    principal.require(Action.READ, "read consent")
    subject = find_subject(uow, keyring(uow), email=email)
    if subject is None:
        return SubjectConsent(
            None, [ConsentStatus(p, None, None, None, False, "missing") for p in purposes]
        )
    return SubjectConsent(subject.pseudonym, [consent_status(uow, subject.id, p) for p in purposes])


def append_consent(
    uow: UnitOfWork,
    subject_id: uuid.UUID,
    purpose: ConsentPurpose | str,
    decision: ConsentDecision | str,
    *,
    source: str,
    notice: Notice,
    expires_at: datetime | None = None,
    legal_basis: LegalBasis = LegalBasis.CONSENT,
    doi_token_id: uuid.UUID | None = None,
) -> ConsentEntry:
    """Append one decision to the journal (unchecked: for internal callers)."""
    try:
        purpose, decision = ConsentPurpose(purpose), ConsentDecision(decision)
    except ValueError as exc:
        raise ValidationError(f"invalid value: {exc}") from exc
    now = uow.clock.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationError("consent cannot expire before it is recorded")
    if not source or not notice.version:
        raise ValidationError("consent needs a source and a notice version")
    subject = uow.session.get(Subject, (uow.require_tenant(), subject_id))
    if subject is None or subject.erased_at is not None:
        raise ValidationError("unknown data subject")
    entry = ConsentEntry(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        subject_id=subject_id,
        purpose=purpose,
        legal_basis=legal_basis,
        decision=decision,
        source=source,
        notice_version=notice.version,
        notice_hash=notice.sha256,
        recorded_at=now,
        expires_at=expires_at,
        doi_token_id=doi_token_id,
    )
    uow.session.add(entry)
    uow.flush()
    return entry


def consent_history(uow: UnitOfWork, subject_id: uuid.UUID) -> list[ConsentEntry]:
    stmt = (
        sa.select(ConsentEntry)
        .where(
            ConsentEntry.tenant_id == uow.require_tenant(), ConsentEntry.subject_id == subject_id
        )
        .order_by(ConsentEntry.recorded_at, ConsentEntry.id)
    )
    return list(uow.session.scalars(stmt))


def consent_status(
    uow: UnitOfWork, subject_id: uuid.UUID, purpose: ConsentPurpose, *, at: datetime | None = None
) -> ConsentStatus:
    """The latest decision for the purpose, evaluated at `at` (default: the clock's now)."""
    at = at or uow.clock.now()
    latest = uow.session.scalars(
        sa.select(ConsentEntry)
        .where(
            ConsentEntry.tenant_id == uow.require_tenant(),
            ConsentEntry.subject_id == subject_id,
            ConsentEntry.purpose == purpose,
            ConsentEntry.recorded_at <= at,
        )
        .order_by(ConsentEntry.recorded_at.desc(), ConsentEntry.id.desc())
        .limit(1)
    ).first()
    if latest is None:
        return ConsentStatus(purpose, None, None, None, False, "missing")
    if latest.decision is not ConsentDecision.GRANTED:
        return ConsentStatus(
            purpose,
            latest.decision,
            latest.recorded_at,
            latest.expires_at,
            False,
            latest.decision.value,
        )
    if latest.expires_at is not None and latest.expires_at <= at:
        return ConsentStatus(
            purpose, latest.decision, latest.recorded_at, latest.expires_at, False, "expired"
        )
    return ConsentStatus(
        purpose, latest.decision, latest.recorded_at, latest.expires_at, True, "granted"
    )


def has_consent(uow: UnitOfWork, subject_id: uuid.UUID, purpose: ConsentPurpose) -> bool:
    return consent_status(uow, subject_id, purpose).active


def require_consent(uow: UnitOfWork, subject_id: uuid.UUID, purpose: ConsentPurpose) -> None:
    """Refuse processing for `purpose` unless the subject's consent is valid now."""
    status = consent_status(uow, subject_id, purpose)
    if not status.active:
        raise ConsentRequiredError(
            f"no valid consent for {purpose.value} ({status.reason})",
            purpose=purpose.value,
            reason=status.reason,
        )
