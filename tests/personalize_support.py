"""A tenant whose users have lake profiles built the real way: events through ingestion, the
relay, one pipeline run. For the personalization tests (integration, HTTP and CLI).

Users (all members of the tenant, with analytics consent so their events are stored):
`low` (2 completed steps: engagement low, tone encouraging), `facts` (6 steps: medium, tone
facts), `bandit` (12 steps: high, tone brief), `grower` (like `low`, for tests that publish
more events), `no_consent` (12 steps, tone facts, but no personalisation consent) and
`no_events` (consent, nothing in the lake). Another tenant has one user, `stranger`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tenantry.db.engine import Database
from tenantry.events.ingest import ingest_batch
from tenantry.events.relay import relay_once
from tenantry.ids import uuid7
from tenantry.models import Membership, User
from tenantry.models.enums import ConsentPurpose
from tenantry.pipeline.runner import run_pipeline
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.privacy.consent import append_consent
from tests.conftest import TEST_MASTER, TenantFixture, make_tenant
from tests.factories import NOTICE

# user kind -> (completed steps, persona, tone, form of address)
KINDS: dict[str, tuple[int, str, str, str]] = {
    "low": (2, "solo-sarah", "encouraging", "du"),
    "facts": (6, "ketten-katrin", "facts", "sie"),
    "bandit": (12, "wachstums-walter", "brief", "neutral"),
    "grower": (2, "bewahrer-ben", "encouraging", "sie"),
    "no_consent": (12, "solo-sarah", "facts", "du"),
}
FIRST_DAY = 5  # days ago of a user's first event


@dataclass
class World:
    db: Database
    home: Path
    tenant: uuid.UUID
    other: uuid.UUID
    users: dict[str, uuid.UUID]
    stranger: uuid.UUID
    emails: dict[str, str] = field(default_factory=dict)
    fixture: TenantFixture | None = None  # the tenant's locations and principals

    def consent(self, kind: str, decision: str) -> None:
        """Record a personalisation decision (granted, withdrawn) for the user's subject."""
        with self.db.platform_uow(tenant_id=self.tenant) as uow:
            subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email=self.emails[kind])
            append_consent(
                uow,
                subject.id,
                ConsentPurpose.PERSONALISATION,
                decision,
                source="test",
                notice=NOTICE,
            )
            uow.commit()

    def ingest(self, events: list[dict[str, Any]], tenant: uuid.UUID | None = None) -> None:
        with self.db.tenant_uow(tenant or self.tenant) as uow:
            result = ingest_batch(uow, keyring(uow), events)
            uow.commit()
        assert result.accepted == len(events), result.as_json()

    def publish(self) -> None:
        """Relay the stored events into the lake and run the pipeline."""
        relay_once(self.db, self.home)
        run = run_pipeline(self.home)
        assert run.status == "ok", [r for r in run.dq if not r.passed]


def member(db: Database, tenant: uuid.UUID, email: str, *purposes: ConsentPurpose) -> uuid.UUID:
    """A member of the tenant whose subject has granted the purposes."""
    with db.platform_uow(tenant_id=tenant) as uow:
        user = User(id=uow.ids(), email=email)
        uow.session.add(user)
        uow.flush()
        uow.session.add(Membership(tenant_id=tenant, id=uow.ids(), user_id=user.id, role="staff"))
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email=email)
        for purpose in purposes:
            append_consent(uow, subject.id, purpose, "granted", source="test", notice=NOTICE)
        uow.commit()
        return user.id


def onboarding(
    user: uuid.UUID, steps: int, persona: str, tone: str, address: str, *, now: datetime
) -> list[dict[str, Any]]:
    """A user's onboarding: a first step `FIRST_DAY` days ago, then `steps` completed steps."""
    prefs = {"tone": tone, "address": address, "help_level": "medium"}
    first = now - timedelta(days=FIRST_DAY)

    def ev(event_type: str, at: datetime, step: str) -> dict[str, Any]:
        props = {"step_id": step, "persona": persona, "comm_prefs": prefs, "duration_seconds": 40}
        return {
            "event_id": str(uuid7()),
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "event_type": event_type,
            "user_id": str(user),
            "properties": props,
        }

    out = [ev("step_started", first, "welcome")]
    out += [
        ev("step_completed", now - timedelta(hours=2, minutes=i), f"step_{i}") for i in range(steps)
    ]
    return out


def build_world(db: Database, home: Path) -> World:
    """The tenant, its users and their events, published to the lake under `home`."""
    now = datetime.now(UTC).replace(microsecond=0)
    fixture = make_tenant(db, locations=1)
    tenant = fixture.id
    other = make_tenant(db, locations=1).id
    both = (ConsentPurpose.ANALYTICS, ConsentPurpose.PERSONALISATION)
    emails = {
        k: f"pers-{k.replace('_', '-')}-{uuid.uuid4().hex[:6]}@example.com"
        for k in (*KINDS, "no_events")
    }
    users = {
        k: member(db, tenant, email, *(both if k != "no_consent" else both[:1]))
        for k, email in emails.items()
    }
    stranger = member(db, other, f"pers-stranger-{uuid.uuid4().hex[:6]}@example.org", *both)
    world = World(db, home, tenant, other, users, stranger, emails, fixture)
    events = [e for kind, spec in KINDS.items() for e in onboarding(users[kind], *spec, now=now)]
    world.ingest(events)
    world.ingest(onboarding(stranger, 2, "solo-sarah", "facts", "du", now=now), tenant=other)
    world.publish()
    return world
