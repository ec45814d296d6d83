"""The application factory: `create_app(settings | database)` builds the FastAPI app.

Nothing happens at import time. Given a `Database`, the app uses it (and leaves disposing it to
the caller); given settings or nothing, it opens the configured database itself and disposes of
it at shutdown. `uvicorn --factory tenantry.api.app:create_app` works as is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from tenantry import __version__
from tenantry.api import health
from tenantry.api.auth import Authenticator
from tenantry.api.coalescing import WriteCoalescer
from tenantry.api.deps import SECURITY_SCHEMES, ApiState, authenticates
from tenantry.api.guard import RequestGuard
from tenantry.api.observability import Metrics, ObservabilityMiddleware, configure_logging
from tenantry.api.problems import FieldProblem, Problem, install_problem_handlers
from tenantry.api.ratelimit import RateLimiter
from tenantry.api.registry import RENDERERS, ROUTERS
from tenantry.composition import open_database
from tenantry.config import Settings, get_settings
from tenantry.conversations.scheduled import UpkeepTimer
from tenantry.db.aio import AsyncReader
from tenantry.db.engine import Database
from tenantry.decisions.lead_features import LakeEngagement
from tenantry.decisions.lead_projection import LeadRescorer
from tenantry.decisions.outcomes import OutcomeWorker
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource
from tenantry.decisions.runtime import Personalization
from tenantry.insight.worker import CheckWorker, build_runner

__all__ = ["create_app"]

_DESCRIPTION = """\
The tenantry HTTP API: tenant-scoped resources under `/v1`, authenticated with an API key
(`X-API-Key`) or a JWT bearer token. Errors are RFC 9457 problem documents
(`application/problem+json`) with a stable `type` per kind of error.
"""


def create_app(
    source: Settings | Database | None = None, *, settings: Settings | None = None
) -> FastAPI:
    """Build the API on a database (or the configured one)."""
    owns_db = not isinstance(source, Database)
    if isinstance(source, Settings):
        settings = source
    settings = settings or get_settings()
    db = source if isinstance(source, Database) else open_database(settings)
    configure_logging(settings.api_log_level)
    metrics = Metrics()
    state = ApiState(
        settings=settings,
        db=db,
        auth=Authenticator(settings, db),
        limiter=RateLimiter(settings.rate_limit_per_minute),
        auth_failures=RateLimiter(settings.auth_failures_per_minute),
        metrics=metrics,
        reader=AsyncReader(
            db.target,
            size=settings.pool_size,
            statement_timeout_ms=settings.statement_timeout_ms,
            pre_ping=settings.pool_pre_ping,
        ),
        writes=WriteCoalescer(settings.api_write_batch),
        renderers=dict(RENDERERS),
    )
    # The lake's segments and features, cached for the process, refreshed when published.
    lake_features = LakeFeatureCache(settings.home, interval=settings.personalize_refresh_seconds)
    state.personalization = Personalization(LakeProfileSource(lake_features))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Endpoints doing database work in units of work run in this thread pool. More threads
        # than the engine's pool keeps open would each open and close a connection of their
        # own (the pool's overflow) per request; more than the cores can serve only add GIL
        # contention.
        threads = min(settings.api_threads, settings.pool_size)
        to_thread.current_default_thread_limiter().total_tokens = threads
        await state.reader.open()
        # Visibility checks run beside the API, never in a request (`tenantry vc work` runs
        # them in processes of their own).
        checks = CheckWorker(
            build_runner(db, settings),
            threads=settings.vc_workers,
            benchmark_min_tenants=settings.benchmark_min_tenants,
        )
        checks.start()
        # The chat partitions' months ahead and 90-day drop, without a cron job.
        upkeep = UpkeepTimer(
            db.target.libpq(db.target.owner_url),
            settings.chat_upkeep_hours * 3600,
            db.clock.now,
        )
        upkeep.start()
        # Experiment outcomes from ingested events (decision_id in their properties).
        outcomes = OutcomeWorker(db, poll_seconds=settings.outcome_poll_seconds)
        if settings.outcome_poll_seconds > 0:
            outcomes.start()
        # Leads whose inputs changed are rescored from the outbox, never in a request.
        # Open leads are also rescored once a day (recency ages without events).
        rescorer = LeadRescorer(
            db,
            LakeEngagement(settings.home),
            settings.lead_rescore_seconds,
            daily=settings.lead_rescore_daily,
        )
        rescorer.start()
        lake_features.start()
        try:
            yield
        finally:
            await to_thread.run_sync(lake_features.stop)
            await to_thread.run_sync(rescorer.stop)
            await to_thread.run_sync(outcomes.stop)
            await to_thread.run_sync(upkeep.stop)
            await to_thread.run_sync(checks.stop)
            await state.reader.close()
            if owns_db:
                db.dispose()

    app = FastAPI(
        title="tenantry",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        # FastAPI's own OpenTelemetry hooks look up the global providers on every request
        # (a sixth of a small request's time) and would export exception messages and stack
        # traces, which can quote personal data: off unless asked for, and never their logs.
        telemetry={
            "tracing": settings.api_opentelemetry,
            "metrics": settings.api_opentelemetry,
            "logs": False,
        },
    )
    app.state.api = state
    install_problem_handlers(app)
    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router)
    # Added last, runs first: the request id exists before the guard may refuse a request.
    app.add_middleware(RequestGuard)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    # Operations that authenticate their caller (through `context`) accept either scheme.
    requirement: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
    for router in (health.router, *ROUTERS):  # included as they are, without a prefix
        for route in router.routes:
            if isinstance(route, APIRoute) and authenticates(route.dependant):
                for method in route.methods or ():
                    operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                    if operation is not None:
                        operation["security"] = requirement
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    components = schema["components"].setdefault("schemas", {})
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components["Problem"].pop("$defs", None)
    components["FieldProblem"] = FieldProblem.model_json_schema()
    app.openapi_schema = schema
    return schema
