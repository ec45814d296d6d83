"""The analytics feed end to end on real events: every documented event type through `POST
/v1/events`, consent, accounts and locations through the database's outbox, the relay, one
pipeline run, and then every table and column the catalog lists holds values derived from
those events (a new table or column without a source fails here).

The test has a database of its own (`tests.private_db`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.events.relay import relay_once
from tenantry.ids import uuid7
from tenantry.lake import vocabulary
from tenantry.lake.erasure import lake_scan
from tenantry.lake.raw import table_path
from tenantry.lake.writer import DOMAIN_EVENTS, DOMAIN_EVENTS_SCHEMA
from tenantry.models import Location, Membership, User
from tenantry.models.enums import ConsentPurpose, LegalForm, MembershipRole, Vertical
from tenantry.pipeline.catalog import MODELS, Model, model_path
from tenantry.pipeline.lakeio import register
from tenantry.pipeline.runner import run_pipeline
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.services.platform import create_tenant
from tenantry.services.principal import Principal
from tenantry.services.privacy.consent import append_consent
from tenantry.services.privacy.doi import issue_opt_in, redeem_opt_in
from tenantry.services.resources import create_location
from tests.conftest import TEST_MASTER
from tests.e2e.api.conftest import api_settings, issue_key
from tests.factories import NOTICE
from tests.private_db import private_database

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Feed:
    db: Database
    client: TestClient
    home: Path


@pytest.fixture(scope="module")
def feed(
    server: DatabaseTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Feed]:
    home = tmp_path_factory.mktemp("feed-home")
    with private_database(server, settings, "feed") as db:
        app = create_app(db, settings=api_settings(settings, home=home))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Feed(db, client, home)


def _user(db: Database, tenant_id: uuid.UUID, email: str) -> uuid.UUID:
    """A member of the tenant whose subject allows analytics (the consent journal's entry)."""
    with db.platform_uow(tenant_id=tenant_id) as uow:
        user = User(id=uow.ids(), email=email)
        uow.session.add(user)
        uow.flush()
        uow.session.add(
            Membership(tenant_id=tenant_id, id=uow.ids(), user_id=user.id, role="staff")
        )
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email=email)
        append_consent(
            uow, subject.id, ConsentPurpose.ANALYTICS, "granted", source="test", notice=NOTICE
        )
        uow.commit()
        return user.id


def _marketing(
    db: Database, tenant_id: uuid.UUID, email: str, *decisions: str, expires: bool = False
) -> None:
    with db.platform_uow(tenant_id=tenant_id) as uow:
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email=email)
        for decision in decisions:
            append_consent(
                uow,
                subject.id,
                ConsentPurpose.MARKETING_EMAIL,
                decision,
                source="test",
                notice=NOTICE,
                expires_at=NOW + timedelta(days=365) if expires else None,
            )
        uow.commit()


def _double_opt_in(db: Database, tenant_id: uuid.UUID, email: str) -> None:
    """A confirmed double opt-in for a purpose other than marketing: e-mail verified only."""
    with db.platform_uow(tenant_id=tenant_id) as uow:
        ring = KeyRing(uow, TEST_MASTER)
        pending = issue_opt_in(
            uow, ring, email=email, purpose=ConsentPurpose.VC_REPORT, notice=NOTICE
        )
        redeem_opt_in(uow, ring, pending.token, notice=NOTICE)
        uow.commit()


def _ev(event_type: str, at: datetime, props: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    out = {
        "event_id": str(uuid7()),
        "timestamp": at.isoformat(),
        "event_type": event_type,
        "properties": props,
    }
    return out | {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in envelope.items()}


@dataclass
class World:
    tenant: uuid.UUID
    location: uuid.UUID
    users: dict[str, uuid.UUID]
    emails: dict[str, str]
    sent: list[dict[str, Any]]


@pytest.fixture(scope="module")
def world(feed: Feed) -> World:
    db = feed.db
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug=f"feed-{uuid.uuid4().hex[:8]}",
            legal_name="Feed Test GmbH",
            display_name="Trattoria Feed",
            vertical=Vertical.RESTAURANT,
            legal_form=LegalForm.GMBH,
        )
        uow.commit()
        tenant_id = tenant.id
    owner = Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)
    with db.tenant_uow(tenant_id) as uow:
        loc = create_location(
            uow,
            owner,
            name="Am Markt",
            slug="am-markt",
            vertical=Vertical.RESTAURANT,
            street="Marktplatz",
            house_number="1",
            city="Potsdam",
            country="DE",
            latitude=Decimal("52.400000"),
            longitude=Decimal("13.060000"),
            price_range=2,
            google_place_id="ChIJfeedtestplace",
        )
        uow.commit()
        location_id = loc.id
    with db.tenant_uow(tenant_id) as uow:  # an update reaches the lake as well
        row = uow.session.get(Location, (tenant_id, location_id))
        assert row is not None
        row.city = "Berlin"
        uow.commit()

    emails = {
        k: f"feed-{k}-{uuid.uuid4().hex[:6]}@example.com" for k in ("opted", "verified", "none")
    }
    users = {k: _user(db, tenant_id, e) for k, e in emails.items()}
    _marketing(db, tenant_id, emails["opted"], "granted", expires=True)
    _double_opt_in(db, tenant_id, emails["verified"])
    _marketing(db, tenant_id, emails["none"], "granted", "withdrawn")

    a = users["opted"]
    step = {
        "step_id": "business_basics",
        "persona": "solo-sarah",
        "comm_prefs": {"tone": "facts", "address": "du", "help_level": "low"},
        "duration_seconds": 30,
    }
    mail = {
        "email": emails["opted"].upper(),
        "campaign_id": "cmp-feed",
        "copy_variant": "copy-a",
        "subject_variant": "subj-1",
    }
    check = {"overall_score": 50, "gbp_score": 40, "social_score": 30, "web_score": 20}
    check |= {"competitor_count": 4, "processing_time_seconds": 12}
    t = NOW - timedelta(hours=2)
    sent = [
        _ev("step_started", t, step, user_id=a),
        _ev("step_completed", t, step, user_id=a, external_ids={"ga4_client_id": "123.456"}),
        _ev("step_skipped", t, step | {"step_id": "goals"}, user_id=a),
        _ev("step_abandoned", t, step | {"step_id": "gbp_connect"}, user_id=a),
        _ev("onb_complete", t, {"persona": "solo-sarah", "duration_seconds": 600}, user_id=a),
        _ev("visibility_check_requested", t, {"check_id": str(uuid.uuid4())}, user_id=a),
        _ev(
            "visibility_check_completed",
            NOW - timedelta(days=10),
            check | {"check_id": str(uuid.uuid4())},
            user_id=a,
            location_id=location_id,
        ),
        _ev(
            "visibility_check_completed",
            t,
            check | {"check_id": str(uuid.uuid4()), "overall_score": 70},
            user_id=a,
            location_id=location_id,
            external_ids={"gbp_place_id": "ChIJfeedtestplace"},
        ),
        *(_ev(e, t, mail, user_id=a) for e in vocabulary.family("email")),
        _ev("login_oauth", t, {"provider": "google", "success": True}, user_id=a),
        _ev(
            "login_oauth",
            t,
            {"provider": "facebook", "success": False, "error_code": "access_denied"},
            user_id=a,
        ),
        _ev("login", t + timedelta(minutes=5), {"method": "password", "success": True}, user_id=a),
    ]
    headers = issue_key(db, tenant_id)
    r = feed.client.post("/v1/events", json=sent, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"], body["suppressed"]) == (len(sent), 0, 0), body
    return World(tenant_id, location_id, users, emails, sent)


@pytest.fixture(scope="module")
def built(feed: Feed, world: World) -> Path:
    relay_once(feed.db, feed.home)
    run = run_pipeline(feed.home)
    assert run.status == "ok", [r for r in run.dq if not r.passed]
    return feed.home


def _rows(home: Path, m: Model, tenant: uuid.UUID) -> list[dict[str, Any]]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    register(con, "t", model_path(home, m), m.schema, partition_by=m.partition_by)
    where = f"tenant_id = '{tenant}'" if "tenant_id" in m.schema.names else "true"
    return con.sql(f"SELECT * FROM t WHERE {where}").to_arrow_table().to_pylist()


def test_the_request_covers_every_event_type_a_client_may_send(world: World) -> None:
    assert {e["event_type"] for e in world.sent} == set(vocabulary.INGESTED)


def test_clients_cannot_send_consent_or_master_data(feed: Feed, world: World) -> None:
    batch = [_ev(t, NOW, {"purpose": "marketing_email"}) for t in vocabulary.OUTBOX]
    r = feed.client.post("/v1/events", json=batch, headers=issue_key(feed.db, world.tenant))
    assert r.json()["rejected"] == len(vocabulary.OUTBOX)
    assert all("event_type" in x["reason"] for x in r.json()["results"])


def test_the_outbox_brings_every_database_change_type(built: Path, world: World) -> None:
    con = duckdb.connect()
    register(con, "d", table_path(built, "raw", DOMAIN_EVENTS), DOMAIN_EVENTS_SCHEMA)
    types = con.execute(
        "SELECT DISTINCT event_type FROM d WHERE tenant_id = $t", {"t": str(world.tenant)}
    ).fetchall()
    assert {t for (t,) in types} == set(vocabulary.OUTBOX)


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.name)
def test_every_catalog_column_has_values_from_the_events(
    built: Path, world: World, m: Model
) -> None:
    rows = _rows(built, m, world.tenant)
    assert rows, f"{m.name} has no rows for the tenant"
    empty = [c for c in m.schema.names if all(r[c] in (None, "", "{}", "[]") for r in rows)]
    assert empty == [], f"{m.name}: no value in {empty}"


def test_each_fact_holds_the_events_of_its_types(built: Path, world: World) -> None:
    for e in vocabulary.EVENT_TYPES:
        facts = [f for f in e.feeds if f.startswith("fact_")]
        if e.channel != "ingest" or not facts:
            continue
        ids = {
            r["event_id"]
            for r in _rows(built, next(m for m in MODELS if m.name == facts[0]), world.tenant)
        }
        sent = {s["event_id"] for s in world.sent if s["event_type"] == e.name}
        assert sent <= ids, e.name


def _one(built: Path, name: str, world: World, **match: Any) -> dict[str, Any]:
    m = next(x for x in MODELS if x.name == name)
    found = [r for r in _rows(built, m, world.tenant) if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (name, match, len(found))
    return found[0]


def test_values_are_exactly_what_the_events_and_changes_imply(built: Path, world: World) -> None:
    segments = {
        r["consent_state"]
        for r in _rows(built, next(m for m in MODELS if m.name == "segments"), world.tenant)
    }
    assert segments == {"marketing_opted_in", "email_only", "unverified"}
    account = _one(built, "dim_account", world, account_id=str(world.tenant))
    assert (account["business_name"], account["main_category"], account["price_range"]) == (
        "Trattoria Feed",
        "restaurant",
        "€€",
    )
    location = _one(built, "dim_location", world, location_id=str(world.location))
    assert (location["city"], location["address"], location["gbp_place_id"]) == (
        "Berlin",
        "Marktplatz 1",
        "ChIJfeedtestplace",
    )
    assert (location["latitude"], location["longitude"]) == (52.4, 13.06)
    features = _rows(built, next(m for m in MODELS if m.name == "ml_user_features"), world.tenant)
    [f] = features
    assert (f["login_count_30d"], f["email_opens_30d"], f["email_clicks_30d"]) == (1, 1, 1)
    assert (f["vc_score_delta_7d"], f["preferred_comm_tone"], f["steps_completed_30d"]) == (
        20,
        "facts",
        1,
    )
    emails = _rows(built, next(m for m in MODELS if m.name == "fact_email_events"), world.tenant)
    assert len({r["email_hash"] for r in emails}) == 1 and len(emails[0]["email_hash"]) == 64


def test_no_address_and_no_user_id_reaches_the_lake(built: Path, world: World) -> None:
    needles = [*world.emails.values(), *(str(u) for u in world.users.values())]
    needles += [e.upper() for e in world.emails.values()]
    assert lake_scan(built, needles) == []
