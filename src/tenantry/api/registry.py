"""The `/v1` routers the app mounts, in the order routes are tried.

`ROUTERS` lists the routers the app mounts; `RENDERERS` maps a resource kind to the function
that renders it again for an idempotent replay.
"""

from __future__ import annotations

from fastapi import APIRouter

from tenantry.api.deps import Renderer
from tenantry.api.resources import (
    billing,
    commerce,
    conversations,
    crm,
    dashboards,
    edit_commerce,
    edit_crm,
    edit_engage,
    edit_identity,
    edit_insight,
    engage,
    events,
    experiments,
    identity,
    insight,
    insight_reports,
    lead_models,
    leads,
    partners,
    payment_notifications,
    personalization,
    privacy,
    scheduling,
    webhooks,
)

__all__ = ["RENDERERS", "ROUTERS"]

# `dashboards` last: no request for another module tries its routes first (its
# `POST /v1/customers/search` is found after `crm`'s `/v1/customers/{id}`, whose methods differ).
_MODULES = (
    *(leads, crm, identity, commerce, engage, insight, insight_reports, privacy, events),
    *(edit_crm, edit_identity, edit_commerce, edit_engage, edit_insight),
    conversations,
    scheduling,
    payment_notifications,
    webhooks,
    billing,
    experiments,
    lead_models,
    partners,
    personalization,
    dashboards,
)
ROUTERS: tuple[APIRouter, ...] = tuple(m.router for m in _MODULES)
RENDERERS: dict[str, Renderer] = {k: v for m in _MODULES for k, v in m.RENDERERS.items()}
