"""RFC 9457 problem documents: the one place that maps errors to HTTP statuses.

Each error class has a stable `type` URI (`urn:tenantry:problem:<slug>`), listed in
docs/api.md. The `detail` of a 4xx is the error's message, which tenantry errors keep free of
personal data; a 5xx never says more than "internal error". Request validation errors list each
bad field by location and message, never the submitted value. No stack trace, SQL or driver
text reaches a response.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope, Send

from tenantry.db.errors import translate_db_error, translate_driver_error
from tenantry.errors import (
    AuditTrailBrokenError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DatabaseUnavailableError,
    IdempotencyKeyReusedError,
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RateLimitedError,
    ReferenceNotFoundError,
    TenantNotBoundError,
    TenantryError,
    ValidationError,
    plain_message,
)
from tenantry.events.ingest import BatchTooLargeError

__all__ = [
    "PROBLEM_RESPONSES",
    "PROBLEM_TYPES",
    "FieldProblem",
    "IdempotencyKeyReusedError",
    "Problem",
    "install_problem_handlers",
    "problem_response",
    "problem_type",
    "send_problem",
]

MEDIA_TYPE = "application/problem+json"
_URN = "urn:tenantry:problem:"
log = logging.getLogger("tenantry.api")


class FieldProblem(BaseModel):
    """One invalid input: where it is and what is wrong (never the value itself)."""

    field: str = Field(description="Location of the input, e.g. `body.email` or `query.limit`.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document (with extension members where an error defines them)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="Stable URI identifying the kind of problem.")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = None
    errors: list[FieldProblem] | None = Field(
        default=None, description="Each invalid field (validation problems only)."
    )


# Most specific first: the first class in an error's MRO that is listed decides.
PROBLEM_TYPES: dict[type[TenantryError], tuple[int, str, str]] = {
    AuthenticationError: (401, "unauthenticated", "Authentication required"),
    TenantNotBoundError: (403, "tenant-not-bound", "No tenant bound"),
    PermissionDeniedError: (403, "permission-denied", "Permission denied"),
    NotFoundError: (404, "not-found", "Not found"),
    PreconditionFailedError: (412, "precondition-failed", "Precondition failed"),
    IdempotencyKeyReusedError: (422, "idempotency-key-reused", "Idempotency key reused"),
    BatchTooLargeError: (413, "batch-too-large", "Batch too large"),
    ReferenceNotFoundError: (422, "reference-not-found", "Referenced record not found"),
    ValidationError: (422, "validation-failed", "Invalid input"),
    IllegalTransitionError: (409, "illegal-transition", "Transition not allowed"),
    ConflictError: (409, "conflict", "Conflict"),
    RateLimitedError: (429, "rate-limited", "Too many requests"),
    DatabaseUnavailableError: (503, "database-unavailable", "Service unavailable"),
    ConfigurationError: (500, "internal-error", "Internal error"),
    AuditTrailBrokenError: (500, "internal-error", "Internal error"),
    TenantryError: (500, "internal-error", "Internal error"),
}

_HTTP_TYPES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem_type(slug: str) -> str:
    return _URN + slug


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def send_problem(
    scope: Scope,
    send: Send,
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    *,
    errors: list[tuple[str, str]] | None = None,
) -> None:
    """Answer with a problem document from ASGI middleware (where no `Request` exists yet)."""
    state = scope.get("state") or {}
    body = Problem(
        type=problem_type(slug),
        title=title,
        status=status,
        detail=detail,
        instance=scope.get("path"),
        request_id=state.get("request_id"),
        errors=[FieldProblem(field=f, message=m) for f, m in errors] if errors else None,
    ).model_dump_json(exclude_none=True)
    content = body.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(content)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    *,
    errors: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
    extensions: dict[str, object] | None = None,
) -> JSONResponse:
    body = Problem(
        type=problem_type(slug),
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=_request_id(request),
        errors=errors,
        **(extensions or {}),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _classify(exc: TenantryError) -> tuple[int, str, str]:
    for cls in type(exc).__mro__:
        if cls in PROBLEM_TYPES:
            return PROBLEM_TYPES[cls]
    return PROBLEM_TYPES[TenantryError]


async def _tenantry_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TenantryError)
    status, slug, title = _classify(exc)
    headers = None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, AuthenticationError):
        headers = {"WWW-Authenticate": 'Bearer realm="tenantry"'}
    if status >= 500:
        log.error(
            "request failed",
            extra={"request_id": _request_id(request), "error": type(exc).__name__},
        )
        return problem_response(request, status, slug, title, "internal error", headers=headers)
    return problem_response(
        request, status, slug, title, exc.message, headers=headers, extensions=exc.extensions()
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A driver error that escaped the adapter (a raw COPY, say): translated here as there."""
    translate = translate_db_error if isinstance(exc, DBAPIError) else translate_driver_error
    return await _tenantry_error(request, translate(exc))  # type: ignore[arg-type]


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc) or "request"


def _message(error: dict[str, Any]) -> str:
    return plain_message(str(error.get("msg", "invalid value")))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldProblem(field=_field(e.get("loc", ())), message=_message(e)) for e in exc.errors()
    ]
    return problem_response(
        request,
        422,
        "validation-failed",
        "Invalid input",
        f"{len(errors)} invalid field(s)",
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_TYPES.get(exc.status_code, (f"http-{exc.status_code}", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else None
    return problem_response(
        request, exc.status_code, slug, title, detail, headers=getattr(exc, "headers", None)
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unexpected error", extra={"request_id": _request_id(request), "error": type(exc).__name__}
    )
    return problem_response(request, 500, "internal-error", "Internal error", "internal error")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TenantryError, _tenantry_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(psycopg.Error, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


def _problem_ref(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# Documented on every /v1 operation.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_ref("Malformed request: a body that is not JSON, or JSON nested too deep"),
    401: _problem_ref("Missing, invalid, revoked or expired credentials"),
    403: _problem_ref("The principal's role does not allow this"),
    404: _problem_ref("No such record in the principal's tenant and location scope"),
    409: _problem_ref("Conflict or illegal state transition"),
    412: _problem_ref("The If-Match ETag is stale: the record changed since it was read"),
    413: _problem_ref("Request body over the size limit"),
    422: _problem_ref("Invalid input (each bad field listed)"),
    429: _problem_ref("Rate limit exceeded; see Retry-After"),
    503: _problem_ref("Database unavailable"),
}
