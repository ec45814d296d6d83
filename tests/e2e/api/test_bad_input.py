"""Bad input never gives a 500: every route of the OpenAPI document, walked field by field.

Text PostgreSQL cannot store (NUL, a lone UTF-16 surrogate) is put into each string field of
each request body (one field at a time, the rest of the body well-formed), into each string
query parameter and each path parameter: every answer must be a 422 problem. Bodies nested too
deep or too large are refused on every write route before they are parsed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tenantry.api.guard import MAX_BODY_BYTES, MAX_JSON_DEPTH
from tenantry.api.resources.common import MAX_CENTS
from tests.conftest import TenantFixture

Path = tuple[str | int, ...]
BAD_TEXT = {"nul": "K\x00ln", "lone surrogate": "K\ud800ln"}
WRITES = ("post", "put", "patch")


class Spec:
    """The app's OpenAPI document with `$ref` and nullable `anyOf` resolved."""

    def __init__(self, app: FastAPI) -> None:
        self.doc: dict[str, Any] = app.openapi()

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while True:
            if "$ref" in schema:
                schema = self.doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            elif "anyOf" in schema:
                schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
            else:
                return schema

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, methods in self.doc["paths"].items():
            for method, operation in methods.items():
                yield method, path, operation

    def body_schema(self, operation: dict[str, Any]) -> dict[str, Any] | None:
        content = operation.get("requestBody", {}).get("content", {})
        schema = content.get("application/json", {}).get("schema")
        return None if schema is None else self.resolve(schema)


def _sample(spec: Spec, schema: dict[str, Any], name: str, tenant: TenantFixture) -> Any:
    """A value the schema accepts (references point at the tenant's first location)."""
    schema = spec.resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {
            key: _sample(spec, schema["properties"][key], key, tenant)
            for key in schema.get("required", [])
        }
    if kind == "array":
        return [_sample(spec, schema["items"], name, tenant)] * max(1, schema.get("minItems", 1))
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1) if kind == "integer" else 1
    if kind == "boolean":
        return True
    fmt, pattern = schema.get("format"), schema.get("pattern", "")
    if fmt == "uuid":
        return str(tenant.locations[0] if name.endswith("location_id") else uuid.uuid4())
    if fmt == "date-time":
        return "2031-05-04T10:00:00+00:00"
    if fmt == "date":
        return "2031-05-04"
    if "@" in pattern or name == "email":
        return "walker@example.com"
    if "{3}" in pattern:
        return "EUR"
    if "{2}" in pattern:
        return "DE"
    if pattern:
        return f"walk-{uuid.uuid4().hex[:12]}"
    return "x" * max(1, schema.get("minLength", 1))


def _string_paths(spec: Spec, schema: dict[str, Any], prefix: Path = ()) -> Iterator[Path]:
    """Every place a string can go in a body of this schema."""
    schema = spec.resolve(schema)
    kind = schema.get("type")
    if kind == "string":
        yield prefix
    elif kind == "array":
        yield from _string_paths(spec, schema["items"], (*prefix, 0))
    elif kind == "object":
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            yield from _string_paths(spec, sub, (*prefix, key))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            yield from _string_paths(spec, extra, (*prefix, "k"))
        elif not properties:  # a free-form object
            yield (*prefix, "note")


def _number_paths(
    spec: Spec, schema: dict[str, Any], prefix: Path = ()
) -> Iterator[tuple[Path, str]]:
    """Every place a number or boolean goes in a body of this schema, with its type."""
    schema = spec.resolve(schema)
    kind = schema.get("type")
    if kind in ("integer", "number", "boolean"):
        yield prefix, kind
    elif kind == "array":
        yield from _number_paths(spec, schema["items"], (*prefix, 0))
    elif kind == "object":
        for key, sub in schema.get("properties", {}).items():
            yield from _number_paths(spec, sub, (*prefix, key))


def _put(document: Any, path: Path, value: object) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(head, int):
        items = list(document) if isinstance(document, list) and document else [{}]
        items[0] = _put(items[0] if rest else None, rest, value)
        return items
    container = dict(document) if isinstance(document, dict) else {}
    container[head] = _put(container.get(head), rest, value)
    return container


def _url(path: str, tenant: TenantFixture, spec_params: list[dict[str, Any]]) -> str:
    for param in spec_params:
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", str(uuid.uuid4()))
    return path


@pytest.fixture
def owner(key_for: Callable[..., dict[str, str]], tenant: TenantFixture) -> dict[str, str]:
    return key_for(tenant)


def _is_422_problem(r: Any) -> bool:
    return r.status_code == 422 and r.headers["content-type"] == "application/problem+json"


def test_unstorable_text_in_any_body_field_is_refused_with_422(
    app: FastAPI, client: TestClient, tenant: TenantFixture, owner: dict[str, str]
) -> None:
    spec = Spec(app)
    failures: list[str] = []
    cases = 0
    for method, path, operation in spec.operations():
        schema = spec.body_schema(operation)
        if method not in WRITES or schema is None:
            continue
        url = _url(path, tenant, operation.get("parameters", []))
        base = _sample(spec, schema, "body", tenant)
        for where in _string_paths(spec, schema):
            for label, bad in BAD_TEXT.items():
                cases += 1
                body = json.dumps(_put(base, where, bad))  # ASCII: the bad text as an escape
                headers = {**owner, "Content-Type": "application/json"}
                r = client.request(method, url, content=body, headers=headers)
                if not _is_422_problem(r):
                    failures.append(f"{method} {path} {where} ({label}): {r.status_code}")
                elif (r.json().get("errors") or [{}])[0].get("field") == "body":
                    failures.append(f"{method} {path} {where} ({label}): field not named")
    assert cases > 150
    assert not failures, "\n".join(failures)


def test_unstorable_text_in_any_query_or_path_parameter_is_refused_with_422(
    app: FastAPI, client: TestClient, tenant: TenantFixture, owner: dict[str, str]
) -> None:
    spec = Spec(app)
    failures: list[str] = []
    cases = 0
    for method, path, operation in spec.operations():
        parameters = operation.get("parameters", [])
        url = _url(path, tenant, parameters)
        for param in parameters:
            if spec.resolve(param["schema"]).get("type") != "string":
                continue
            cases += 1
            if param["in"] == "query":
                r = client.request(method, url, params={param["name"]: "K\x00ln"}, headers=owner)
            elif param["in"] == "path":
                bad = path.replace("{" + param["name"] + "}", "K%00ln")
                r = client.request(method, _url(bad, tenant, parameters), headers=owner)
            else:
                continue
            if not _is_422_problem(r):
                failures.append(f"{method} {path} {param['in']}.{param['name']}: {r.status_code}")
    assert cases > 60
    assert not failures, "\n".join(failures)


def test_numbers_and_booleans_must_arrive_as_json_numbers_and_booleans(
    app: FastAPI, client: TestClient, tenant: TenantFixture, owner: dict[str, str]
) -> None:
    spec = Spec(app)
    failures: list[str] = []
    cases = 0
    for method, path, operation in spec.operations():
        schema = spec.body_schema(operation)
        if method not in WRITES or schema is None:
            continue
        url = _url(path, tenant, operation.get("parameters", []))
        base = _sample(spec, schema, "body", tenant)
        for where, kind in _number_paths(spec, schema):
            # A boolean's wrong forms are text and numbers; a number's, text and booleans.
            for wrong in ("true", 1) if kind == "boolean" else ("1", True):
                cases += 1
                r = client.request(method, url, json=_put(base, where, wrong), headers=owner)
                named = ".".join(["body", *map(str, where)])
                fields = [e["field"] for e in r.json().get("errors", [])]
                if r.status_code != 422 or named not in fields:
                    failures.append(f"{method} {path} {named}={wrong!r}: {r.status_code} {fields}")
    assert cases > 30
    assert not failures, "\n".join(failures)


def test_amounts_of_money_are_bounded(
    client: TestClient, tenant: TenantFixture, owner: dict[str, str]
) -> None:
    service = {"kind": "menu_item", "name": "Soup", "price_cents": MAX_CENTS}
    assert client.post("/v1/services", json=service, headers=owner).status_code == 201
    r = client.post("/v1/services", json=service | {"price_cents": 10**12}, headers=owner)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.price_cents"


def test_a_surrogate_pair_is_ordinary_text(
    client: TestClient, tenant: TenantFixture, owner: dict[str, str]
) -> None:
    body = {
        "name": "Caf\u00e9 \U0001f600",
        "slug": f"pair-{uuid.uuid4().hex[:8]}",
        "vertical": "restaurant",
    }
    r = client.post(
        "/v1/locations",
        content=json.dumps(body),  # the emoji as the escapes \ud83d\ude00
        headers={**owner, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Caf\u00e9 \U0001f600"


def test_json_nested_too_deep_is_refused_on_every_write_route(
    app: FastAPI, client: TestClient, tenant: TenantFixture, owner: dict[str, str]
) -> None:
    spec = Spec(app)
    deep = "[" * 1000 + "]" * 1000
    failures: list[str] = []
    for method, path, operation in spec.operations():
        if method not in WRITES:
            continue
        url = _url(path, tenant, operation.get("parameters", []))
        headers = {**owner, "Content-Type": "application/json"}
        r = client.request(method, url, content=deep, headers=headers)
        if r.status_code != 400 or "nested deeper" not in r.json().get("detail", ""):
            failures.append(f"{method} {path}: {r.status_code}")
    assert not failures, "\n".join(failures)
    # At the limit, the same body is parsed (and found to be no event batch of use).
    shallow = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    r = client.post("/v1/events", content=shallow, headers=owner)
    assert r.status_code == 200


def test_a_body_over_the_size_limit_is_refused_with_413(
    client: TestClient, owner: dict[str, str]
) -> None:
    big = json.dumps({"name": "x" * MAX_BODY_BYTES})
    r = client.post(
        "/v1/locations", content=big, headers={**owner, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["type"] == "urn:tenantry:problem:payload-too-large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"name": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    r = client.post(
        "/v1/locations", content=chunks(), headers={**owner, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
