"""`/v1/experiments` (definitions, pause, resume, stop, the report) and the outcome of a logged
decision (`/v1/decisions/{id}/outcome`).

Creating and changing experiments needs `manage_experiments` (owner, admin); reads `read`;
recording an outcome `ingest_events` (it is feedback, like an event). A context attribute that
is sensitive (gender, origin, age, ...) or unknown is refused with a 422 naming it. The rules
are `tenantry.decisions`'; this module only maps HTTP to them. `GET /v1/decide` and
`GET /v1/personalize` live with personalization.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, Strict, field_validator

from tenantry.api.deps import CtxDep, json_response
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import ERRORS, IdempotencyKey, In, Integer, tagged, write
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.decisions import experiments as ex
from tenantry.decisions.context import CONTEXT_ATTRIBUTES
from tenantry.decisions.guardrails import experiment_report
from tenantry.decisions.outcomes import record_outcome
from tenantry.errors import ValidationError
from tenantry.models.experiments import ExperimentStatus
from tenantry.services.principal import Action

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)
RENDERERS: dict[str, Any] = {}
Key = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_.:-]*$")]
Rate = Annotated[float, Strict(), Field(ge=0, le=1)]


def _attributes(names: list[str]) -> list[str]:
    try:
        ex.check_context_attributes(names)
    except ValidationError as exc:
        raise ValueError(exc.message) from None
    return names


class ArmIn(In):
    key: Key


class GuardrailIn(In):
    metric: Literal["unsubscribe", "bounce", "complaint", "abandon", "failure"]
    max_increase: Rate
    min_samples: Integer = Field(default=200, ge=1, le=ex.MAX_GUARDRAIL_SAMPLES)


class ExperimentIn(In):
    slot: Key
    arms: list[ArmIn] = Field(min_length=1, max_length=20)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    default_arm: Key | None = None
    floor: Rate = 0.0
    min_events: Integer = Field(default=ex.DEFAULT_MIN_EVENTS, ge=0, le=1_000_000)
    context: list[str] = Field(
        default_factory=list,
        max_length=len(CONTEXT_ATTRIBUTES),
        description=f"Attributes the posterior is split by: {', '.join(CONTEXT_ATTRIBUTES)}",
    )
    eligibility: dict[str, list[Annotated[str, Field(max_length=80)]]] = Field(
        default_factory=dict, description="Allowed values per context attribute"
    )
    guardrails: list[GuardrailIn] = Field(default_factory=list, max_length=10)
    rules: dict[Literal["low_engagement", "facts_tone"], Key] | None = None
    ttl_seconds: Integer = Field(default=ex.DEFAULT_TTL_SECONDS, ge=1, le=366 * 86_400)

    @field_validator("context")
    @classmethod
    def _whitelisted(cls, v: list[str]) -> list[str]:
        return _attributes(v)

    @field_validator("eligibility")
    @classmethod
    def _eligible_by(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        _attributes(list(v))
        return v

    def spec(self) -> ex.ExperimentSpec:
        return ex.ExperimentSpec(
            slot=self.slot,
            arms=[a.key for a in self.arms],
            name=self.name,
            default_arm=self.default_arm,
            floor=self.floor,
            min_events=self.min_events,
            context=self.context,
            eligibility=self.eligibility,
            guardrails=[
                ex.GuardrailSpec(g.metric, g.max_increase, g.min_samples) for g in self.guardrails
            ],
            rules={str(k): v for k, v in self.rules.items()} if self.rules is not None else None,
            ttl_seconds=self.ttl_seconds,
        )


class ArmOut(BaseModel):
    key: str
    status: str
    paused_reason: str | None
    paused_at: datetime | None


class ExperimentOut(BaseModel):
    id: uuid.UUID
    slot: str
    name: str
    status: str
    default_arm: str
    arms: list[ArmOut]
    floor: float
    min_events: int
    context: list[str]
    eligibility: dict[str, list[str]]
    guardrails: list[dict[str, Any]]
    rules: dict[str, str]
    ttl_seconds: int
    started_at: datetime
    stopped_at: datetime | None


class Experiments(BaseModel):
    items: list[ExperimentOut]


class ArmReport(BaseModel):
    arm: str
    status: str
    paused_reason: str | None
    control: bool
    decisions: int
    outcomes: int
    successes: int
    rate: float | None
    posterior_mean: float
    signals: dict[str, int]


class ReportOut(BaseModel):
    experiment_id: uuid.UUID
    slot: str
    status: str
    arms: list[ArmReport]
    fairness: dict[str, Any]


class OutcomeIn(In):
    success: Annotated[bool, Strict()]


class OutcomeOut(BaseModel):
    decision_id: uuid.UUID
    experiment_id: uuid.UUID
    arm: str
    outcome: bool
    outcome_at: datetime


def _out(uow: UnitOfWork, experiment_id: uuid.UUID) -> ExperimentOut:
    exp = ex.find_experiment(uow, experiment_id)
    return ExperimentOut.model_validate(ex.definition_json(exp, ex.arms_of(uow, exp.id)))


@router.post(
    "/experiments",
    status_code=201,
    response_model=ExperimentOut,
    tags=["experiments"],
    summary="Create and start an experiment in a slot (one live experiment per slot)",
)
def post_experiment(
    body: ExperimentIn, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    ctx.principal.require(Action.MANAGE_EXPERIMENTS)

    def run(uow: UnitOfWork) -> Written:
        exp = ex.create_experiment(uow, body.spec())
        return Written(201, _out(uow, exp.id))

    return write(ctx, request, body, idempotency_key, run)


@router.get(
    "/experiments",
    response_model=Experiments,
    tags=["experiments"],
    summary="List experiments",
)
def list_experiments(
    ctx: CtxDep,
    status: Annotated[ExperimentStatus | None, Query()] = None,
) -> Response:
    ctx.principal.require(Action.READ)
    with ctx.read() as uow:
        items = [_out(uow, e.id) for e in ex.list_experiments(uow, status=status)]
    return json_response(Experiments(items=items))


@router.get(
    "/experiments/{experiment_id}",
    response_model=ExperimentOut,
    tags=["experiments"],
    summary="Get an experiment with its arms",
)
def get_experiment(experiment_id: uuid.UUID, ctx: CtxDep) -> Response:
    ctx.principal.require(Action.READ)
    with ctx.read() as uow:
        body = _out(uow, experiment_id)
    return tagged(body)


def _transition(
    action: str, experiment_id: uuid.UUID, request: Request, ctx: CtxDep, key: str | None
) -> Response:
    ctx.principal.require(Action.MANAGE_EXPERIMENTS)

    def run(uow: UnitOfWork) -> Written:
        ex.change_status(uow, experiment_id, action)
        return Written(200, _out(uow, experiment_id))

    return write(ctx, request, None, key, run)


@router.post(
    "/experiments/{experiment_id}/pause",
    response_model=ExperimentOut,
    tags=["experiments"],
    summary="Pause an experiment (decisions get the default arm, nothing is logged)",
)
def pause_experiment(
    experiment_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _transition("pause", experiment_id, request, ctx, idempotency_key)


@router.post(
    "/experiments/{experiment_id}/resume",
    response_model=ExperimentOut,
    tags=["experiments"],
    summary="Resume a paused experiment",
)
def resume_experiment(
    experiment_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _transition("resume", experiment_id, request, ctx, idempotency_key)


@router.post(
    "/experiments/{experiment_id}/stop",
    response_model=ExperimentOut,
    tags=["experiments"],
    summary="Stop an experiment for good (its slot is free again)",
)
def stop_experiment(
    experiment_id: uuid.UUID, request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> Response:
    return _transition("stop", experiment_id, request, ctx, idempotency_key)


@router.get(
    "/experiments/{experiment_id}/report",
    response_model=ReportOut,
    tags=["experiments"],
    summary="Per arm: decisions, outcomes, rate, posterior mean, status; the fairness report",
)
def get_report(experiment_id: uuid.UUID, ctx: CtxDep) -> Response:
    ctx.principal.require(Action.READ)
    with ctx.read() as uow:
        ex.find_experiment(uow, experiment_id)
        body = ReportOut.model_validate(experiment_report(uow, experiment_id))
    return json_response(body)


@router.post(
    "/decisions/{decision_id}/outcome",
    response_model=OutcomeOut,
    tags=["experiments"],
    summary="Record a decision's outcome (404 unknown, 409 already recorded or expired)",
)
def post_outcome(
    decision_id: uuid.UUID,
    body: OutcomeIn,
    request: Request,
    ctx: CtxDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    ctx.principal.require(Action.INGEST_EVENTS)

    def run(uow: UnitOfWork) -> Written:
        row = record_outcome(uow, decision_id, body.success, source="api")
        out = OutcomeOut(
            decision_id=row.id,
            experiment_id=row.experiment_id,
            arm=row.arm,
            outcome=bool(row.outcome),
            outcome_at=row.outcome_at or uow.clock.now(),
        )
        return Written(200, out)

    return write(ctx, request, body, idempotency_key, run)
