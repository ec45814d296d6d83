"""The read side of the evidence ledger: `/v1/insight/kpis`, `/v1/insight/benchmarks`,
`/v1/locations/{id}/trends` and a check's `provenance` (W3C PROV-JSON) and `integrity`.

Entry point only: the figures come from `tenantry.insight` (kpis, benchmarks, snapshots,
provenance, integrity). Every endpoint reads in the caller's tenant unit of work and needs the
read permission; a principal scoped to locations sees KPIs of those locations only, and a
location or check outside its scope is not found.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenantry.api.deps import CtxDep, json_response
from tenantry.api.resources.common import ERRORS
from tenantry.api.routing import ResourceRouter
from tenantry.insight.benchmarks import list_benchmarks
from tenantry.insight.integrity import verify_ledger
from tenantry.insight.kpis import MAX_WINDOW_DAYS, tenant_kpis
from tenantry.insight.provenance import export_prov
from tenantry.insight.snapshots import MAX_DAYS, trends
from tenantry.models.enums import SnapshotSource, Vertical
from tenantry.services.principal import Action
from tenantry.services.records import KINDS, get_record

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", responses=ERRORS)

# A metric is a fact's dotted key, e.g. `gbp.rating` or `facebook.followers`.
METRIC = r"^[a-z0-9_]{1,40}(\.[a-z0-9_]{1,40}){0,3}$"
Metric = Annotated[
    str | None,
    Query(max_length=80, pattern=METRIC, description="A metric (fact key), e.g. gbp.rating."),
]


class KpiTargetOut(BaseModel):
    target: float
    met: bool | None = Field(description="null when there is nothing to measure")


class KpisOut(BaseModel):
    """The seed 000 KPIs of the tenant (definitions: docs/insight.md, "KPIs")."""

    scope: str
    as_of: dt.datetime
    window_days: int
    evidence_coverage: float | None
    avg_confidence: float | None
    source_diversity: float | None
    locations_with_three_sources: float | None
    fresh_share: float | None
    completion_rate: float | None
    checks_completed: int
    checks_requested: int
    statements_published: int
    statements_rejected: int
    evidence_current: int
    locations_with_evidence: int
    targets: dict[str, KpiTargetOut]


class BenchmarkOut(BaseModel):
    vertical: Vertical
    category: str = Field(description="'' for every category")
    region: str
    metric: str
    period_start: dt.date
    period_end: dt.date
    p25: float
    p50: float
    p75: float
    sample_size: int = Field(description="locations")
    tenant_count: int = Field(description="tenants; at least k (5 or more)")


class BenchmarksOut(BaseModel):
    items: list[BenchmarkOut]


class PointOut(BaseModel):
    date: dt.date
    value: float


class SeriesOut(BaseModel):
    source: SnapshotSource
    metric: str
    points: list[PointOut]
    change: float
    change_7d: float | None


class TrendsOut(BaseModel):
    location_id: uuid.UUID
    days: int
    series: list[SeriesOut]


class ProvDocumentOut(BaseModel):
    """A W3C PROV-JSON document (https://www.w3.org/submissions/prov-json/)."""

    model_config = ConfigDict(extra="allow")

    prefix: dict[str, str]
    entity: dict[str, dict[str, Any]] | None = None
    activity: dict[str, dict[str, Any]] | None = None
    agent: dict[str, dict[str, Any]] | None = None
    wasGeneratedBy: dict[str, dict[str, Any]] | None = None  # noqa: N815 (PROV's own names)
    used: dict[str, dict[str, Any]] | None = None
    wasDerivedFrom: dict[str, dict[str, Any]] | None = None  # noqa: N815
    wasAssociatedWith: dict[str, dict[str, Any]] | None = None  # noqa: N815
    wasAttributedTo: dict[str, dict[str, Any]] | None = None  # noqa: N815
    actedOnBehalfOf: dict[str, dict[str, Any]] | None = None  # noqa: N815


class CheckedOut(BaseModel):
    retrievals: int
    evidence: int
    statements: int
    citations: int
    audit_entries: int


class ProblemOut(BaseModel):
    kind: str
    table: str
    row_id: str
    detail: str


class IntegrityOut(BaseModel):
    tenant_id: uuid.UUID
    check_id: uuid.UUID | None
    ok: bool
    checked: CheckedOut
    problems: list[ProblemOut]


@router.get(
    "/insight/kpis",
    response_model=KpisOut,
    tags=["insight"],
    summary="The seed 000 KPIs of the tenant",
)
def get_kpis(
    ctx: CtxDep,
    window_days: Annotated[
        int, Query(ge=1, le=MAX_WINDOW_DAYS, description="Days the window looks back.")
    ] = 30,
) -> Response:
    ctx.principal.require(Action.READ)
    with ctx.read() as uow:
        kpis = tenant_kpis(uow, uow.clock.now(), window_days, locations=ctx.principal.location_ids)
    return json_response(KpisOut.model_validate(kpis.as_dict()))


@router.get(
    "/insight/benchmarks",
    response_model=BenchmarksOut,
    tags=["insight"],
    summary="Published benchmarks (percentiles across at least k tenants)",
)
def get_benchmarks(
    ctx: CtxDep,
    vertical: Annotated[Vertical | None, Query()] = None,
    category: Annotated[
        str | None, Query(max_length=80, description="A location category; '' for all.")
    ] = None,
    region: Annotated[str | None, Query(max_length=100, description="A city.")] = None,
    metric: Metric = None,
) -> Response:
    ctx.principal.require(Action.READ)
    with ctx.read() as uow:
        figures = list_benchmarks(uow, vertical, category, region, metric)
    items = [BenchmarkOut.model_validate(f.as_dict()) for f in figures]
    return json_response(BenchmarksOut(items=items))


@router.get(
    "/locations/{location_id}/trends",
    response_model=TrendsOut,
    tags=["locations", "insight"],
    summary="Daily snapshots of a location as series, with their changes",
)
def get_trends(
    location_id: uuid.UUID,
    ctx: CtxDep,
    metric: Metric = None,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="Days back from today.")] = 90,
) -> Response:
    with ctx.read() as uow:
        get_record(uow, ctx.principal, KINDS["location"], location_id)  # 404 outside the scope
        series = trends(uow, location_id, metric, days)
    body = TrendsOut(
        location_id=location_id,
        days=days,
        series=[SeriesOut.model_validate(s.as_dict()) for s in series],
    )
    return json_response(body)


@router.get(
    "/visibility-checks/{check_id}/provenance",
    response_model=ProvDocumentOut,
    response_model_exclude_none=True,
    tags=["visibility checks"],
    summary="The provenance of a check as W3C PROV-JSON",
)
def get_provenance(check_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        get_record(uow, ctx.principal, KINDS["visibility_check"], check_id)
        doc = export_prov(uow, check_id)
    body = ProvDocumentOut.model_validate(doc)
    return Response(
        content=body.model_dump_json(exclude_none=True),
        media_type="application/json",
    )


@router.get(
    "/visibility-checks/{check_id}/integrity",
    response_model=IntegrityOut,
    tags=["visibility checks"],
    summary="Verify that a check's stored evidence is what was written",
)
def get_integrity(check_id: uuid.UUID, ctx: CtxDep) -> Response:
    with ctx.read() as uow:
        get_record(uow, ctx.principal, KINDS["visibility_check"], check_id)
        report = verify_ledger(uow, check_id)
    return json_response(IntegrityOut.model_validate(report.as_dict()))


RENDERERS: dict[str, Any] = {}
