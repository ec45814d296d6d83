"""`CompiledRoute` hands an endpoint exactly what FastAPI's solver would, and fails the same way.

Each case runs against two copies of one app: one whose routes are `CompiledRoute`s, one with
FastAPI's plain `APIRoute`. The endpoints echo the arguments they received.
"""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Body as BodyParam
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from tenantry.api.compiled import COMPILED as COMPILED_PATH
from tenantry.api.compiled import CompiledRoute, RequestPlan
from tenantry.api.registry import ROUTERS


class Colour(enum.StrEnum):
    RED = "red"
    BLUE = "blue"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=20)
    count: int = Field(default=0, ge=0)
    when: uuid.UUID | None = None
    price: Decimal | None = None


async def who(request: Request) -> str:
    """A request-only dependency, like the API's authentication."""
    return request.headers.get("x-who", "nobody")


async def where(*, request: Request) -> str:
    return request.url.path


Who = Annotated[str, Depends(who)]
Where = Annotated[str, Depends(where)]


def _echo(**values: Any) -> Response:
    shown = {
        k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in values.items()
    }
    return JSONResponse(
        {k: repr(v) if not isinstance(v, dict | None) else v for k, v in shown.items()}
    )


def _app(route_class: type[APIRoute], **include: Any) -> FastAPI:
    router = APIRouter(route_class=route_class)

    @router.get("/things/{thing_id}")
    async def get_thing(thing_id: uuid.UUID, who: Who) -> Response:
        return _echo(thing_id=thing_id, who=who)

    @router.get("/things")
    async def list_things(
        who: Who,
        colour: Annotated[Colour | None, Query()] = None,
        cursor: Annotated[str | None, Query(max_length=8)] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        x_trace: Annotated[str | None, Header(max_length=4)] = None,
        since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    ) -> Response:
        return _echo(
            colour=colour, cursor=cursor, limit=limit, who=who, x_trace=x_trace, since=since
        )

    @router.post("/things", status_code=201)
    async def create_thing(
        body: Body,
        request: Request,
        who: Who,
        key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=10)] = None,
    ) -> Response:
        return _echo(body=body, key=key, who=who, path=request.url.path)

    @router.post("/things/{thing_id}/touch")
    def touch_thing(thing_id: uuid.UUID, at: Where, body: Body | None = None) -> Response:
        return _echo(thing_id=thing_id, body=body, at=at)

    app = FastAPI()
    app.include_router(router, **include)
    return app


class CountedRoute(CompiledRoute):
    """A `CompiledRoute` that counts the requests it leaves to FastAPI's handler."""

    left_to_fastapi = 0

    def get_route_handler(self) -> Any:
        standard = APIRoute.get_route_handler(self)

        async def counted(request: Request) -> Response:
            CountedRoute.left_to_fastapi += 1
            return await standard(request)

        plan = RequestPlan.compile(self)
        assert plan is not None
        return plan.handler(counted)


COMPILED = TestClient(_app(CountedRoute))
PLAIN = TestClient(_app(APIRoute))
ID = "0190f3a2-7c1e-7b4e-9a51-3c2b1d0e9f00"

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", f"/things/{ID}", {}),
    ("GET", f"/things/{ID}", {"headers": {"x-who": "ada"}}),
    ("GET", "/things/not-a-uuid", {}),
    ("GET", "/things", {}),
    ("GET", "/things", {"params": {"colour": "red", "limit": "20", "cursor": "abc"}}),
    ("GET", "/things", {"params": {"colour": "green"}}),
    ("GET", "/things", {"params": {"limit": "0"}}),
    ("GET", "/things", {"params": {"limit": "2.5"}}),
    ("GET", "/things", {"params": {"cursor": "x" * 9}}),
    ("GET", "/things", {"params": {"colour": ""}}),
    ("GET", "/things", {"params": {"unknown": "1", "limit": "7"}}),
    ("GET", "/things", {"headers": {"X-Trace": "abc"}}),
    ("GET", "/things", {"params": {"from": "2027-03-01T09:00:00+01:00"}}),
    ("GET", "/things", {"params": {"from": "2027-03-01T09:00:00"}}),
    ("GET", "/things", {"params": {"from": "next tuesday"}}),
    ("GET", "/things", {"headers": {"x_trace": "abc"}}),
    ("GET", "/things", {"headers": {"X-Trace": "abcde"}}),
    ("POST", "/things", {"json": {"name": "a"}}),
    ("POST", "/things", {"json": {"name": "a", "count": 3, "when": ID}}),
    (
        "POST",
        "/things",
        {
            "content": b'{"name": "a", "price": 13.0}',
            "headers": {"content-type": "application/json"},
        },
    ),
    (
        "POST",
        "/things",
        {"content": b'{"name": "a"}', "headers": {"content-type": "application/x/+json"}},
    ),
    (
        "POST",
        "/things",
        {
            "content": b'{"name": "a"}',
            "headers": {"content-type": "application/json; charset=utf-8"},
        },
    ),
    ("POST", "/things", {"content": b"null", "headers": {"content-type": "application/json"}}),
    ("POST", "/things", {"json": {"name": "a"}, "headers": {"Idempotency-Key": "k1"}}),
    ("POST", "/things", {"json": {"name": "a"}, "headers": {"Idempotency-Key": "k" * 11}}),
    ("POST", "/things", {"json": {"name": ""}}),
    ("POST", "/things", {"json": {"name": "a", "extra": 1}}),
    ("POST", "/things", {"json": ["name"]}),
    ("POST", "/things", {}),
    (
        "POST",
        "/things",
        {"content": b'{"name": "a"', "headers": {"content-type": "application/json"}},
    ),
    ("POST", "/things", {"content": b'{"name": "a"}', "headers": {"content-type": "text/plain"}}),
    ("POST", "/things", {"content": b'{"name": "a"}'}),
    (
        "POST",
        "/things",
        {"content": b'{"name": "a"}', "headers": {"content-type": "application/merge+json"}},
    ),
    ("POST", f"/things/{ID}/touch", {}),
    ("POST", f"/things/{ID}/touch", {"json": {"name": "b"}}),
    ("POST", f"/things/{ID}/touch", {"json": {"name": 5}}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), CASES)
def test_a_compiled_route_answers_as_fastapi_does(
    method: str, path: str, kwargs: dict[str, Any]
) -> None:
    before = CountedRoute.left_to_fastapi
    compiled = COMPILED.request(method, path, **kwargs)
    plain = PLAIN.request(method, path, **kwargs)
    assert (compiled.status_code, compiled.json()) == (plain.status_code, plain.json())
    # Only what FastAPI rejects goes to FastAPI: the rest took the short way.
    left = CountedRoute.left_to_fastapi - before
    assert left == (1 if plain.status_code >= 400 else 0)


def test_every_route_of_the_api_is_compiled() -> None:
    """A route that stops compiling quietly loses the short way; this says which."""
    slow = [
        f"{sorted(route.methods or ())} {route.path}"
        for router in ROUTERS
        for route in router.routes
        if not (isinstance(route, CompiledRoute) and RequestPlan.compile(route) is not None)
    ]
    assert slow == []


def test_routes_using_what_the_plan_does_not_cover_are_left_to_fastapi() -> None:
    router = APIRouter(route_class=CompiledRoute)

    @router.get("/a")
    async def returns_a_model() -> Body:
        return Body(name="a")

    @router.get("/b")
    async def takes_a_list(tags: Annotated[list[str], Query()]) -> Response:
        return Response()

    @router.get("/c")
    async def takes_a_cookie(session: Annotated[str | None, Cookie()] = None) -> Response:
        return Response()

    @router.get("/e")
    async def depends_on_a_parameter(
        who: Annotated[str, Depends(lambda q: q)],
    ) -> Response:
        return Response()

    @router.post("/f")
    async def embeds_its_body(body: Annotated[Body, BodyParam(embed=True)]) -> Response:
        return Response()

    @router.post("/g")
    async def has_a_default_body(body: Body | None = Body(name="default")) -> Response:  # noqa: B008
        return Response()

    @router.get("/h")
    async def takes_a_query_model(q: Annotated[Body, Query()]) -> Response:
        return Response()

    @router.get("/i")
    async def repeats_a_dependency(a: Who, b: Who) -> Response:
        return Response()

    @router.get("/j")
    async def limits_a_dependency(
        who: Annotated[str, Depends(who, max_concurrency=1)],
    ) -> Response:
        return Response()

    routes = [r for r in router.routes if isinstance(r, CompiledRoute)]
    assert len(routes) == 9
    assert [RequestPlan.compile(r) for r in routes] == [None] * 9


def test_dependency_overrides_are_honoured() -> None:
    async def someone_else() -> str:
        return "override"

    answers = []
    for route_class in (CompiledRoute, APIRoute):
        app = _app(route_class)
        app.dependency_overrides[who] = someone_else
        answers.append(TestClient(app).get(f"/things/{ID}").json())
    assert answers[0] == answers[1] and answers[0]["who"] == "'override'"


def test_an_inclusions_own_dependencies_still_run() -> None:
    async def gate(request: Request) -> None:
        if request.headers.get("x-pass") != "yes":
            raise HTTPException(403, "closed")

    def gated(route_class: type[APIRoute]) -> TestClient:
        return TestClient(_app(route_class, dependencies=[Depends(gate)]))

    compiled, plain = gated(CompiledRoute), gated(APIRoute)
    for headers in ({}, {"x-pass": "yes"}):
        a = compiled.get(f"/things/{ID}", headers=headers)
        b = plain.get(f"/things/{ID}", headers=headers)
        assert (a.status_code, a.json()) == (b.status_code, b.json())
    assert compiled.get(f"/things/{ID}").status_code == 403


@pytest.fixture
def fastapi_changed(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """FastAPI without the context variable the plan reads: as if a release renamed it."""
    monkeypatch.setattr("tenantry.api.compiled._CONTEXT_VAR", "_renamed_in_a_later_release")
    monkeypatch.setattr(COMPILED_PATH, "on", True)
    caplog.set_level("WARNING", logger="tenantry.fastpath")


def test_without_the_internals_it_reads_every_route_falls_back_with_one_warning(
    fastapi_changed: None, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    planned: list[str] = []
    arguments = RequestPlan.arguments

    async def spy(self: RequestPlan, request: Request) -> dict[str, Any] | None:
        planned.append(request.url.path)
        return await arguments(self, request)

    monkeypatch.setattr(RequestPlan, "arguments", spy)
    fallback = TestClient(_app(CompiledRoute))
    assert not COMPILED_PATH.on
    for method, path, kwargs in CASES:
        ours = fallback.request(method, path, **kwargs)
        plain = PLAIN.request(method, path, **kwargs)
        assert (ours.status_code, ours.json()) == (plain.status_code, plain.json())
    assert planned == [], "FastAPI's own handler answered every request"
    warnings = [r for r in caplog.records if r.name == "tenantry.fastpath"]
    assert len(warnings) == 1 and "api.compiled" in warnings[0].getMessage()


def test_an_internal_missing_at_the_first_request_switches_the_plan_off(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="tenantry.fastpath")
    monkeypatch.setattr(COMPILED_PATH, "on", True)
    client = TestClient(_app(CountedRoute))

    async def gone(self: RequestPlan, request: Request) -> None:
        raise AttributeError("'Request' object has no attribute '_internal'")

    monkeypatch.setattr(RequestPlan, "arguments", gone)
    for method, path, kwargs in CASES:
        ours = client.request(method, path, **kwargs)
        plain = PLAIN.request(method, path, **kwargs)
        assert (ours.status_code, ours.json()) == (plain.status_code, plain.json())
    assert not COMPILED_PATH.on
    assert len([r for r in caplog.records if r.name == "tenantry.fastpath"]) == 1
