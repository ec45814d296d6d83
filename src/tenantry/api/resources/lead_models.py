"""`/v1/lead-models`: train the tenant's lead scoring model now, read the current one and its
calibration and backtest report.

Training stores a new model version and records `lead_model.trained` in the outbox; the open
leads are rescored by the scoring projection, not in this request. Permissions as for leads:
reading needs `read`, training `write_crm` for every location. Bodies hold feature names and
figures only, no personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from tenantry.api.deps import CtxDep, json_response
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import ERRORS, IdempotencyKey, write
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.decisions.lead_features import LakeEngagement
from tenantry.decisions.lead_scoring import (
    current_model,
    model_report,
    model_summary,
    show_model,
    train_model,
)

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1/lead-models", tags=["lead scoring"], responses=ERRORS)


class LeadModelOut(BaseModel):
    model_version: str
    kind: str
    version: int | None
    trained_at: datetime | None
    n_outcomes: int
    n_won: int
    metrics: dict[str, Any]
    features: list[str]
    intercept: float | None = None
    coefficients: dict[str, float] | None = None
    base: float | None = None
    rules: list[dict[str, str]] | None = None


class LeadModelReportOut(BaseModel):
    model_version: str
    kind: str
    n_outcomes: int
    calibration: dict[str, Any]
    backtest: dict[str, Any]


@router.post("", status_code=201, response_model=LeadModelOut, summary="Train the model now")
def train(request: Request, ctx: CtxDep, idempotency_key: IdempotencyKey = None) -> Response:
    settings = ctx.state.settings

    def run(uow: UnitOfWork) -> Written:
        train_model(
            uow,
            ctx.principal,
            LakeEngagement(settings.home),
            min_outcomes=settings.lead_model_min_outcomes,
        )
        return Written(201, LeadModelOut.model_validate(model_summary(current_model(uow))))

    return write(ctx, request, None, idempotency_key, run)


@router.get("/current", response_model=LeadModelOut, summary="The current model")
def current(ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        body = LeadModelOut.model_validate(show_model(uow, ctx.principal))
    return json_response(body)


@router.get(
    "/current/report",
    response_model=LeadModelReportOut,
    summary="Calibration (Brier, reliability table) and a time-split backtest",
)
def report(
    ctx: CtxDep,
    cut: Annotated[
        datetime | None,
        Query(description="Backtest split: train on outcomes decided before this time."),
    ] = None,
) -> Response:
    engagement = LakeEngagement(ctx.state.settings.home)
    with ctx.read() as uow:
        body = LeadModelReportOut.model_validate(
            model_report(uow, ctx.principal, engagement, cut=cut)
        )
    return json_response(body)


RENDERERS: dict[str, Any] = {}
