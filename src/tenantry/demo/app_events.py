"""The demo's app users and their events: a dozen users per demo tenant, created once, with
their consent decisions in the journal, and three weeks of the app events they would send,
ingested exactly as `POST /v1/events` ingests them (`ingest_batch`, one committed unit of work
per batch of at most 500). The users are fictitious (example.com); the events are the
standard payload of seed 001, every client event type of the vocabulary among them.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.events.ingest import MAX_BATCH_EVENTS, ingest_batch
from tenantry.ids import uuid7
from tenantry.lake import vocabulary as v
from tenantry.models import Location, Tenant
from tenantry.models.enums import ConsentPurpose, MembershipRole
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.platform import find_user, grant_membership
from tenantry.services.privacy.consent import Notice, append_consent, consent_status
from tenantry.services.privacy.doi import issue_opt_in, redeem_opt_in

__all__ = ["DEMO_DAYS", "DEMO_USERS", "AppUsers", "app_users", "demo_events", "send"]

DEMO_USERS = 12  # per tenant
DEMO_DAYS = 21
_NOTICE = Notice("demo-2026-01", "Demo notice: analytics of your use of the app; newsletter.")


@dataclass(frozen=True)
class AppUsers:
    """A demo tenant's app users (ids and addresses, in the same order) and its locations."""

    id: uuid.UUID
    slug: str
    users: list[uuid.UUID]
    emails: list[str]
    locations: list[uuid.UUID]


def app_users(db: Database, tenant_id: uuid.UUID) -> AppUsers:
    """The tenant's demo app users, created once, each with analytics consent; a third also
    opted in to the newsletter, a third confirmed a double opt-in, a third neither; the first
    also consented to personalisation."""
    with db.platform_uow(tenant_id=tenant_id, actor="demo") as uow:
        tenant = uow.session.get(Tenant, tenant_id)
        slug = tenant.slug if tenant is not None else str(tenant_id)
        ring = keyring(uow)
        users, emails = [], []
        for i in range(DEMO_USERS):
            email = f"app-user-{i + 1:02d}.{slug}@example.com"
            user = find_user(uow, email)
            if user is None:
                grant_membership(uow, tenant_id=tenant_id, email=email, role=MembershipRole.STAFF)
                user = find_user(uow, email)
                assert user is not None
            subject = resolve_subject(uow, ring, email=email)
            if not consent_status(uow, subject.id, ConsentPurpose.ANALYTICS).active:
                purposes = [ConsentPurpose.ANALYTICS]
                if i % 3 == 0:
                    purposes.append(ConsentPurpose.MARKETING_EMAIL)
                if i == 0:  # the decision services act personalises for this user
                    purposes.append(ConsentPurpose.PERSONALISATION)
                for purpose in purposes:
                    append_consent(
                        uow, subject.id, purpose, "granted", source="demo", notice=_NOTICE
                    )
                if i % 3 == 1:
                    pending = issue_opt_in(
                        uow, ring, email=email, purpose=ConsentPurpose.VC_REPORT, notice=_NOTICE
                    )
                    redeem_opt_in(uow, ring, pending.token, notice=_NOTICE)
            users.append(user.id)
            emails.append(email)
        locations = list(
            uow.session.scalars(
                sa.select(Location.id).where(Location.tenant_id == tenant_id).order_by(Location.id)
            )
        )
        uow.commit()
    return AppUsers(tenant_id, slug, users, emails, locations)


def _check(rng: random.Random, score: int) -> dict[str, Any]:
    return {
        "check_id": str(uuid.UUID(int=rng.getrandbits(128))),
        "overall_score": score,
        "gbp_score": rng.randint(0, 100),
        "social_score": rng.randint(0, 100),
        "web_score": rng.randint(0, 100),
        "competitor_count": rng.randint(0, 20),
        "processing_time_seconds": rng.randint(5, 90),
    }


def _day(
    rng: random.Random,
    email: str,
    persona: str,
    prefs: dict[str, str],
    day: int,
    *,
    last: bool,
    rare: bool,
) -> list[tuple[str, dict[str, Any]]]:
    """One active day of a user: (event type, properties), in the order they happen. `rare`
    makes the rare e-mail outcomes (bounce, complaint, unsubscribe) happen on that day."""
    out: list[tuple[str, dict[str, Any]]] = [("login", {"method": "password", "success": True})]
    for step in rng.sample(v.ONBOARDING_STEPS, rng.randint(1, 3)):
        props: dict[str, Any] = {"step_id": step, "persona": persona, "comm_prefs": prefs}
        outcome = rng.choices(("step_completed", "step_skipped", "step_abandoned"), (8, 1, 1))
        out += [
            ("step_started", props),
            (outcome[0], props | {"duration_seconds": rng.randint(10, 400)}),
        ]
    if last:
        out.append(("onb_complete", {"persona": persona, "duration_seconds": 3600}))
    mail = {
        "email": email,
        "campaign_id": f"cmp-{day // 7}",
        "copy_variant": rng.choice(("copy-a", "copy-b")),
        "subject_variant": rng.choice(("subj-1", "subj-2")),
    }
    out += [("email_sent", mail), ("email_delivered", mail)]
    for kind, chance in (("email_open", 0.6), ("email_click", 0.25), ("email_unsubscribe", 0.02)):
        if rare or rng.random() < chance:
            out.append((kind, mail))
    if rare or rng.random() < 0.03:
        out.append(("email_bounce", mail | {"bounce_type": "transient"}))
    if rare or rng.random() < 0.02:
        out.append(("email_complaint", mail))
    ok = rng.random() < 0.9
    login = {"provider": rng.choice(v.PROVIDERS[:2]), "success": ok}
    out.append(("login_oauth", login if ok else login | {"error_code": "access_denied"}))
    return out


def demo_events(t: AppUsers, end: datetime, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """Three weeks of a tenant's app events as the app sends them (seed 001's standard
    payload), every client event type of the vocabulary among them."""
    rng = random.Random(f"{seed}:{t.slug}")
    start = end - timedelta(days=DEMO_DAYS)
    for i, (user, email) in enumerate(zip(t.users, t.emails, strict=True)):
        persona = rng.choice(v.PERSONAS)
        prefs = {
            "tone": rng.choice(v.TONES),
            "address": rng.choice(v.ADDRESS_FORMS),
            "help_level": rng.choice(v.HELP_LEVELS),
        }
        location = rng.choice(t.locations) if t.locations else None
        days = sorted(rng.sample(range(DEMO_DAYS), rng.randint(4, DEMO_DAYS)))
        score = rng.randint(30, 60)
        for n, day in enumerate(days):
            at = start + timedelta(days=day, hours=rng.randint(7, 20), minutes=rng.randint(0, 59))
            events: list[tuple[str, dict[str, Any], uuid.UUID | None]] = [
                (kind, props, None)
                for kind, props in _day(
                    rng, email, persona, prefs, day, last=n == len(days) - 1, rare=i == n == 0
                )
            ]
            if (n == 0 or day % 5 == 0) and location is not None:
                score = max(0, min(100, score + rng.randint(-5, 12)))
                check = _check(rng, score)
                events += [
                    ("visibility_check_requested", {"check_id": check["check_id"]}, location),
                    ("visibility_check_completed", check, location),
                ]
            for k, (kind, props, loc) in enumerate(events):
                payload: dict[str, Any] = {
                    "event_id": str(uuid7()),
                    "timestamp": (at + timedelta(minutes=k)).isoformat(),
                    "event_type": kind,
                    "user_id": str(user),
                    "properties": props,
                }
                if loc is not None:
                    payload["location_id"] = str(loc)
                yield payload


def send(db: Database, tenant_id: uuid.UUID, events: list[dict[str, Any]]) -> tuple[int, int]:
    """Ingest in API-sized batches, one committed unit of work each, as `POST /v1/events`
    does; returns (accepted, not accepted)."""
    accepted = other = 0
    for i in range(0, len(events), MAX_BATCH_EVENTS):
        with db.tenant_uow(tenant_id, actor="demo:app") as uow:
            result = ingest_batch(uow, keyring(uow), events[i : i + MAX_BATCH_EVENTS])
            uow.commit()
        accepted += result.accepted
        other += result.rejected + result.suppressed + result.duplicate
    return accepted, other
