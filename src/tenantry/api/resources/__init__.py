"""The `/v1` resources: one module per resource, each with its schemas and endpoints.

`ROUTERS` lists the routers the app mounts; `RENDERERS` maps a resource kind to the function
that renders it again for an idempotent replay.
"""

from __future__ import annotations

from fastapi import APIRouter

from tenantry.api.deps import Renderer
from tenantry.api.resources import (
    commerce,
    crm,
    dashboards,
    engage,
    events,
    identity,
    insight,
    insight_reports,
    leads,
    privacy,
)

__all__ = ["RENDERERS", "ROUTERS"]

_MODULES = (leads, crm, identity, commerce, engage, insight, insight_reports, privacy, events)
# `dashboards` first: its paths (`/v1/leads/hot-prospects`, `/v1/customers/search`, ...) would
# otherwise be taken for ids by the `/{id}` routes of `leads` and `crm`. One router per
# collection, so a request elsewhere in `/v1/leads` tries one more route, not all of them.
ROUTERS: tuple[APIRouter, ...] = (*dashboards.ROUTERS, *(m.router for m in _MODULES))
RENDERERS: dict[str, Renderer] = {k: v for m in _MODULES for k, v in m.RENDERERS.items()}
