"""Operational endpoints without authentication: `/healthz`, `/readyz`, `/metrics`.

`/healthz` says the process serves requests. `/readyz` says the database answers and its
migrations are at the head this code expects (503 problem otherwise). `/metrics` is the
Prometheus text format of this worker's collectors.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tenantry.api.deps import ApiState
from tenantry.api.problems import problem_response
from tenantry.db.migrate import head_revision, read_revision

__all__ = ["router"]

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    revision: str


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health(status="ok")


def _revision(state: ApiState) -> str | None:
    with state.db.owner_engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        return read_revision(conn)


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The database is reachable and migrated to head",
    responses={
        503: {
            "description": "Not ready",
            "content": {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
    },
)
def readyz(request: Request) -> Response | Readiness:
    state: ApiState = request.app.state.api
    try:
        current = _revision(state)
    except SQLAlchemyError:
        return problem_response(
            request, 503, "not-ready", "Not ready", "the database is not reachable"
        )
    head = head_revision()
    if current != head:
        return problem_response(
            request, 503, "not-ready", "Not ready", f"migrations at {current}, expected {head}"
        )
    return Readiness(status="ready", revision=head)


@router.get(
    "/metrics",
    summary="Prometheus metrics of this worker",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    state: ApiState = request.app.state.api
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
