"""Demo of the analytics lake on the path real events take: three weeks of app events for a
dozen users of each demo tenant, sent through ingestion (`ingest_batch`, the service behind
`POST /v1/events`), consent decisions and double opt-ins recorded in the consent journal, the
relay (which also brings the tenants and locations from the outbox), one pipeline run, then
the star schema's table sizes, a segment breakdown and the data-quality report.

Nothing here writes into the lake directly, so the demo's star schema shows that events
accepted by the API reach it. Idempotent: the demo users are created once (fixed addresses),
events are sent only while the demo tenants have none in the inbox or the lake, and a second
pipeline run with nothing new changes no table. The users are fictitious (example.com).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from tenantry.config import Settings
from tenantry.db.engine import Database, open_database
from tenantry.events.ingest import MAX_BATCH_EVENTS, ingest_batch
from tenantry.events.relay import relay_once
from tenantry.ids import uuid7
from tenantry.lake import vocabulary as v
from tenantry.lake.raw import RAW_EVENTS, RAW_EVENTS_SCHEMA, table_path
from tenantry.models import Location, Tenant
from tenantry.models.enums import ConsentPurpose, MembershipRole
from tenantry.pipeline.catalog import model, model_path
from tenantry.pipeline.freshness import pipeline_status
from tenantry.pipeline.lakeio import register
from tenantry.pipeline.render import dq_table, run_table, tables_table
from tenantry.pipeline.runlog import RunRecord, read_dq, read_runs
from tenantry.pipeline.runner import run_pipeline
from tenantry.privacy.consent import Notice, consent_status, record_consent
from tenantry.privacy.doi import confirm_opt_in, start_opt_in
from tenantry.privacy.subjects import resolve_subject
from tenantry.services.platform import find_user, grant_membership

__all__ = ["DEMO_DAYS", "DEMO_USERS", "demo_events", "show_pipeline"]

DEMO_SLUGS = ("demo-trattoria-sole", "demo-schrauber-soehne", "demo-hibachi-heroes")
DEMO_USERS = 12  # per tenant
DEMO_DAYS = 21
_LEVELS = ("high", "medium", "low")
_CONSENT = ("marketing_opted_in", "email_only", "unverified")
_NOTICE = Notice("demo-2026-01", "Demo notice: analytics of your use of the app; newsletter.")


@dataclass(frozen=True)
class _Tenant:
    id: uuid.UUID
    slug: str
    users: list[uuid.UUID]
    emails: list[str]
    locations: list[uuid.UUID]


def _tenants(db: Database) -> dict[str, str]:
    with db.platform_uow() as uow:
        found = {s: uow.repos.tenants.by_slug(s) for s in DEMO_SLUGS}
    return {str(t.id): t.legal_name for t in found.values() if t is not None}


def _users(db: Database, tenant_id: uuid.UUID) -> _Tenant:
    """The tenant's demo app users, created once, each with analytics consent; a third also
    opted in to the newsletter, a third confirmed a double opt-in, a third neither."""
    with db.platform_uow(tenant_id=tenant_id, actor="demo") as uow:
        tenant = uow.session.get(Tenant, tenant_id)
        slug = tenant.slug if tenant is not None else str(tenant_id)
        ring = uow.keyring
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
                for purpose in purposes:
                    record_consent(
                        uow, subject.id, purpose, "granted", source="demo", notice=_NOTICE
                    )
                if i % 3 == 1:
                    pending = start_opt_in(
                        uow, ring, email=email, purpose=ConsentPurpose.VC_REPORT, notice=_NOTICE
                    )
                    confirm_opt_in(uow, ring, pending.token, notice=_NOTICE)
            users.append(user.id)
            emails.append(email)
        locations = list(
            uow.session.scalars(
                sa.select(Location.id).where(Location.tenant_id == tenant_id).order_by(Location.id)
            )
        )
        uow.commit()
    return _Tenant(tenant_id, slug, users, emails, locations)


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


def demo_events(t: _Tenant, end: datetime, seed: int = 2026) -> Iterator[dict[str, Any]]:
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


def _present(db: Database, settings: Settings, tenant_ids: list[str]) -> bool:
    """Whether the demo tenants' events were sent already (still in the inbox, or relayed)."""
    with db.platform_uow() as uow:
        waiting = uow.session.scalar(
            sa.text("SELECT count(*) FROM events.inbox WHERE tenant_id = ANY(:t)"),
            {"t": [uuid.UUID(t) for t in tenant_ids]},
        )
    if waiting:
        return True
    con = duckdb.connect()
    register(con, "raw", table_path(settings.home, "raw", RAW_EVENTS), RAW_EVENTS_SCHEMA)
    row = con.execute(
        "SELECT count(*) FROM raw WHERE tenant_id IN (SELECT unnest($t::VARCHAR[]))",
        {"t": tenant_ids},
    ).fetchall()[0]
    return bool(row[0])


def _send(db: Database, tenant_id: uuid.UUID, events: list[dict[str, Any]]) -> tuple[int, int]:
    """Ingest in API-sized batches, one committed unit of work each, as `POST /v1/events`
    does; returns (accepted, not accepted)."""
    accepted = other = 0
    for i in range(0, len(events), MAX_BATCH_EVENTS):
        with db.tenant_uow(tenant_id, actor="demo:app") as uow:
            result = ingest_batch(uow, uow.keyring, events[i : i + MAX_BATCH_EVENTS])
            uow.commit()
        accepted += result.accepted
        other += result.rejected + result.suppressed + result.duplicate
    return accepted, other


def _segments(settings: Settings, names: dict[str, str]) -> Table:
    m = model("segments")
    con = duckdb.connect()
    register(con, "s", model_path(settings.home, m), m.schema, partition_by=m.partition_by)
    rows = con.execute(
        "SELECT tenant_id, count(*), "
        + ", ".join(f"count(*) FILTER (WHERE engagement_level = '{v}')" for v in _LEVELS)
        + ", "
        + ", ".join(f"count(*) FILTER (WHERE consent_state = '{v}')" for v in _CONSENT)
        + ", count(persona_current) FROM s "
        "WHERE segment_date = (SELECT max(segment_date) FROM s) "
        "AND tenant_id IN (SELECT unnest($t::VARCHAR[])) GROUP BY tenant_id ORDER BY 2 DESC",
        {"t": list(names)},
    ).fetchall()
    t = Table(title="Segments of the latest daily job: users per engagement level and consent")
    t.add_column("tenant")
    for col in ("users", *_LEVELS, *_CONSENT, "active persona"):
        t.add_column(col.replace("_", " "), justify="right")
    for tenant_id, *counts in rows:
        t.add_row(names[tenant_id], *(f"{n:,}" for n in counts))
    return t


def _dq_summary(settings: Settings) -> Table:
    runs = [r for r in read_runs(settings.home) if r["status"] != "noop"]
    results = read_dq(settings.home, runs[0]["run_id"]) if runs else []
    t = Table(title="Data-quality report of the last run (rules per table)")
    for col in ("table", "rules", "passed", "failed"):
        t.add_column(col, justify="left" if col == "table" else "right")
    per: dict[str, list[bool]] = {}
    for r in results:
        per.setdefault(r["table_name"], []).append(bool(r["passed"]))
    for table, passed in per.items():
        failed = passed.count(False)
        t.add_row(
            table, str(len(passed)), str(passed.count(True)), f"[red]{failed}[/]" if failed else "0"
        )
    return t


def _feed(console: Console, db: Database, settings: Settings, ids: list[str]) -> None:
    if _present(db, settings, ids):
        console.print("Demo events already sent: not sent again.")
    else:
        end = datetime.now(UTC) - timedelta(minutes=1)
        sent = accepted = refused = 0
        for tid in ids:
            tenant = _users(db, uuid.UUID(tid))
            events = list(demo_events(tenant, end))
            ok, other = _send(db, tenant.id, events)
            sent, accepted, refused = sent + len(events), accepted + ok, refused + other
        console.print(
            f"Sent {sent:,} app events of {DEMO_USERS * len(ids)} demo users through ingestion "
            f"(the service behind POST /v1/events): {accepted:,} accepted, {refused:,} not."
        )
    report = relay_once(db, settings.home)
    console.print(
        f"Relay: {report.rows.get('inbox', 0):,} events and {report.rows.get('outbox', 0):,} "
        "database changes (consent, accounts, locations) moved to the raw lake."
    )


def show_pipeline(
    console: Console,
    settings: Settings,
    *,
    db: Database | None = None,
    tenants: Mapping[str, str] | None = None,
) -> RunRecord | None:
    """Send the demo's events through ingestion (once), relay, run the pipeline, print what it
    built; returns the run. `tenants` (id -> name) defaults to the seeded demo tenants."""
    own = db is None
    database = db or open_database(settings)
    try:
        names = dict(tenants) if tenants is not None else _tenants(database)
        if not names:
            console.print("Pipeline demo skipped: the demo tenants are not seeded.")
            return None
        _feed(console, database, settings, sorted(names))
    finally:
        if own:
            database.dispose()
    record = run_pipeline(settings.home)
    if record.status == "noop":
        console.print("Pipeline: nothing new since the last run, no table changed.")
    else:
        console.print(run_table(record))
    console.print(tables_table(pipeline_status(settings.home)))
    console.print(_segments(settings, names))
    console.print(_dq_summary(settings))
    failed = [r for r in record.dq if not r.passed]
    if failed:
        console.print(dq_table(failed, only_failed=True))
    return record
