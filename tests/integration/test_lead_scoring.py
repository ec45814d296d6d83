"""Lead scoring: explanations that add up, calibration on generated outcomes, the rules below
the minimum, rescoring through the outbox projection (never in the request), clear errors."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
import sqlalchemy as sa
from bench.lead_scoring import START, make_history

from tenantry.clock import FixedClock
from tenantry.config import Settings
from tenantry.conversations.interactions import record_interaction
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions.lake_tables import LakeTables
from tenantry.decisions.lead_features import (
    FEATURES,
    LakeEngagement,
    NoEngagement,
    feature_matrix,
    load_leads,
)
from tenantry.decisions.lead_model import rules_model
from tenantry.decisions.lead_projection import (
    DAILY,
    DAILY_LOCK,
    LeadRescorer,
    project_lead_scores,
    rescore_daily,
    rescore_open_leads,
)
from tenantry.decisions.lead_scoring import DAILY_REASON, current_model, model_report, train_model
from tenantry.errors import NotFoundError, PermissionDeniedError, ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import (
    Lead,
    LeadScoreHistory,
    OutboxEntry,
    ProjectionPosition,
    Subject,
    VisibilityCheck,
)
from tenantry.models.enums import LeadModelKind, MembershipRole
from tenantry.services import dashboard, leads
from tests.conftest import TenantFixture, make_tenant
from tests.personalize_support import KINDS, World, build_world
from tests.private_db import private_database

NONE = NoEngagement()


def _clocked(db: Database, clock: FixedClock) -> Database:
    return Database(
        target=db.target,
        app_engine=db.app_engine,
        owner_engine=db.owner_engine,
        clock=clock,
        sealing=db.sealing,
    )


@pytest.fixture(scope="module")
def history(db: Database) -> tuple[Database, FixedClock, TenantFixture, list]:  # type: ignore[type-arg]
    """A tenant with 240 decided leads from a known true model and 20 open ones."""
    clock = FixedClock(START)
    cdb = _clocked(db, clock)
    tenant = make_tenant(db, locations=1)
    sims = make_history(cdb, clock, tenant.id, tenant.locations[0], decided=240, open_leads=20)
    clock.set(max(s.decided_at for s in sims if s.decided_at) + timedelta(days=1))
    return cdb, clock, tenant, sims


def _history(db: Database, tenant: TenantFixture, lead_id: uuid.UUID) -> list[LeadScoreHistory]:
    with db.tenant_uow(tenant.id) as uow:
        return uow.repos.leads.score_history(lead_id)


def _adds_up(explanation: dict, score: int) -> None:  # type: ignore[type-arg]
    total = explanation["base"] + sum(explanation["points"].values())
    assert total == pytest.approx(explanation["raw"], abs=1e-4)
    assert round(explanation["raw"]) == score


def test_rules_explanations_add_up_to_the_score(db: Database, tenant: TenantFixture) -> None:
    with db.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="referral",
            email="rules-lead@example.org",
            persona="wachstums-walter",
            estimated_value_cents=250_000,
        )
        uow.commit()
    report = project_lead_scores(db, tenant.id, NONE)
    assert report.rescored >= 1
    [row] = _history(db, tenant, lead.id)
    assert row.model_version == "rules" and row.reason == "rescored"
    assert row.explanation is not None and row.explanation["kind"] == "rules"
    _adds_up(row.explanation, row.score)
    assert row.explanation["points"]["source"] == 25.0
    assert row.explanation["points"]["persona"] == 10.0
    text = str(row.explanation)
    assert "example.org" not in text


def test_model_learnt_from_outcomes_is_calibrated_and_beats_the_constant_rate(
    history: tuple[Database, FixedClock, TenantFixture, list],  # type: ignore[type-arg]
) -> None:
    db, _clock, tenant, _sims = history
    with db.tenant_uow(tenant.id) as uow:
        row = train_model(uow, tenant.principal(), NONE, min_outcomes=30)
        uow.commit()
    assert row.kind is LeadModelKind.LOGISTIC and row.n_outcomes == 240
    with db.tenant_uow(tenant.id) as uow:
        report = model_report(uow, tenant.principal(), NONE)
    cal, back = report["calibration"], report["backtest"]
    assert cal["brier"] < 0.9 * cal["brier_baseline"]
    assert back["model"] == "logistic" and back["n_test"] > 50
    assert back["brier"] < back["brier_baseline"]
    assert back["auc"] > 0.65
    assert len(cal["reliability"]) == 10
    filled = [b for b in cal["reliability"] if b["n"]]
    for b in filled:
        if b["n"] >= 30:
            assert abs(b["predicted"] - b["observed"]) < 0.15, b
    # expected calibration error: the bins' gaps weighted by their leads
    ece = sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in filled) / 240
    assert ece < 0.08


def test_a_trained_model_rescores_the_open_leads_through_the_projection(
    history: tuple[Database, FixedClock, TenantFixture, list],  # type: ignore[type-arg]
) -> None:
    db, _clock, tenant, sims = history
    with db.tenant_uow(tenant.id) as uow:
        row = train_model(uow, tenant.principal(), NONE, min_outcomes=30)
        uow.commit()
    version = f"logistic-v{row.version}"
    open_ids = [s.lead_id for s in sims if s.won is None]
    project_lead_scores(db, tenant.id, NONE)
    with db.tenant_uow(tenant.id) as uow:
        current = current_model(uow)
        facts = load_leads(uow, ids=open_ids)
        x = feature_matrix(uow, facts, NONE)
        expected = {f.id: current.model.explain(x[i]).score for i, f in enumerate(facts)}
        query = sa.select(Lead.id, Lead.score).where(Lead.id.in_(open_ids))
        scores = {r.id: r.score for r in uow.session.execute(query)}
    assert scores == expected
    for lead_id in open_ids[:5]:
        last = _history(db, tenant, lead_id)[-1]
        assert last.model_version == version
        _adds_up(last.explanation or {}, last.score)
    # the hot prospects follow the stored scores, best first
    with db.tenant_uow(tenant.id) as uow:
        hot = dashboard.hot_prospects(uow, tenant.principal(), min_score=70, limit=200)
    assert [h.score for h in hot] == sorted((h.score for h in hot), reverse=True)
    assert {h.id for h in hot} == {i for i, s in expected.items() if s >= 70}


def test_an_interaction_is_rescored_by_the_projection_not_in_the_request(
    db: Database, tenant: TenantFixture
) -> None:
    with db.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="web_quote",
            email="interaction-lead@example.org",
        )
        uow.commit()
    project_lead_scores(db, tenant.id, NONE)
    before = _history(db, tenant, lead.id)
    with db.tenant_uow(tenant.id) as uow:
        record_interaction(uow, tenant.principal(), lead.id, kind="meeting")
        uow.commit()
    # the request wrote the interaction and an outbox entry (ids only), no score
    assert len(_history(db, tenant, lead.id)) == len(before)
    with db.tenant_uow(tenant.id) as uow:
        entries = uow.session.scalars(
            sa.select(OutboxEntry).where(
                OutboxEntry.aggregate_id == lead.id,
                OutboxEntry.event_type == "lead.interaction_recorded",
            )
        ).all()
    assert len(entries) == 1 and set(entries[0].payload) == {"interaction_id", "kind"}
    report = project_lead_scores(db, tenant.id, NONE)
    assert report.events >= 1
    after = _history(db, tenant, lead.id)
    assert len(after) == len(before) + 1
    assert after[-1].explanation is not None
    assert after[-1].explanation["points"]["interactions"] > 0
    # a second run finds nothing new
    assert project_lead_scores(db, tenant.id, NONE).events == 0


def test_below_the_minimum_training_stores_the_rules(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    with db.tenant_uow(tenant.id) as uow:
        row = train_model(uow, tenant.principal(), NONE, min_outcomes=30)
        uow.commit()
    assert row.kind is LeadModelKind.RULES and row.n_outcomes == 0
    assert "fewer than the minimum 30" in row.metrics["reason"]
    with db.tenant_uow(tenant.id) as uow:
        assert current_model(uow).version == "rules-v1"
        report = model_report(uow, tenant.principal(), NONE)
    assert report["n_outcomes"] == 0 and report["calibration"]["brier"] is None


def test_a_report_without_a_model_is_a_clear_error(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    with db.tenant_uow(tenant.id) as uow, pytest.raises(NotFoundError, match="no lead scoring"):
        model_report(uow, tenant.principal(), NONE)


def test_training_needs_write_access_to_every_location(db: Database, tenant: TenantFixture) -> None:
    with db.tenant_uow(tenant.id) as uow:
        with pytest.raises(PermissionDeniedError):
            train_model(uow, tenant.principal(MembershipRole.ANALYST), NONE, min_outcomes=30)
        with pytest.raises(ValidationError, match="every location"):
            scoped = tenant.principal(MembershipRole.STAFF, locations=tenant.locations[:1])
            train_model(uow, scoped, NONE, min_outcomes=30)


def test_rescore_all_scores_every_open_lead_once(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    with db.tenant_uow(tenant.id) as uow:
        for i in range(3):
            leads.capture_lead(
                uow,
                tenant.principal(),
                location_id=tenant.locations[0],
                source="chat",
                email=f"all-{i}@example.org",
            )
        uow.commit()
    first = rescore_open_leads(db, tenant.id, NONE)
    assert first.leads == 3 and first.rescored == 3
    # unchanged scores under the same model are not written again
    assert rescore_open_leads(db, tenant.id, NONE).rescored == 0


def test_missing_values_are_indicator_features_not_errors(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    with db.tenant_uow(tenant.id) as uow:
        leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="sms",
            phone="+4915550001",
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        facts = load_leads(uow)
        x = feature_matrix(uow, facts, NONE)
    row = dict(zip(FEATURES, x[0], strict=True))
    for name in ("persona_missing", "vc_missing", "engagement_missing", "no_interaction"):
        assert row[name] == 1.0
    assert row["value_missing"] == 1.0 and row["source=sms"] == 1.0
    explained = rules_model().explain(x[0])
    assert 0 <= explained.score <= 100


def test_the_background_rescorer_finds_the_tenants_with_changes(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    rescorer = LeadRescorer(db, NONE, every_seconds=1, daily=False)
    rescorer.run_once()  # the first round asks every tenant
    with db.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="phone",
            email="background@example.org",
        )
        uow.commit()
    assert rescorer.run_once().events >= 1  # later rounds read only what was written since
    assert len(_history(db, tenant, lead.id)) == 1
    with db.tenant_uow(tenant.id) as uow:
        record_interaction(uow, tenant.principal(), lead.id, kind="call")
        uow.commit()
    rescorer.run_once()
    assert len(_history(db, tenant, lead.id)) == 2
    assert rescorer.run_once().events == 0


def _check(uow, location_id: uuid.UUID, score: int, at: datetime) -> VisibilityCheck:  # type: ignore[no-untyped-def]
    check = VisibilityCheck(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        location_id=location_id,
        status="completed",
        overall_score=score,
        requested_at=at,
        completed_at=at,
    )
    uow.session.add(check)
    uow.flush()
    return check


@pytest.fixture(scope="module")
def lake_world(
    server: DatabaseTarget, settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """Members whose onboarding events entered through ingestion, were moved by the relay and
    built into the lake by a pipeline run (a database of its own: the relay moves every
    tenant's events)."""
    with private_database(server, settings, "leadlake") as db:
        yield build_world(db, tmp_path_factory.mktemp("lead-lake-home"))


def test_features_read_the_latest_check_and_the_lakes_engagement_by_pseudonym(
    lake_world: World,
) -> None:
    """A lead captured with a member's e-mail is the member's data subject: its engagement
    is what the pipeline built from the member's events, found by the subject's pseudonym."""
    world = lake_world
    assert world.fixture is not None
    lake = LakeEngagement(world.home)
    with LakeTables(world.home, ("ml_user_features",)) as tables:
        built = tables.latest("ml_user_features", world.tenant, ("feature_date",))
    (feature_date,) = {row[0] for row in built.values()}  # one pipeline run: one snapshot
    # scored on the snapshot's day (a snapshot counts the events before its date)
    clock = FixedClock(datetime.combine(feature_date, time(9), UTC))
    cdb = _clocked(world.db, clock)
    tenant, loc = world.fixture, world.fixture.locations[0]
    steps = KINDS["bandit"][0]
    with cdb.tenant_uow(tenant.id) as uow:
        engaged = leads.capture_lead(
            uow, tenant.principal(), location_id=loc, source="google", email=world.emails["bandit"]
        )
        unknown = leads.capture_lead(
            uow, tenant.principal(), location_id=loc, source="google", email="new@example.org"
        )
        uow.flush()
        now = uow.clock.now()
        _check(uow, loc, 40, now - timedelta(days=2))
        _check(uow, loc, 80, now - timedelta(days=1))
        pseudonym = uow.session.scalar(
            sa.select(Subject.pseudonym).where(Subject.id == engaged.subject_id)
        )
        uow.commit()
    assert pseudonym in built  # the member's events made the subject a user of the lake

    with cdb.tenant_uow(tenant.id) as uow:
        x = feature_matrix(uow, load_leads(uow, ids=[engaged.id, unknown.id]), lake)
    by_lead = sorted([engaged.id, unknown.id])
    row = dict(zip(FEATURES, x[by_lead.index(engaged.id)], strict=True))
    assert row["vc_overall"] == pytest.approx(0.8) and row["vc_missing"] == 0
    assert row["steps_30d"] == pytest.approx(math.log1p(steps))
    assert row["opens_30d"] == 0 and row["engagement_missing"] == 0
    other = dict(zip(FEATURES, x[by_lead.index(unknown.id)], strict=True))
    assert other["engagement_missing"] == 1 and other["steps_30d"] == 0

    # the rescoring explains the score with the engagement the lake holds
    rescore_open_leads(cdb, tenant.id, lake)
    with cdb.tenant_uow(tenant.id) as uow:
        scored = {
            r.id: r.score_explanation
            for r in uow.session.execute(
                sa.select(Lead.id, Lead.score_explanation).where(
                    Lead.id.in_([engaged.id, unknown.id])
                )
            )
        }
    assert scored[engaged.id]["points"]["engagement"] == pytest.approx(math.log1p(steps), 1e-3)
    assert "engagement" not in scored[unknown.id]["points"]  # no points: left out

    # point in time: a snapshot dated after the moment is not used; other tenants see nothing
    before = feature_date - timedelta(days=1)
    assert lake.engagement(tenant.id, {(pseudonym, before)}) == {}
    assert lake.engagement(world.other, {(pseudonym, feature_date)}) == {}
    # one subject seen on two dates: each date is answered on its own (no later snapshot
    # leaks into the earlier moment)
    both = lake.engagement(tenant.id, {(pseudonym, feature_date), (pseudonym, before)})
    assert set(both) == {(pseudonym, feature_date)}
    assert both[(pseudonym, feature_date)]["steps_30d"] == steps


def test_a_completed_check_rescores_the_open_leads_of_its_location(db: Database) -> None:
    tenant = make_tenant(db, locations=2)
    with db.tenant_uow(tenant.id) as uow:
        here, there = (
            leads.capture_lead(
                uow, tenant.principal(), location_id=loc, source="chat", email=f"{n}@example.org"
            )
            for n, loc in (("here", tenant.locations[0]), ("there", tenant.locations[1]))
        )
        uow.commit()
    project_lead_scores(db, tenant.id, NONE)
    with db.tenant_uow(tenant.id) as uow:
        check = _check(uow, tenant.locations[0], 20, uow.clock.now())
        record_change(
            uow,
            "visibility_check",
            check.id,
            "visibility_check_completed",
            {"location_id": str(tenant.locations[0]), "overall_score": 20},
        )
        uow.commit()
    project_lead_scores(db, tenant.id, NONE)
    [_first, second] = _history(db, tenant, here.id)
    assert second.explanation is not None
    assert second.explanation["points"]["vc_overall"] == pytest.approx(8.0)
    assert len(_history(db, tenant, there.id)) == 1


def test_a_manual_score_holds_until_a_change_is_rescored(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    with db.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="event",
            email="manual@example.org",
        )
        uow.commit()
    project_lead_scores(db, tenant.id, NONE)
    with db.tenant_uow(tenant.id) as uow:
        leads.rescore_lead(uow, tenant.principal(), lead.id, 97, reason="manual")
        uow.commit()
    assert project_lead_scores(db, tenant.id, NONE).rescored == 0  # nothing fed the lead
    rescore_open_leads(db, tenant.id, NONE, reason=DAILY_REASON)  # nor does the daily round
    assert _history(db, tenant, lead.id)[-1].score == 97
    with db.tenant_uow(tenant.id) as uow:
        record_interaction(uow, tenant.principal(), lead.id, kind="visit")
        uow.commit()
    project_lead_scores(db, tenant.id, NONE)
    kinds = [(h.reason, (h.explanation or {}).get("kind")) for h in _history(db, tenant, lead.id)]
    assert kinds == [("rescored", "rules"), ("manual", "manual"), ("rescored", "rules")]
    assert _history(db, tenant, lead.id)[-1].score != 97


def _daily_mark(db: Database, tenant_id: uuid.UUID) -> tuple[int, datetime] | None:
    with db.tenant_uow(tenant_id) as uow:
        row = uow.session.execute(
            sa.select(ProjectionPosition.events, ProjectionPosition.updated_at).where(
                ProjectionPosition.projection == DAILY
            )
        ).first()
    return (row.events, row.updated_at) if row else None


def test_the_rescorer_rescores_the_open_leads_once_a_day(lake_world: World) -> None:
    """Recency ages without events: the background rescorer rescores each tenant's open
    leads once per UTC day (simulated clock), and skips while another process holds it."""
    world, tenant = lake_world, lake_world.fixture
    assert tenant is not None
    clock = FixedClock(datetime(2031, 3, 3, 8, 0, tzinfo=UTC))
    cdb = _clocked(world.db, clock)
    with cdb.tenant_uow(tenant.id) as uow:
        lead = leads.capture_lead(
            uow,
            tenant.principal(),
            location_id=tenant.locations[0],
            source="phone",
            email="daily@example.org",
        )
        uow.commit()
    rescorer = LeadRescorer(cdb, NONE, every_seconds=1)
    rescorer.run_once()  # the projection scores the new lead; the day's round marks the tenant
    first = _history(cdb, tenant, lead.id)
    assert len(first) == 1  # the day's round found the score unchanged: no second row
    assert _daily_mark(cdb, tenant.id) == (1, clock.now())

    clock.advance(timedelta(hours=2))  # the same day: tried again, but the tenant is done
    assert rescorer.run_once().leads == 0
    assert _daily_mark(cdb, tenant.id) == (1, datetime(2031, 3, 3, 8, 0, tzinfo=UTC))
    assert len(_history(cdb, tenant, lead.id)) == 1

    clock.set(datetime(2031, 3, 4, 0, 30, tzinfo=UTC))  # the next day: a day open costs a point
    rescorer.run_once()
    history = _history(cdb, tenant, lead.id)
    assert len(history) == 2 and history[-1].reason == "daily"
    assert history[-1].score == history[0].score - 1
    assert _daily_mark(cdb, tenant.id) == (2, clock.now())
    clock.advance(timedelta(minutes=30))  # within the hour this process does not try again
    assert rescorer.run_once().leads == 0

    # another process holds the daily round: this one skips it
    clock.set(datetime(2031, 3, 5, 9, 0, tzinfo=UTC))
    with cdb.platform_uow() as other:
        assert other.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(DAILY_LOCK)))
        assert rescore_daily(cdb, NONE) is None
    done = rescore_daily(cdb, NONE)
    assert done is not None and done.leads >= 1
    assert _daily_mark(cdb, tenant.id) == (3, clock.now())
