"""Guardrails, the per-arm report and the fairness report of an experiment.

Guardrail rule (docs/decisions/ record): for each guardrail `{metric, max_increase,
min_samples}` and each active arm other than the control (the default arm), once both the arm
and the control have at least `min_samples` observations, the arm is paused when its rate
exceeds the control's by more than `max_increase` (absolute, e.g. 0.02 = 2 percentage
points). Observations: for `failure`, decisions with an outcome (rate = failures/outcomes);
for `unsubscribe`, `bounce`, `complaint` and `abandon`, logged decisions (rate = decisions
whose signals include the metric / decisions). A plain threshold on the point estimates, no
significance test: `min_samples` is what keeps noise from pausing an arm. The pause is a
change of the arm's row (status, reason, time), so the audit trail records it with the actor.

Fairness (seed 001: differences between groups < 5 %): the success rate per persona group,
overall and per arm; a spread (max - min over groups with at least `min_group` outcomes) above
`FAIRNESS_SPREAD` is flagged. Never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.decisions.bandit import posterior_mean
from tenantry.decisions.experiments import arms_of, forget
from tenantry.models.experiments import ArmStatus, Experiment, ExperimentArm

__all__ = [
    "FAIRNESS_SPREAD",
    "NEGATIVE_METRICS",
    "ArmStats",
    "arm_stats",
    "check_guardrails",
    "experiment_report",
    "fairness",
]

FAIRNESS_SPREAD = 0.05  # seed 001: performance differences between groups < 5 %
NEGATIVE_METRICS = ("unsubscribe", "bounce", "complaint", "abandon")


@dataclass(frozen=True)
class ArmStats:
    arm: str
    decisions: int
    outcomes: int
    successes: int
    signals: dict[str, int]

    @property
    def failures(self) -> int:
        return self.outcomes - self.successes

    def rate(self, metric: str) -> tuple[float | None, int]:
        """(rate, observations) of a guardrail metric."""
        if metric == "failure":
            n, k = self.outcomes, self.failures
        else:
            n, k = self.decisions, self.signals.get(metric, 0)
        return (k / n if n else None), n


_STATS = sa.text(
    "SELECT arm, count(*) AS decisions, count(outcome) AS outcomes,"
    " count(*) FILTER (WHERE outcome) AS successes,"
    + ", ".join(f" count(*) FILTER (WHERE signals ? '{m}') AS {m}" for m in NEGATIVE_METRICS)
    + " FROM decisions.decisions WHERE tenant_id = :t AND experiment_id = :e GROUP BY arm"
)


def arm_stats(uow: UnitOfWork, experiment_id: uuid.UUID) -> dict[str, ArmStats]:
    rows = uow.session.execute(_STATS, {"t": uow.require_tenant(), "e": experiment_id}).all()
    return {
        r.arm: ArmStats(
            r.arm,
            r.decisions,
            r.outcomes,
            r.successes,
            {m: int(getattr(r, m)) for m in NEGATIVE_METRICS},
        )
        for r in rows
    }


def _pause(
    uow: UnitOfWork,
    arm: ExperimentArm,
    rate: float,
    base: float,
    metric: str,
    limit: float,
    n: int,
    n0: int,
) -> bool:
    """Pause the arm unless a concurrent change already did (the row is checked as it is
    when the update runs); whether this call paused it."""
    reason = (
        f"guardrail {metric}: rate {rate:.4f} vs control {base:.4f}"
        f" (+{rate - base:.4f} > {limit:.4f}; n={n}, control n={n0})"
    )
    done = uow.session.execute(
        sa.update(ExperimentArm)
        .where(
            ExperimentArm.tenant_id == arm.tenant_id,
            ExperimentArm.id == arm.id,
            ExperimentArm.status == ArmStatus.ACTIVE,
        )
        .values(status=ArmStatus.PAUSED, paused_at=uow.clock.now(), paused_reason=reason)
        .returning(ExperimentArm.id)
        .execution_options(synchronize_session="fetch")
    ).first()
    return done is not None


def check_guardrails(uow: UnitOfWork, experiment_id: uuid.UUID) -> list[str]:
    """Pause every arm that breaches a guardrail; returns the keys of the arms paused now."""
    exp = uow.session.get(Experiment, (uow.require_tenant(), experiment_id))
    if exp is None or not exp.guardrails:
        return []
    stats = arm_stats(uow, experiment_id)
    control = stats.get(exp.default_arm)
    if control is None:
        return []
    paused: list[str] = []
    for arm in arms_of(uow, experiment_id):
        if arm.key == exp.default_arm or arm.status != ArmStatus.ACTIVE or arm.key not in stats:
            continue
        for g in exp.guardrails:
            metric, limit, need = g["metric"], float(g["max_increase"]), int(g["min_samples"])
            rate, n = stats[arm.key].rate(metric)
            base, n0 = control.rate(metric)
            if rate is None or base is None or n < need or n0 < need:
                continue
            if rate - base > limit:
                if _pause(uow, arm, rate, base, metric, limit, n, n0):
                    paused.append(arm.key)
                break
    if paused:
        # In SQL, not from what this session read: a concurrent change's bump is kept, so
        # every process sees a new version and reads the definition again.
        uow.session.execute(
            sa.update(Experiment)
            .where(Experiment.tenant_id == exp.tenant_id, Experiment.id == exp.id)
            .values(version=Experiment.version + 1)
            .execution_options(synchronize_session="fetch")
        )
        forget(exp.tenant_id)
    uow.flush()
    return paused


def fairness(uow: UnitOfWork, experiment_id: uuid.UUID, *, min_group: int = 30) -> dict[str, Any]:
    """Success rate per persona group, overall and per arm; spreads above 5 pp flagged."""
    rows = uow.session.execute(
        sa.text(
            "SELECT arm, coalesce(context->>'persona', 'unknown') AS grp,"
            " count(outcome) AS n, count(*) FILTER (WHERE outcome) AS s"
            " FROM decisions.decisions WHERE tenant_id = :t AND experiment_id = :e"
            " GROUP BY arm, grp ORDER BY arm, grp"
        ),
        {"t": uow.require_tenant(), "e": experiment_id},
    ).all()

    def summary(cells: dict[str, tuple[int, int]]) -> dict[str, Any]:
        groups: dict[str, dict[str, Any]] = {
            g: {"outcomes": n, "successes": s, "rate": (s / n if n else None)}
            for g, (n, s) in sorted(cells.items())
        }
        rated = [s / n for n, s in cells.values() if n and n >= min_group]
        spread = (max(rated) - min(rated)) if len(rated) >= 2 else None
        return {
            "groups": groups,
            "spread": spread,
            "flagged": spread is not None and spread > FAIRNESS_SPREAD,
        }

    overall: dict[str, tuple[int, int]] = {}
    per_arm: dict[str, dict[str, tuple[int, int]]] = {}
    for r in rows:
        n, s = overall.get(r.grp, (0, 0))
        overall[r.grp] = (n + r.n, s + r.s)
        per_arm.setdefault(r.arm, {})[r.grp] = (r.n, r.s)
    by_arm = {arm: summary(cells) for arm, cells in per_arm.items()}
    total = summary(overall)
    return {
        "attribute": "persona",
        "threshold": FAIRNESS_SPREAD,
        "min_group": min_group,
        "overall": total,
        "arms": by_arm,
        "flagged": total["flagged"] or any(v["flagged"] for v in by_arm.values()),
    }


def experiment_report(uow: UnitOfWork, experiment_id: uuid.UUID) -> dict[str, Any]:
    """Per arm: decisions, outcomes, successes, rate, posterior mean (all cells), status."""
    exp = uow.session.get(Experiment, (uow.require_tenant(), experiment_id))
    assert exp is not None
    stats = arm_stats(uow, experiment_id)
    counts = {
        r.arm: (int(r.s), int(r.f))
        for r in uow.session.execute(
            sa.text(
                "SELECT arm, sum(successes) AS s, sum(failures) AS f FROM decisions.posteriors"
                " WHERE tenant_id = :t AND experiment_id = :e GROUP BY arm"
            ),
            {"t": uow.require_tenant(), "e": experiment_id},
        )
    }
    arms = []
    for arm in arms_of(uow, experiment_id):
        st = stats.get(arm.key, ArmStats(arm.key, 0, 0, 0, {}))
        s, f = counts.get(arm.key, (0, 0))
        arms.append(
            {
                "arm": arm.key,
                "status": str(arm.status),
                "paused_reason": arm.paused_reason,
                "control": arm.key == exp.default_arm,
                "decisions": st.decisions,
                "outcomes": st.outcomes,
                "successes": st.successes,
                "rate": st.successes / st.outcomes if st.outcomes else None,
                "posterior_mean": posterior_mean(s, f),
                "signals": {m: st.signals.get(m, 0) for m in NEGATIVE_METRICS},
            }
        )
    return {
        "experiment_id": str(exp.id),
        "slot": exp.slot,
        "status": str(exp.status),
        "arms": arms,
        "fairness": fairness(uow, experiment_id),
    }
