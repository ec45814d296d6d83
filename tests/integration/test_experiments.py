"""Experiments on a real database: creating one, deciding (logged, with its propensity), no
consent and eligibility (nothing written), pausing and stopping, and refused definitions."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.decisions.context import Context, Profile
from tenantry.decisions.experiments import (
    ExperimentSpec,
    change_status,
    create_experiment,
    decide,
    experiment_rules,
    find_experiment,
    forget,
    slot_rules,
)
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource
from tenantry.decisions.runtime import Personalization
from tenantry.errors import ConflictError, NotFoundError, ValidationError
from tenantry.models import ExperimentArm
from tenantry.models.experiments import ArmStatus
from tests.conftest import TenantFixture


def profile(*, consents: bool = True, persona: str | None = "solo-sarah") -> Profile:
    return Profile(
        user_id=uuid.uuid4(),
        user_key=f"uk_{uuid.uuid4().hex[:20]}",
        consents=consents,
        context=Context(persona=persona, comm_prefs="encouraging/du", onb_day="1-3"),
    )


def _create(db: Database, tenant: TenantFixture, **kw: object) -> uuid.UUID:
    spec = ExperimentSpec(**{"slot": "welcome", "arms": ("encouraging", "factual"), **kw})  # type: ignore[arg-type]
    with db.tenant_uow(tenant.id) as uow:
        exp = create_experiment(uow, spec)
        uow.commit()
        return exp.id


def _count(db: Database, tenant: TenantFixture) -> int:
    with db.tenant_uow(tenant.id) as uow:
        return int(uow.session.scalar(sa.text("SELECT count(*) FROM decisions.decisions")) or 0)


def test_decide_logs_the_choice_with_its_propensity(db: Database, tenant: TenantFixture) -> None:
    exp_id = _create(db, tenant, context=("persona",))
    with db.tenant_uow(tenant.id) as uow:
        d = decide(uow, "welcome", profile(), rng=np.random.default_rng(1))
        uow.commit()
    assert d.decision_id is not None and d.experiment_id == exp_id
    assert d.policy == "uniform" and d.propensity == pytest.approx(0.5)
    with db.tenant_uow(tenant.id) as uow:
        row = uow.session.execute(
            sa.text("SELECT arm, cell, context, propensity FROM decisions.decisions")
        ).one()
    assert row.arm == d.arm and row.cell == "solo-sarah|*|*"
    assert row.context == {
        "persona": "solo-sarah",
        "comm_prefs": "encouraging/du",
        "onb_day": "1-3",
    }


def test_no_consent_gets_the_default_arm_and_nothing_is_written(
    db: Database, tenant: TenantFixture
) -> None:
    _create(db, tenant, default_arm="factual")
    with db.tenant_uow(tenant.id) as uow:
        d = decide(uow, "welcome", profile(consents=False))
        uow.commit()
    assert (d.decision_id, d.arm, d.policy, d.reason) == (None, "factual", "default", "no_consent")
    assert _count(db, tenant) == 0


def test_not_eligible_and_paused_get_the_default_arm(db: Database, tenant: TenantFixture) -> None:
    exp_id = _create(db, tenant, eligibility={"persona": ["bewahrer-ben"]})
    with db.tenant_uow(tenant.id) as uow:
        assert decide(uow, "welcome", profile()).reason == "not_eligible"
        assert decide(uow, "welcome", profile(persona="bewahrer-ben")).decision_id is not None
        change_status(uow, exp_id, "pause")
        assert decide(uow, "welcome", profile(persona="bewahrer-ben")).reason == "paused"
        change_status(uow, exp_id, "stop")
        with pytest.raises(NotFoundError):
            decide(uow, "welcome", profile())
        uow.commit()
    assert _count(db, tenant) == 1


def test_unknown_slot_is_not_found(db: Database, tenant: TenantFixture) -> None:
    with db.tenant_uow(tenant.id) as uow, pytest.raises(NotFoundError):
        decide(uow, "nowhere", profile())


def test_one_live_experiment_per_slot(db: Database, tenant: TenantFixture) -> None:
    _create(db, tenant)
    with pytest.raises(ConflictError):
        _create(db, tenant)


@pytest.mark.parametrize("attribute", ["gender", "origin", "age", "shoe_size"])
def test_sensitive_or_unknown_context_is_refused_by_name(
    db: Database, tenant: TenantFixture, attribute: str
) -> None:
    with pytest.raises(ValidationError, match=attribute):
        _create(db, tenant, context=("persona", attribute))
    with pytest.raises(ValidationError, match=attribute):
        _create(db, tenant, eligibility={attribute: ["solo-sarah"]})


def test_rules_default_to_the_arms_named_for_them(db: Database, tenant: TenantFixture) -> None:
    _create(db, tenant)
    with db.tenant_uow(tenant.id) as uow:
        assert experiment_rules(uow, "welcome") == {
            "low_engagement": "encouraging",
            "facts_tone": "factual",
        }


def test_a_rule_naming_a_paused_arm_falls_through_to_the_bandit(
    db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    """A guardrail pauses `encouraging`: the low-engagement rule is skipped, the bandit
    decides among the active arms, never the paused one."""
    exp_id = _create(db, tenant, arms=("control", "encouraging", "factual"), default_arm="control")
    runtime = Personalization(LakeProfileSource(LakeFeatureCache(tmp_path, interval=0)))
    low = replace(profile(), engagement_level="low")
    with db.tenant_uow(tenant.id) as uow:
        assert slot_rules(uow, "welcome").rules["low_engagement"] == "encouraging"
        assert runtime.personalize(uow, "welcome", low.user_id, profile=low).source == "rule"
    with db.tenant_uow(tenant.id) as uow:
        arm = uow.session.scalars(
            sa.select(ExperimentArm).where(
                ExperimentArm.experiment_id == exp_id, ExperimentArm.key == "encouraging"
            )
        ).one()
        arm.status = ArmStatus.PAUSED
        exp = find_experiment(uow, exp_id)
        exp.version += 1
        uow.commit()
    forget(tenant.id)
    fresh = Personalization(LakeProfileSource(LakeFeatureCache(tmp_path, interval=0)))
    with db.tenant_uow(tenant.id) as uow:
        kept = slot_rules(uow, "welcome")
        assert (kept.experiment_id, kept.default_arm) == (exp_id, "control")
        assert kept.rules == {"facts_tone": "factual"}
        assert experiment_rules(uow, "welcome") == kept.rules
        arms = set()
        for seed in range(8):
            p = fresh.personalize(
                uow, "welcome", low.user_id, profile=low, rng=np.random.default_rng(seed)
            )
            assert (p.source, p.rule) == ("bandit", None) and p.decision_id is not None
            arms.add(p.copy)
        uow.commit()
    assert arms <= {"control", "factual"} and arms
    # a facts-tone user still gets the factual arm by its rule
    facts = replace(profile(), preferred_comm_tone="facts")
    assert fresh.answer(tenant.id, "welcome", facts) is not None
