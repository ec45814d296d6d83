"""Experiments: their definitions and life cycle, and `decide`, the logged choice of an arm.

Owns the rules of an experiment (one live experiment per slot, arms, floor, minimum events,
the whitelisted context it may use, eligibility, guardrail and rule definitions, decision TTL)
and the decision service: for a profile, choose an arm with the bandit (`bandit.choose`) in
the profile's context cell, write the decision row, return it. A subject without consent or
outside the eligibility gets the default arm, and nothing is written or learnt.

The definitions of live experiments are cached in process per (tenant, slot) and checked
against the row's `version` by one indexed query that also reads the cell's posterior counts;
that read is reused for `CACHE_SECONDS`, so a decision is usually the policy step and the
insert of its row. A pause, resume, stop or guardrail in this process is seen by the next
decision; one made by another process within `CACHE_SECONDS`. Never commits.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.decisions import bandit
from tenantry.decisions.context import (
    CONTEXT_ATTRIBUTES,
    CONTEXT_VALUES,
    Context,
    Profile,
    is_sensitive,
)
from tenantry.errors import ConflictError, IllegalTransitionError, NotFoundError, ValidationError
from tenantry.models.experiments import ArmStatus, Experiment, ExperimentArm, ExperimentStatus

__all__ = [
    "CACHE_SECONDS",
    "CONTEXT_VALUES",
    "DEFAULT_MIN_EVENTS",
    "DEFAULT_TTL_SECONDS",
    "GUARDRAIL_METRICS",
    "MAX_GUARDRAIL_SAMPLES",
    "RULE_NAMES",
    "Decision",
    "ExperimentSpec",
    "GuardrailSpec",
    "SlotRules",
    "arms_of",
    "change_status",
    "check_context_attributes",
    "create_experiment",
    "decide",
    "definition_json",
    "experiment_rules",
    "find_experiment",
    "forget",
    "list_experiments",
    "live_experiment",
    "slot_rules",
]

DEFAULT_MIN_EVENTS = 30  # seed 001: uniform until 30 outcomes in a cell
DEFAULT_TTL_SECONDS = 7 * 24 * 3600
MAX_GUARDRAIL_SAMPLES = 10_000_000  # the API's bound too: the service checks it for every caller
GUARDRAIL_METRICS = ("unsubscribe", "bounce", "complaint", "abandon", "failure")
RULE_NAMES = ("low_engagement", "facts_tone")
_DEFAULT_RULE_ARMS = {"low_engagement": "encouraging", "facts_tone": "factual"}


@dataclass(frozen=True)
class Decision:
    """The arm a profile gets in a slot; `decision_id` None when nothing was logged."""

    decision_id: uuid.UUID | None
    experiment_id: uuid.UUID
    slot: str
    arm: str
    propensity: float | None
    policy: str  # "uniform" | "thompson" | "default"
    reason: str | None = None  # why the default arm: "no_consent", "not_eligible", "paused"


@dataclass(frozen=True)
class GuardrailSpec:
    metric: str
    max_increase: float
    min_samples: int = 200


@dataclass(frozen=True)
class ExperimentSpec:
    """What a caller asks for; checked by `create_experiment`."""

    slot: str
    arms: Sequence[str]
    name: str | None = None
    default_arm: str | None = None
    floor: float = 0.0
    min_events: int = DEFAULT_MIN_EVENTS
    context: Sequence[str] = ()
    eligibility: Mapping[str, Sequence[str]] = field(default_factory=dict)
    guardrails: Sequence[GuardrailSpec] = ()
    rules: Mapping[str, str] | None = None
    ttl_seconds: int = DEFAULT_TTL_SECONDS


def check_context_attributes(names: Iterable[str]) -> tuple[str, ...]:
    """The names if all are whitelisted context attributes; else a ValidationError naming them.

    Sensitive attributes (seed 001: no gender, origin, age) are refused with their own message.
    """
    names = tuple(names)
    sensitive = sorted({n for n in names if is_sensitive(n)})
    if sensitive:
        raise ValidationError(
            f"sensitive context attribute refused: {', '.join(sensitive)}"
            " (seed 001: no gender, origin or age in decisions)"
        )
    unknown = sorted({n for n in names if n not in CONTEXT_ATTRIBUTES})
    if unknown:
        raise ValidationError(
            f"unknown context attribute: {', '.join(unknown)}"
            f" (allowed: {', '.join(CONTEXT_ATTRIBUTES)})"
        )
    if len(set(names)) != len(names):
        raise ValidationError("a context attribute is listed twice")
    return names


def _check(spec: ExperimentSpec) -> None:
    arms = list(spec.arms)
    if spec.name is not None and not 0 < len(spec.name.strip()) <= 200:
        raise ValidationError("the name must have 1 to 200 characters")
    if not arms:
        raise ValidationError("an experiment needs at least one arm")
    if len(set(arms)) != len(arms):
        raise ValidationError("arm keys must be unique")
    if spec.default_arm is not None and spec.default_arm not in arms:
        raise ValidationError("the default arm must be one of the arms")
    if not 0 <= spec.floor * len(arms) <= 1:
        raise ValidationError("floor * number of arms must lie between 0 and 1")
    check_context_attributes(spec.context)
    check_context_attributes(spec.eligibility)
    for attribute, allowed in spec.eligibility.items():
        unknown = sorted(set(allowed) - set(CONTEXT_VALUES[attribute]))
        if unknown or not allowed:
            raise ValidationError(
                f"eligibility {attribute}: unknown or no values"
                f" (allowed: {', '.join(CONTEXT_VALUES[attribute])})"
            )
    for g in spec.guardrails:
        if g.metric not in GUARDRAIL_METRICS:
            raise ValidationError(
                f"unknown guardrail metric (one of {', '.join(GUARDRAIL_METRICS)})"
            )
        if not 0 <= g.max_increase <= 1:
            raise ValidationError("a guardrail's max_increase must lie between 0 and 1")
        if not 1 <= g.min_samples <= MAX_GUARDRAIL_SAMPLES:
            raise ValidationError(
                f"a guardrail's min_samples must lie between 1 and {MAX_GUARDRAIL_SAMPLES:,}"
            )
    for rule, arm in (spec.rules or {}).items():
        if rule not in RULE_NAMES:
            raise ValidationError(f"unknown rule (one of {', '.join(RULE_NAMES)})")
        if arm not in arms:
            raise ValidationError(f"rule {rule} names an arm the experiment does not have")


def create_experiment(uow: UnitOfWork, spec: ExperimentSpec) -> Experiment:
    """Create and start an experiment; ConflictError if the slot already has a live one."""
    _check(spec)
    tenant = uow.require_tenant()
    taken = uow.session.scalar(
        sa.select(Experiment.id).where(
            Experiment.tenant_id == tenant,
            Experiment.slot == spec.slot,
            Experiment.status != ExperimentStatus.STOPPED,
        )
    )
    if taken is not None:
        raise ConflictError("this slot already has a live experiment: stop it first")
    rules = (
        dict(spec.rules)
        if spec.rules is not None
        else {rule: arm for rule, arm in _DEFAULT_RULE_ARMS.items() if arm in spec.arms}
    )
    exp = Experiment(
        tenant_id=tenant,
        id=uow.ids(),
        slot=spec.slot,
        name=spec.name or spec.slot,
        status=ExperimentStatus.RUNNING,
        default_arm=spec.default_arm or spec.arms[0],
        floor=float(spec.floor),
        min_events=spec.min_events,
        ttl_seconds=spec.ttl_seconds,
        context_attributes=list(spec.context),
        eligibility={k: list(v) for k, v in spec.eligibility.items()},
        guardrails=[
            {"metric": g.metric, "max_increase": g.max_increase, "min_samples": g.min_samples}
            for g in spec.guardrails
        ],
        rules=rules,
        version=1,
        started_at=uow.clock.now(),
    )
    uow.session.add(exp)
    uow.flush()
    uow.session.add_all(
        ExperimentArm(
            tenant_id=tenant,
            id=uow.ids(),
            experiment_id=exp.id,
            key=key,
            position=i,
            status=ArmStatus.ACTIVE,
        )
        for i, key in enumerate(spec.arms)
    )
    uow.flush()
    return exp


def find_experiment(
    uow: UnitOfWork, experiment_id: uuid.UUID, *, for_update: bool = False
) -> Experiment:
    """The tenant's experiment; `for_update`: its row locked and read afresh (a change of its
    status or arms must see the committed state, not what this session read before)."""
    if for_update:
        exp = uow.session.scalar(
            sa.select(Experiment)
            .where(Experiment.tenant_id == uow.require_tenant(), Experiment.id == experiment_id)
            .with_for_update(key_share=True)  # FOR NO KEY UPDATE: decisions' inserts go on
            .execution_options(populate_existing=True)
        )
    else:
        exp = uow.session.get(Experiment, (uow.require_tenant(), experiment_id))
    if exp is None:
        raise NotFoundError("experiment not found")
    return exp


def live_experiment(uow: UnitOfWork, slot: str) -> Experiment:
    """The slot's running or paused experiment; NotFoundError if none."""
    exp = uow.session.scalar(
        sa.select(Experiment).where(
            Experiment.tenant_id == uow.require_tenant(),
            Experiment.slot == slot,
            Experiment.status != ExperimentStatus.STOPPED,
        )
    )
    if exp is None:
        raise NotFoundError("no running experiment in this slot")
    return exp


def list_experiments(uow: UnitOfWork, *, status: str | None = None) -> list[Experiment]:
    q = sa.select(Experiment).where(Experiment.tenant_id == uow.require_tenant())
    if status is not None:
        q = q.where(Experiment.status == status)
    return list(uow.session.scalars(q.order_by(Experiment.started_at, Experiment.id)))


def arms_of(uow: UnitOfWork, experiment_id: uuid.UUID) -> list[ExperimentArm]:
    return list(
        uow.session.scalars(
            sa.select(ExperimentArm)
            .where(
                ExperimentArm.tenant_id == uow.require_tenant(),
                ExperimentArm.experiment_id == experiment_id,
            )
            .order_by(ExperimentArm.position)
        )
    )


_TRANSITIONS = {
    "pause": ({ExperimentStatus.RUNNING}, ExperimentStatus.PAUSED),
    "resume": ({ExperimentStatus.PAUSED}, ExperimentStatus.RUNNING),
    "stop": ({ExperimentStatus.RUNNING, ExperimentStatus.PAUSED}, ExperimentStatus.STOPPED),
}


def change_status(uow: UnitOfWork, experiment_id: uuid.UUID, action: str) -> Experiment:
    """Pause, resume or stop an experiment (IllegalTransitionError from the wrong status).

    The row is locked before its status is checked: of two concurrent changes the second
    sees the first's result (a resume racing a stop cannot revive the stopped experiment)."""
    exp = find_experiment(uow, experiment_id, for_update=True)
    sources, target = _TRANSITIONS[action]
    if exp.status not in sources:
        raise IllegalTransitionError(f"cannot {action} an experiment that is {exp.status}")
    exp.status = target
    exp.version += 1
    forget(uow.require_tenant())
    if target is ExperimentStatus.STOPPED:
        exp.stopped_at = uow.clock.now()
    uow.flush()
    return exp


@dataclass(frozen=True, slots=True)
class SlotRules:
    """What personalization needs of a slot's live experiment, read together."""

    experiment_id: uuid.UUID
    default_arm: str
    rules: dict[str, str]  # rule name -> arm key, only rules whose arm is active


def slot_rules(uow: UnitOfWork, slot: str) -> SlotRules:
    """The slot's live experiment: its id, default arm and personalization rules; a rule
    naming an arm a guardrail (or anyone) has paused is left out, so it is skipped like a
    rule the experiment does not name. NotFoundError without a live experiment."""
    exp = live_experiment(uow, slot)
    active = {a.key for a in arms_of(uow, exp.id) if a.status == ArmStatus.ACTIVE}
    rules = {str(k): str(v) for k, v in exp.rules.items() if v in active}
    return SlotRules(exp.id, exp.default_arm, rules)


def experiment_rules(uow: UnitOfWork, slot: str) -> dict[str, str]:
    """The personalization rules of the slot's live experiment that name an active arm:
    rule name -> arm key (see `slot_rules`)."""
    return slot_rules(uow, slot).rules


# --- decide ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Definition:
    experiment_id: uuid.UUID
    version: int
    status: str
    default_arm: str
    arms: tuple[str, ...]  # active arms, in order
    floor: float
    min_events: int
    ttl: timedelta
    attributes: tuple[str, ...]
    eligibility: dict[str, frozenset[str]]


# How long a process reuses what it read of a slot (the definition's version check and a cell's
# posterior counts) before reading it again. Changes made in this process (pause, resume, stop,
# a guardrail) take effect at once; changes made by another process within this time.
CACHE_SECONDS = 1.0
_cache: dict[tuple[uuid.UUID, str], _Definition] = {}
_cells: dict[tuple[uuid.UUID, str, str], tuple[float, dict[str, tuple[int, int]]]] = {}
_cache_lock = threading.Lock()


def forget(tenant_id: uuid.UUID) -> None:
    """Drop what this process cached of the tenant's experiments (after a change to them)."""
    with _cache_lock:
        for key in [k for k in _cache if k[0] == tenant_id]:
            del _cache[key]
        for cell in [k for k in _cells if k[0] == tenant_id]:
            del _cells[cell]


_rng = np.random.default_rng()

_LIVE = sa.text(
    "SELECT e.id, e.version, p.arm, p.successes, p.failures"
    " FROM decisions.experiments e LEFT JOIN decisions.posteriors p"
    " ON p.tenant_id = e.tenant_id AND p.experiment_id = e.id AND p.cell = :cell"
    " WHERE e.tenant_id = :t AND e.slot = :slot AND e.status <> 'stopped'"
)
_INSERT = sa.text(
    "INSERT INTO decisions.decisions (tenant_id, id, experiment_id, arm, user_key, cell,"
    " context, propensity, policy, decided_at, expires_at)"
    " VALUES (:t, :id, :e, :arm, :uk, :cell, CAST(:ctx AS jsonb), :p, :pol, :at, :exp)"
)


def _load(uow: UnitOfWork, slot: str) -> _Definition:
    exp = live_experiment(uow, slot)
    active = tuple(a.key for a in arms_of(uow, exp.id) if a.status == ArmStatus.ACTIVE)
    d = _Definition(
        experiment_id=exp.id,
        version=exp.version,
        status=str(exp.status),
        default_arm=exp.default_arm,
        arms=active,
        floor=float(exp.floor),
        min_events=int(exp.min_events),
        ttl=timedelta(seconds=exp.ttl_seconds),
        attributes=tuple(exp.context_attributes),
        eligibility={str(k): frozenset(map(str, v)) for k, v in exp.eligibility.items()},
    )
    with _cache_lock:
        _cache[(uow.require_tenant(), slot)] = d
    return d


def _eligible(d: _Definition, context: Context) -> bool:
    return all(getattr(context, attr) in allowed for attr, allowed in d.eligibility.items())


def _context_json(context: Context) -> str:
    # The whole whitelisted context, not only the cell's: the fairness report groups by
    # persona and replay may use any attribute.
    return json.dumps({a: getattr(context, a) for a in CONTEXT_ATTRIBUTES if getattr(context, a)})


def decide(
    uow: UnitOfWork, slot: str, profile: Profile, *, rng: np.random.Generator | None = None
) -> Decision:
    """Choose the profile's arm in the slot and log it; NotFoundError without a live experiment.

    Without consent the default arm comes back and nothing is written (`no_consent`); likewise
    outside the experiment's eligibility (`not_eligible`), while the experiment is paused
    (`paused`), or when every arm is paused (`no_active_arm`).
    """
    tenant = uow.require_tenant()
    d = _cache.get((tenant, slot)) or _load(uow, slot)
    cell = profile.context.key(d.attributes)
    fresh = _cells.get((tenant, slot, cell))
    if fresh is not None and time.monotonic() - fresh[0] <= CACHE_SECONDS:
        counts_by_arm = fresh[1]
    else:
        rows = uow.session.execute(_LIVE, {"t": tenant, "slot": slot, "cell": cell}).all()
        if not rows:
            forget(tenant)
            raise NotFoundError("no running experiment in this slot")
        if rows[0].id != d.experiment_id or rows[0].version != d.version:
            forget(tenant)
            d = _load(uow, slot)
            cell = profile.context.key(d.attributes)
            rows = uow.session.execute(_LIVE, {"t": tenant, "slot": slot, "cell": cell}).all()
        counts_by_arm = {
            r.arm: (int(r.successes), int(r.failures)) for r in rows if r.arm is not None
        }
        with _cache_lock:
            _cells[(tenant, slot, cell)] = (time.monotonic(), counts_by_arm)
    default = Decision(None, d.experiment_id, slot, d.default_arm, None, "default")
    if not profile.consents:
        return replace(default, reason="no_consent")
    if d.status != ExperimentStatus.RUNNING:
        return replace(default, reason="paused")
    if not _eligible(d, profile.context):
        return replace(default, reason="not_eligible")
    if not d.arms:
        return replace(default, reason="no_active_arm")
    counts = tuple(counts_by_arm.get(a, (0, 0)) for a in d.arms)
    choice = bandit.choose(
        counts, floor=d.floor, min_events=d.min_events, rng=rng if rng is not None else _rng
    )
    arm = d.arms[choice.index]
    decision_id = uow.ids()
    now = uow.clock.now()
    uow.session.execute(
        _INSERT,
        {
            "t": tenant,
            "id": decision_id,
            "e": d.experiment_id,
            "arm": arm,
            "uk": profile.user_key,
            "cell": cell,
            "ctx": _context_json(profile.context),
            "p": choice.propensity,
            "pol": choice.policy,
            "at": now,
            "exp": now + d.ttl,
        },
    )
    return Decision(decision_id, d.experiment_id, slot, arm, choice.propensity, choice.policy)


def definition_json(exp: Experiment, arms: Sequence[ExperimentArm]) -> dict[str, Any]:
    """An experiment as JSON (API and CLI)."""
    return {
        "id": str(exp.id),
        "slot": exp.slot,
        "name": exp.name,
        "status": str(exp.status),
        "default_arm": exp.default_arm,
        "arms": [
            {
                "key": a.key,
                "status": str(a.status),
                "paused_reason": a.paused_reason,
                "paused_at": a.paused_at.isoformat() if a.paused_at else None,
            }
            for a in arms
        ],
        "floor": exp.floor,
        "min_events": exp.min_events,
        "context": list(exp.context_attributes),
        "eligibility": dict(exp.eligibility),
        "guardrails": list(exp.guardrails),
        "rules": dict(exp.rules),
        "ttl_seconds": exp.ttl_seconds,
        "started_at": exp.started_at.isoformat(),
        "stopped_at": exp.stopped_at.isoformat() if exp.stopped_at else None,
    }
