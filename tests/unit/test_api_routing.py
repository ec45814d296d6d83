"""`ResourceRouter` declines other collections without changing what matches."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tenantry.api.routing import ResourceRouter


def _app() -> tuple[FastAPI, ResourceRouter, ResourceRouter]:
    leads = ResourceRouter(prefix="/v1/leads")
    shared = ResourceRouter(prefix="/v1")

    @leads.get("/{lead_id}")
    def get_lead(lead_id: str) -> dict[str, str]:
        return {"lead": lead_id}

    @shared.get("/reviews")
    def list_reviews() -> dict[str, str]:
        return {"reviews": "all"}

    @shared.post("/connections/{cid}/sync")
    def sync(cid: str) -> dict[str, str]:
        return {"synced": cid}

    app = FastAPI()
    app.include_router(leads)
    app.include_router(shared)
    return app, leads, shared


def test_a_request_never_tries_the_routes_of_other_collections() -> None:
    app, leads, _shared = _app()
    (route,) = leads.routes
    tried: list[str] = []
    original = route.matches

    def spy(scope: Any) -> Any:
        tried.append(scope["path"])
        return original(scope)

    route.matches = spy  # type: ignore[method-assign]
    with TestClient(app) as client:
        assert client.get("/v1/reviews").status_code == 200
        assert client.get("/api/v1/reviews", headers={}).status_code == 404
        assert tried == []
        assert client.get("/v1/leads/abc").json() == {"lead": "abc"}
    assert set(tried) == {"/v1/leads/abc"}


def test_requests_still_reach_their_routes_through_the_app() -> None:
    app, _leads, _shared = _app()
    with TestClient(app) as client:
        assert client.get("/v1/leads/abc").json() == {"lead": "abc"}
        assert client.get("/v1/reviews").json() == {"reviews": "all"}
        assert client.post("/v1/connections/c1/sync").json() == {"synced": "c1"}
        assert client.get("/v1/nothing").status_code == 404
        assert client.get("/v1/reviews/", follow_redirects=False).status_code == 307
        assert client.post("/v1/reviews").status_code == 405
