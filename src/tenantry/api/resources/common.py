"""Shared pieces of the resource modules: base schemas, get and list helpers, write wrapper,
and optimistic concurrency (`ETag` on reads, `If-Match` on writes).

A record's ETag is a strong validator computed from its representation (a hash of the JSON a
GET returns), so it changes exactly when something a client can see changes and needs no
version column. `require_match` compares a write's `If-Match` with the ETag of the record as
the write (holding the row lock) sees it: a stale one is refused with 412 and nothing written.
PATCH bodies derive from `Patch`: only the fields sent change, unknown fields are refused, and
read-only fields are refused by name.

Request bodies derive from `In` and type their numbers with `Integer`, `Cents` and `Number`:
a number must arrive as a JSON number (`true` or `"100"` is refused, not read as 1 or 100), and
an amount of money lies between 0 and `MAX_CENTS`. A test holds every body model to this.
Instants are typed `Instant` (a UTC offset required, and between the years 1900 and 2999,
so that every one converts to UTC, survives the arithmetic of a search and reads back from
PostgreSQL), timezone names `TimeZone` (a name the timezone database knows).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Header, Request
from fastapi.responses import Response
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tenantry.api.deps import Ctx, Page, decode_cursor, encode_cursor, json_response
from tenantry.api.idempotency import WriteRequest, Written
from tenantry.api.problems import PROBLEM_RESPONSES
from tenantry.db.uow import UnitOfWork
from tenantry.domain.money import MAX_CENTS
from tenantry.errors import PreconditionFailedError, ValidationError
from tenantry.services.principal import Principal
from tenantry.services.reads import read_page, read_records
from tenantry.services.records import KINDS, get_record

__all__ = [
    "EMAIL_PATTERN",
    "ERRORS",
    "MAX_CENTS",
    "Boolean",
    "Cents",
    "Email",
    "IdempotencyKey",
    "IfMatch",
    "In",
    "Instant",
    "Integer",
    "NoContent",
    "Number",
    "Out",
    "Patch",
    "TimeZone",
    "deleted",
    "edited",
    "etag_of",
    "get_one",
    "list_page",
    "matching",
    "renderer",
    "require_match",
    "tagged",
    "write",
    "write_coalesced",
]

T = TypeVar("T", bound="Out")
ERRORS = PROBLEM_RESPONSES

# Local part, @, domain: no spaces, no control characters, one @.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$"


# Far from the ends of what Python's datetime holds (years 1 to 9999): an instant in this range
# keeps a valid UTC form whatever its offset, and a search may pad it by days.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(3000, 1, 1, tzinfo=UTC)


def _json_number(value: Any) -> Any:
    """Refuse text and booleans where a (decimal) number belongs; JSON numbers pass."""
    if isinstance(value, (str, bool)):
        raise PydanticCustomError("decimal_type", "Input should be a number")
    return value


def _within_range(value: datetime) -> datetime:
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise PydanticCustomError("datetime_range", "Input should lie between 1900 and 2999")
    return value


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "timezone", "Input should be an IANA timezone name, such as Europe/Berlin"
        ) from None
    return value


# Strict: in the Python mode FastAPI validates bodies in, pydantic would read "100" and true as
# integers; strict accepts only an int (which is what a JSON integer becomes).
Integer = Annotated[int, Strict()]
Boolean = Annotated[bool, Strict()]
Cents = Annotated[int, Strict(), Field(ge=0, le=MAX_CENTS)]
Number = Annotated[Decimal, BeforeValidator(_json_number)]
Email = Annotated[str, Field(max_length=320, pattern=EMAIL_PATTERN)]
Instant = Annotated[AwareDatetime, AfterValidator(_within_range)]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Retry-safe key: a retried request returns the first response, writes nothing.",
    ),
]

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The ETag of the record as last read: a stale one is refused with 412.",
    ),
]


class Out(BaseModel):
    """A response schema read from an ORM row."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class In(BaseModel):
    """A request body: unknown fields are rejected."""

    model_config = ConfigDict(extra="forbid")


class Patch(In):
    """A PATCH body: every field optional; only the fields sent change.

    `__read_only__` names fields a client may see but never set (refused by name rather than as
    unknown); `__not_null__` names fields that may be changed but not to null.
    """

    __read_only__: tuple[str, ...] = ("id", "created_at", "updated_at", "tenant_id")
    __not_null__: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _refuse_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fixed = sorted(k for k in data if k in cls.__read_only__)
            if fixed:
                raise ValueError(f"read-only field(s) cannot be changed: {', '.join(fixed)}")
        return data

    def changes(self) -> dict[str, Any]:
        """The fields sent, with their values (None: set to null)."""
        sent = self.model_dump(exclude_unset=True)
        nulled = sorted(k for k, v in sent.items() if v is None and k in self.__not_null__)
        if nulled:
            raise ValidationError(f"field(s) cannot be null: {', '.join(nulled)}")
        return sent


def etag_of(body: BaseModel) -> str:
    """The strong ETag of a representation: a hash of its JSON."""
    return _etag_of_json(body.model_dump_json().encode())


def _etag_of_json(content: bytes) -> str:
    digest = hashlib.sha256(content).hexdigest()[:32]
    return f'"{digest}"'


def tagged(body: BaseModel) -> Response:
    """A single record's representation with its ETag (reads that do not use `get_one`)."""
    content = body.model_dump_json().encode()
    return Response(
        content=content,
        media_type="application/json",
        headers={"ETag": _etag_of_json(content)},
    )


def matching(
    if_match: str | None, render: Callable[[Any], BaseModel]
) -> Callable[[Any], None] | None:
    """The precondition a service runs on the locked record: `require_match` against the
    record rendered as its GET shows it (None without `If-Match`: nothing to render)."""
    if if_match is None:
        return None

    def check(record: Any) -> None:
        require_match(if_match, render(record))

    return check


def edited(response: Response) -> Response:
    """A PATCH response: the new representation carries its new ETag.

    The body is the representation's JSON as `etag_of` hashes it, so the tag equals what a
    GET of the record sends.
    """
    if response.status_code == 200:
        response.headers["ETag"] = _etag_of_json(bytes(response.body))
    return response


class NoContent(BaseModel):
    """The body of a DELETE's `Written` (sent as an empty 204)."""


def deleted(response: Response) -> Response:
    """A DELETE response: 204 without a body (also when replayed for an Idempotency-Key)."""
    if response.status_code != 204:
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() == "idempotent-replayed"}
    return Response(status_code=204, headers=headers)


def require_match(if_match: str | None, current: BaseModel) -> None:
    """Refuse a write whose `If-Match` names another version (absent or `*`: any version)."""
    if if_match is None:
        return
    tags = {t.strip() for t in if_match.split(",")}
    if "*" in tags:
        return
    # A weak comparison would be wrong for writes (RFC 9110 13.1.1): W/ tags never match.
    if etag_of(current) not in tags:
        raise PreconditionFailedError()


async def get_one(ctx: Ctx, kind: str, out: type[T], id_: uuid.UUID) -> Response:
    """One record as `out` with its ETag, read on the event loop (see `services.reads`)."""
    (record,) = await _read(ctx, kind, id_=id_)
    return tagged(out.model_validate(record))  # serialised once, hashed from those bytes


async def list_page(
    ctx: Ctx,
    kind: str,
    out: type[T],
    filters: Mapping[str, Any],
    cursor: str | None,
    limit: int,
) -> Response:
    """One page of records as `out`, filtered by equality on columns (None: no filter)."""
    after = decode_cursor(cursor)
    state = ctx.state
    records, more = await read_page(
        state.reader,
        state.db,
        ctx.principal,
        ctx.caller.ref,
        kind,
        filters=filters,
        after=after,
        limit=limit,
    )
    next_cursor = encode_cursor(records[-1]["id"]) if more else None
    # The whole page in one validation (not one call per item).
    page = Page[out].model_validate({"items": records, "next_cursor": next_cursor})  # type: ignore[valid-type]
    return json_response(page)


async def _read(ctx: Ctx, kind: str, **query: Any) -> list[dict[str, Any]]:
    state = ctx.state
    return await read_records(state.reader, state.db, ctx.principal, ctx.caller.ref, kind, **query)


def renderer(kind: str, out: type[T]) -> Callable[[UnitOfWork, Principal, uuid.UUID], BaseModel]:
    """Re-render a resource for an idempotent replay."""

    def render(uow: UnitOfWork, principal: Principal, id_: uuid.UUID) -> BaseModel:
        return out.model_validate(get_record(uow, principal, KINDS[kind], id_))

    return render


def write(
    ctx: Ctx,
    request: Request,
    body: BaseModel | None,
    key: str | None,
    fn: Callable[[UnitOfWork], Written],
    *,
    platform: bool = False,
) -> Response:
    return WriteRequest(ctx, request.method, request.url.path, body, key, fn, platform).run_alone()


async def write_coalesced(
    ctx: Ctx,
    request: Request,
    body: BaseModel | None,
    key: str | None,
    fn: Callable[[UnitOfWork], Written],
) -> Response:
    """`write`, committed together with the caller's concurrent writes (group commit).

    For writes that do nothing but database work: see `tenantry.api.coalescing`.
    """
    pending = WriteRequest(ctx, request.method, request.url.path, body, key, fn)
    return await ctx.state.writes.submit(pending)
