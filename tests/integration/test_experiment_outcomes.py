"""Outcomes on a real database: recorded once (unknown, double or expired refused with nothing
written), projected from ingested events into the posterior, guardrails that pause an arm
(audited), and decisions erased with their subject."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from tenantry.clock import FixedClock
from tenantry.db.engine import Database
from tenantry.decisions.context import Context, Profile
from tenantry.decisions.experiments import ExperimentSpec, GuardrailSpec, create_experiment, decide
from tenantry.decisions.guardrails import experiment_report
from tenantry.decisions.outcomes import (
    OutcomeWorker,
    live_tenants,
    project_outcomes,
    record_outcome,
    signal_of,
)
from tenantry.decisions.replay import replay
from tenantry.errors import ConflictError, NotFoundError
from tenantry.events.ingest import ingest_batch
from tenantry.models import User
from tenantry.models.enums import MembershipRole
from tenantry.privacy.keys import KeyRing
from tenantry.services.principal import Principal
from tenantry.services.privacy.erasure import erase_subject
from tests.conftest import TenantFixture
from tests.events_support import event, member, pseudonym_of
from tests.factories import TEST_MASTER


def _profile(user_key: str | None = None, persona: str = "solo-sarah") -> Profile:
    return Profile(
        user_id=uuid.uuid4(),
        user_key=user_key or f"uk_{uuid.uuid4().hex[:20]}",
        consents=True,
        context=Context(persona=persona),
    )


def _experiment(db: Database, tenant: TenantFixture, **kw: object) -> uuid.UUID:
    spec = ExperimentSpec(**{"slot": "welcome", "arms": ("control", "bold"), **kw})  # type: ignore[arg-type]
    with db.tenant_uow(tenant.id) as uow:
        exp = create_experiment(uow, spec)
        uow.commit()
        return exp.id


def _decide(db: Database, tenant: TenantFixture, n: int, **kw: object) -> list[uuid.UUID]:
    rng = np.random.default_rng(n)
    with db.tenant_uow(tenant.id) as uow:
        ids = [decide(uow, "welcome", _profile(**kw), rng=rng).decision_id for _ in range(n)]  # type: ignore[arg-type]
        uow.commit()
    return [i for i in ids if i is not None]


def _posteriors(db: Database, tenant: TenantFixture) -> dict[str, tuple[int, int]]:
    with db.tenant_uow(tenant.id) as uow:
        rows = uow.session.execute(
            sa.text(
                "SELECT arm, sum(successes) s, sum(failures) f FROM decisions.posteriors GROUP BY arm"
            )
        ).all()
    return {r.arm: (int(r.s), int(r.f)) for r in rows}


def test_an_outcome_is_recorded_once_and_moves_the_posterior(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    _experiment(clocked_db, tenant)
    (decision_id,) = _decide(clocked_db, tenant, 1)
    with clocked_db.tenant_uow(tenant.id) as uow:
        row = record_outcome(uow, decision_id, True)
        arm = row.arm
        uow.commit()
    assert _posteriors(clocked_db, tenant) == {arm: (1, 0)}
    with clocked_db.tenant_uow(tenant.id) as uow, pytest.raises(ConflictError):
        record_outcome(uow, decision_id, False)
    with clocked_db.tenant_uow(tenant.id) as uow, pytest.raises(NotFoundError):
        record_outcome(uow, uuid.uuid4(), True)
    assert _posteriors(clocked_db, tenant) == {arm: (1, 0)}


def test_an_expired_decision_refuses_its_outcome(
    clocked_db: Database, clock: FixedClock, tenant: TenantFixture
) -> None:
    _experiment(clocked_db, tenant, ttl_seconds=60)
    (decision_id,) = _decide(clocked_db, tenant, 1)
    clock.advance(timedelta(minutes=2))
    with clocked_db.tenant_uow(tenant.id) as uow, pytest.raises(ConflictError, match="expired"):
        record_outcome(uow, decision_id, True)
    assert _posteriors(clocked_db, tenant) == {}


def test_signals_follow_seed_001() -> None:
    assert signal_of("step_completed", {"duration_seconds": 90}).success  # type: ignore[union-attr]
    assert signal_of("step_completed", {"duration_seconds": 200}) is None
    slow = signal_of("step_completed", {"duration_seconds": 400})
    assert slow is not None and (slow.success, slow.metric) == (False, "abandon")
    assert signal_of("visibility_check_completed", {"score_delta": 4}).success  # type: ignore[union-attr]
    assert signal_of("visibility_check_completed", {"score_delta": 0}) is None
    unsub = signal_of("email_unsubscribe", {})
    assert unsub is not None and (unsub.success, unsub.metric) == (False, "unsubscribe")
    assert signal_of("email_open", {}) is None


def test_ingested_events_reach_the_posterior_through_the_projection(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    _experiment(clocked_db, tenant)
    user = member(clocked_db, tenant.id)
    first, second = _decide(
        clocked_db, tenant, 2, user_key=pseudonym_of(clocked_db, tenant.id, user)
    )
    (someone_elses,) = _decide(clocked_db, tenant, 1)
    batch = [
        event("email_click", user_id=user, properties={"decision_id": str(first)}),
        # an event about this user never sets another user's outcome
        event("email_click", user_id=user, properties={"decision_id": str(someone_elses)}),
        # the first signal decides: this later bounce counts for the guardrail only
        event("email_bounce", user_id=user, properties={"decision_id": str(first)}),
        event(
            "step_abandoned", user_id=user, properties={"step_id": "x", "decision_id": str(second)}
        ),
        event("email_click", user_id=user, properties={"decision_id": str(uuid.uuid4())}),
        event(user_id=user),  # no decision
    ]
    with clocked_db.tenant_uow(tenant.id) as uow:
        result = ingest_batch(uow, KeyRing(uow, TEST_MASTER), batch)
        uow.commit()
    assert result.accepted == 6
    report = project_outcomes(clocked_db, tenant.id)
    assert report.other_user == 1
    with clocked_db.tenant_uow(tenant.id) as uow:
        rows = {
            r.id: r
            for r in uow.session.execute(
                sa.text("SELECT id, arm, outcome, outcome_source, signals FROM decisions.decisions")
            )
        }
    assert (rows[first].outcome, rows[first].signals) == (True, ["bounce"])
    assert rows[someone_elses].outcome is None
    assert (rows[second].outcome, rows[second].signals) == (False, ["abandon"])
    assert rows[first].outcome_source == "event"
    totals = _posteriors(clocked_db, tenant)
    assert sum(s for s, _ in totals.values()) == 1 and sum(f for _, f in totals.values()) == 1
    again = project_outcomes(clocked_db, tenant.id)  # the position moved: nothing twice
    assert again.outcomes == 0 and _posteriors(clocked_db, tenant) == totals


def test_a_guardrail_breach_pauses_the_arm_and_the_audit_trail_records_it(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    exp_id = _experiment(
        clocked_db, tenant, guardrails=[GuardrailSpec("failure", 0.2, min_samples=10)]
    )
    ids = _decide(clocked_db, tenant, 60)
    with clocked_db.tenant_uow(tenant.id, actor="test:outcomes") as uow:
        arms = dict(
            uow.session.execute(
                sa.text("SELECT id, arm FROM decisions.decisions WHERE id = ANY(:ids)"),
                {"ids": ids},
            ).all()
        )
        for i in ids:  # control always succeeds, bold always fails
            record_outcome(uow, i, arms[i] == "control")
        uow.commit()
    with clocked_db.tenant_uow(tenant.id) as uow:
        report = experiment_report(uow, exp_id)
        bold = next(a for a in report["arms"] if a["arm"] == "bold")
        assert bold["status"] == "paused" and "guardrail failure" in bold["paused_reason"]
        audit = uow.session.execute(
            sa.text(
                "SELECT actor, new_values->>'status' AS status, new_values->>'paused_reason' AS why"
                " FROM audit.log WHERE table_name = 'decisions.experiment_arms' AND op = 'U'"
                " AND tenant_id = :t"
            ),
            {"t": tenant.id},
        ).all()
        assert [(a.actor, a.status) for a in audit] == [("test:outcomes", "paused")]
        assert audit[0].why.startswith("guardrail failure")
        # a paused arm is never chosen again
        chosen = {decide(uow, "welcome", _profile()).arm for _ in range(30)}
    assert chosen == {"control"}


def test_replay_on_logged_decisions_counts_and_estimates(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    _experiment(clocked_db, tenant)
    ids = _decide(clocked_db, tenant, 40)
    with clocked_db.tenant_uow(tenant.id) as uow:
        for i in ids:
            record_outcome(uow, i, True)
        result = replay(uow, "welcome", "arm:bold")
    assert result.decisions == 40 and 0 < result.matching < 40
    assert result.snips == pytest.approx(1.0)


def test_decisions_leave_with_their_subject(clocked_db: Database, tenant: TenantFixture) -> None:
    _experiment(clocked_db, tenant)
    user = member(clocked_db, tenant.id)
    pseudonym = pseudonym_of(clocked_db, tenant.id, user)
    mine = _decide(clocked_db, tenant, 3, user_key=pseudonym)
    others = _decide(clocked_db, tenant, 2)
    with clocked_db.platform_uow(tenant_id=tenant.id) as uow:
        email = uow.session.get(User, user).email  # type: ignore[union-attr]
    dpo = Principal(tenant_id=tenant.id, role=MembershipRole.DPO)
    with clocked_db.tenant_uow(tenant.id) as uow:
        erased = erase_subject(uow, dpo, email)
        uow.commit()
    assert erased.receipt.summary["decisions.decisions"]["deleted"] == len(mine)
    with clocked_db.tenant_uow(tenant.id) as uow:
        left = set(uow.session.scalars(sa.text("SELECT id FROM decisions.decisions")))
    assert left == set(others)


def test_the_background_worker_projects_every_tenant_with_a_live_experiment(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    _experiment(clocked_db, tenant)
    user = member(clocked_db, tenant.id)
    (decision_id,) = _decide(
        clocked_db, tenant, 1, user_key=pseudonym_of(clocked_db, tenant.id, user)
    )
    with clocked_db.tenant_uow(tenant.id) as uow:
        ingest_batch(
            uow,
            KeyRing(uow, TEST_MASTER),
            [event("onb_complete", user_id=user, properties={"decision_id": str(decision_id)})],
        )
        uow.commit()
    assert tenant.id in live_tenants(clocked_db)
    OutcomeWorker(clocked_db).run_once()
    with clocked_db.tenant_uow(tenant.id) as uow:
        outcome = uow.session.scalar(
            sa.text("SELECT outcome FROM decisions.decisions WHERE id = :i"), {"i": decision_id}
        )
    assert outcome is True
