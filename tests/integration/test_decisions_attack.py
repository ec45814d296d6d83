"""Attacks on the decision services (issue 21) below HTTP: each test pins a problem found by
a careful reviewer, and failed before its fix."""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.decisions.context import Context, Profile
from tenantry.decisions.experiments import (
    ExperimentSpec,
    GuardrailSpec,
    arms_of,
    change_status,
    create_experiment,
    find_experiment,
    forget,
)
from tenantry.decisions.guardrails import check_guardrails
from tenantry.decisions.lead_features import (
    ENGAGEMENT_COLUMNS,
    FEATURES,
    feature_matrix,
    load_leads,
)
from tenantry.decisions.lead_model import fit_logistic, rules_model
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource
from tenantry.decisions.runtime import Personalization
from tenantry.errors import IllegalTransitionError
from tenantry.models import Subject
from tenantry.services import leads
from tests.conftest import make_tenant


class _Broken:
    """An engagement source whose numbers are not finite (a float column of the lake with a
    0/0 in it, say)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def engagement(
        self, tenant_id: uuid.UUID, wanted: Mapping[str, date]
    ) -> dict[str, dict[str, float]]:
        return {key: dict.fromkeys(ENGAGEMENT_COLUMNS, self.value) for key in wanted}


def test_engagement_that_is_not_a_number_is_missing_not_a_nan_score(db: Database) -> None:
    tenant = make_tenant(db, locations=1)
    with db.tenant_uow(tenant.id) as uow:
        ids = [
            leads.capture_lead(
                uow,
                tenant.principal(),
                location_id=tenant.locations[0],
                source="google",
                email=f"nan-{i}@example.org",
            ).id
            for i in range(4)
        ]
        uow.flush()
        assert all(uow.session.scalars(sa.select(Subject.pseudonym)))
        uow.commit()
    for value in (math.nan, math.inf):
        with db.tenant_uow(tenant.id) as uow:
            x = feature_matrix(uow, load_leads(uow, ids=ids), _Broken(value))
        assert np.isfinite(x).all()
        assert (x[:, FEATURES.index("engagement_missing")] == 1).all()
        # The model learns and the rules score from such a matrix.
        assert np.isfinite(fit_logistic(x, [0, 1, 0, 1]).probabilities(x)).all()
        assert all(math.isfinite(rules_model().explain(row).raw) for row in x)


def test_a_resume_that_read_the_experiment_before_a_stop_cannot_revive_it(db: Database) -> None:
    tenant = make_tenant(db)
    with db.tenant_uow(tenant.id) as uow:
        exp = create_experiment(uow, ExperimentSpec(slot="race", arms=("a", "b")))
        change_status(uow, exp.id, "pause")
        uow.commit()
        exp_id = exp.id
    with db.tenant_uow(tenant.id) as late:
        seen = find_experiment(late, exp_id)  # read before the stop (and kept by the session)
        assert seen.status == "paused"

        def stop() -> None:  # another request, on its own connection
            with db.tenant_uow(tenant.id) as first:
                change_status(first, exp_id, "stop")
                first.commit()

        with ThreadPoolExecutor(1) as pool:
            pool.submit(stop).result()
        with pytest.raises(IllegalTransitionError):
            change_status(late, exp_id, "resume")
    with db.tenant_uow(tenant.id) as uow:
        assert find_experiment(uow, exp_id).status == "stopped"


def test_a_guardrail_pause_racing_a_status_change_does_not_lose_the_version_bump(
    db: Database,
) -> None:
    """Another process knows the definition by its version: two changes that both wrote the
    same next version would leave it with a stale definition (an arm still active)."""
    tenant = make_tenant(db)
    with db.tenant_uow(tenant.id) as uow:
        exp = create_experiment(
            uow,
            ExperimentSpec(
                slot="guard",
                arms=("a", "b"),
                guardrails=(GuardrailSpec("bounce", 0.1, 1),),
            ),
        )
        uow.flush()
        now = uow.clock.now()
        for arm, signals in (("a", "[]"), ("b", '["bounce"]')):
            uow.session.execute(
                sa.text(
                    "INSERT INTO decisions.decisions (tenant_id, id, experiment_id, arm, cell,"
                    " propensity, policy, decided_at, expires_at, signals)"
                    " VALUES (:t, :id, :e, :arm, '', 0.5, 'uniform', :at, :at, CAST(:s AS jsonb))"
                ),
                {"t": tenant.id, "id": uow.ids(), "e": exp.id, "arm": arm, "at": now, "s": signals},
            )
        uow.commit()
        exp_id = exp.id
    with db.tenant_uow(tenant.id) as late:
        seen = (find_experiment(late, exp_id), arms_of(late, exp_id))  # read before the pause
        assert seen[0].version == 1

        def pause() -> None:  # another request, on its own connection
            with db.tenant_uow(tenant.id) as first:
                change_status(first, exp_id, "pause")
                first.commit()

        with ThreadPoolExecutor(1) as pool:
            pool.submit(pause).result()
        assert check_guardrails(late, exp_id) == ["b"]
        late.commit()
    with db.tenant_uow(tenant.id) as uow:
        after = find_experiment(uow, exp_id)
        assert (after.status, after.version) == ("paused", 3)


def test_a_rule_does_not_serve_an_arm_a_guardrail_paused(db: Database, tmp_path: Path) -> None:
    tenant = make_tenant(db)
    with db.tenant_uow(tenant.id) as uow:
        exp = create_experiment(
            uow, ExperimentSpec(slot="banner", arms=("neutral", "encouraging", "factual"))
        )
        uow.commit()
        exp_id = exp.id
    runtime = Personalization(LakeProfileSource(LakeFeatureCache(tmp_path, interval=0)))
    low = Profile(uuid.uuid4(), "uk_attack", True, Context(), engagement_level="low")
    with db.tenant_uow(tenant.id) as uow:
        assert runtime.personalize(uow, "banner", low.user_id, profile=low).copy == "encouraging"
    with db.tenant_uow(tenant.id) as uow:  # what a guardrail does to the arm
        uow.session.execute(
            sa.text(
                "UPDATE decisions.experiment_arms SET status = 'paused', paused_at = now(),"
                " paused_reason = 'guardrail unsubscribe' WHERE experiment_id = :e"
                " AND key = 'encouraging'"
            ),
            {"e": exp_id},
        )
        uow.session.execute(
            sa.text("UPDATE decisions.experiments SET version = version + 1 WHERE id = :e"),
            {"e": exp_id},
        )
        uow.commit()
    forget(tenant.id)
    runtime = Personalization(LakeProfileSource(LakeFeatureCache(tmp_path, interval=0)))
    with db.tenant_uow(tenant.id) as uow:
        got = runtime.personalize(uow, "banner", low.user_id, profile=low)
        uow.commit()
    assert got.copy != "encouraging" and got.source == "bandit", got
