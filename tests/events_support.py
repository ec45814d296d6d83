"""Builders for event-pipeline tests: consenting users and seed-001 payloads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tenantry.db.engine import Database
from tenantry.ids import uuid7
from tenantry.models import Membership, User
from tenantry.models.enums import ConsentPurpose
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.services.privacy.consent import append_consent
from tests.factories import NOTICE, TEST_MASTER

NOW = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


def member(db: Database, tenant_id: uuid.UUID, *, consent: str | None = "granted") -> uuid.UUID:
    """A user of the tenant whose subject has the given analytics decision (None: no subject)."""
    with db.platform_uow(tenant_id=tenant_id) as uow:
        user = User(id=uow.ids(), email=f"user-{uuid.uuid4().hex[:10]}@example.com")
        uow.session.add(user)
        uow.flush()
        uow.session.add(
            Membership(tenant_id=tenant_id, id=uow.ids(), user_id=user.id, role="staff")
        )
        if consent is not None:
            ring = KeyRing(uow, TEST_MASTER)
            subject = resolve_subject(uow, ring, email=user.email)
            append_consent(
                uow, subject.id, ConsentPurpose.ANALYTICS, consent, source="test", notice=NOTICE
            )
        uow.commit()
        return user.id


def pseudonym_of(db: Database, tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
    from tenantry.privacy.subjects import find_subject

    with db.platform_uow(tenant_id=tenant_id) as uow:
        user = uow.session.get(User, user_id)
        assert user is not None
        subject = find_subject(uow, KeyRing(uow, TEST_MASTER), email=user.email)
        assert subject is not None
        return subject.pseudonym


def event(
    event_type: str = "step_completed",
    *,
    user_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
    properties: dict[str, Any] | None = None,
    external_ids: dict[str, str] | None = None,
    at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    props = properties if properties is not None else {"step_id": "profile", "duration_seconds": 42}
    payload: dict[str, Any] = {
        "event_id": str(event_id or uuid7()),
        "timestamp": (at or NOW - timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        "event_type": event_type,
        "properties": props,
        "external_ids": external_ids or {},
    }
    if user_id is not None:
        payload["user_id"] = str(user_id)
    if location_id is not None:
        payload["location_id"] = str(location_id)
    return payload
