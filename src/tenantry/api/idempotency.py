"""`Idempotency-Key` for POST writes: a retried request returns the first response.

The write and its idempotency record commit in one transaction. The record keeps the status
code and a reference to the resource the response showed (kind and id), or a body free of
personal data; a replay renders that resource again in the caller's scope, so no copy of
personal data is stored. The request is recognised by an HMAC of method, path and canonical
body under a random per-record salt; the same key with a different request is a 422 problem.
Keys are scoped per tenant and principal and expire after 24 hours; every `PRUNE_EVERY`-th
keyed write of a process also deletes a batch of the tenant's expired records. Two concurrent
requests with the same key: the second one's record insert conflicts, its write is rolled back
and it replays the first.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tenantry.api.deps import Ctx, json_response
from tenantry.api.problems import IdempotencyKeyReusedError
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ConflictError, DatabaseUnavailableError, ValidationError
from tenantry.models import IdempotencyRecord

__all__ = [
    "IDEMPOTENCY_TTL",
    "WriteRequest",
    "Written",
    "perform_write",
    "perform_writes",
    "prune_expired",
]

IDEMPOTENCY_TTL = timedelta(hours=24)
PRUNE_EVERY = 200  # writes with a key, per process, between two prunes of expired records
PRUNE_BATCH = 1000
_writes = itertools.count(1)
_REPLAYED = {"Idempotent-Replayed": "true"}


@dataclass(frozen=True)
class Written:
    """The outcome of a write: status, response body and the resource it shows."""

    status: int
    body: BaseModel
    kind: str | None = None
    id: uuid.UUID | None = None
    stored: BaseModel | None = None  # what a replay returns, when it must differ (a secret)


def _fingerprint(salt: bytes, material: str) -> bytes:
    return hmac.new(salt, material.encode(), hashlib.sha256).digest()


def _material(method: str, path: str, body: BaseModel | None) -> str:
    return f"{method} {path}\n{body.model_dump_json() if body is not None else ''}"


def _replay(ctx: Ctx, uow: UnitOfWork, record: IdempotencyRecord) -> Response:
    if record.resource_kind is not None and record.resource_id is not None:
        render = ctx.state.renderers[record.resource_kind]
        body = render(uow, ctx.principal, record.resource_id)
        return json_response(body, record.status_code, _REPLAYED)
    return Response(
        content=_json(record.response_body),
        status_code=record.status_code,
        media_type="application/json",
        headers=_REPLAYED,
    )


def _json(body: object) -> bytes:
    return json.dumps(body).encode()


def prune_expired(uow: UnitOfWork, now: datetime, limit: int = PRUNE_BATCH) -> int:
    """Delete up to `limit` expired records of the bound tenant (served by the expiry index)."""
    tenant = uow.require_tenant()
    doomed = (
        sa.select(IdempotencyRecord.principal_ref, IdempotencyRecord.key)
        .where(IdempotencyRecord.tenant_id == tenant, IdempotencyRecord.expires_at <= now)
        .limit(limit)
    )
    result = uow.session.execute(
        sa.delete(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant,
            sa.tuple_(IdempotencyRecord.principal_ref, IdempotencyRecord.key).in_(doomed),
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


_INSERT_RECORDS = (
    pg_insert(IdempotencyRecord)
    .on_conflict_do_nothing(index_elements=["tenant_id", "principal_ref", "key"])
    .returning(IdempotencyRecord.key)
)


def _record_values(
    ctx: Ctx, key: str, material: str, result: Written, now: datetime
) -> dict[str, object]:
    salt = secrets.token_bytes(16)
    return {
        "tenant_id": ctx.caller.tenant_id,
        "principal_ref": ctx.caller.ref,
        "key": key,
        "salt": salt,
        "request_hash": _fingerprint(salt, material),
        "status_code": result.status,
        "resource_kind": result.kind,
        "resource_id": result.id,
        "response_body": None
        if result.kind
        else (result.stored or result.body).model_dump(mode="json"),
        "created_at": now,
        "updated_at": now,
        "expires_at": now + IDEMPOTENCY_TTL,
    }


def _record(ctx: Ctx, key: str, material: str, result: Written, now: datetime) -> IdempotencyRecord:
    return IdempotencyRecord(**_record_values(ctx, key, material, result, now))


def perform_write(
    ctx: Ctx,
    *,
    method: str,
    path: str,
    body: BaseModel | None,
    key: str | None,
    write: Callable[[UnitOfWork], Written],
    platform: bool = False,
) -> Response:
    """Run `write` in one unit of work (platform: as the owner), honouring the key."""
    open_uow = ctx.platform_uow if platform else ctx.uow
    if key is None:
        with open_uow() as uow:
            result = write(uow)
            uow.commit()
        return json_response(result.body, result.status)
    if not key.strip() or len(key) > 255:
        raise ValidationError("Idempotency-Key must be 1 to 255 characters")
    material = _material(method, path, body)
    pk = (ctx.caller.tenant_id, ctx.caller.ref, key)
    for _attempt in range(2):
        with open_uow() as uow:
            now = uow.clock.now()
            record = uow.session.get(IdempotencyRecord, pk)
            if record is not None and record.expires_at > now:
                if not hmac.compare_digest(
                    _fingerprint(record.salt, material), record.request_hash
                ):
                    raise IdempotencyKeyReusedError()
                return _replay(ctx, uow, record)
            if record is not None:
                uow.session.delete(record)
                uow.flush()
            if next(_writes) % PRUNE_EVERY == 0:
                prune_expired(uow, now)
            result = write(uow)
            uow.flush()
            uow.session.add(_record(ctx, key, material, result, now))
            try:
                uow.commit()
            except ConflictError:
                continue  # a concurrent request with the same key won: replay it
        return json_response(result.body, result.status)
    raise ConflictError("a request with this Idempotency-Key is still in progress")


@dataclass(frozen=True)
class WriteRequest:
    """One write as `perform_write` takes it, to be run alone or together with others."""

    ctx: Ctx
    method: str
    path: str
    body: BaseModel | None
    key: str | None
    write: Callable[[UnitOfWork], Written]
    platform: bool = False

    def run_alone(self) -> Response:
        return perform_write(
            self.ctx,
            method=self.method,
            path=self.path,
            body=self.body,
            key=self.key,
            write=self.write,
            platform=self.platform,
        )


Outcome = Response | Exception


def perform_writes(requests: list[WriteRequest]) -> list[Outcome]:
    """Several writes of one caller in one unit of work: one transaction, one commit.

    Each outcome (a response, or the exception to raise) is what the request would have got
    from `perform_write` alone. A request joins the others unless its key is invalid, repeated
    in the batch or already on record (a replay); those run alone afterwards. If any write of
    the batch fails, or the database refuses the commit, nothing of it stays and every request
    runs alone, so one bad request never fails the others. Writes run again that way, so a
    write given here must do nothing but database work in its unit of work. If the answer to
    the COMMIT is lost (the connection broke), the batch may have been committed: each of its
    requests gets that error and none runs again.
    """
    alone: list[int] = []
    together: list[int] = []
    keys: set[str] = set()
    for i, request in enumerate(requests):
        key = request.key
        if key is not None and (not key.strip() or len(key) > 255 or key in keys):
            alone.append(i)
            continue
        if key is not None:
            keys.add(key)
        together.append(i)
    outcomes: list[Outcome | None] = [None] * len(requests)
    if len(together) > 1:
        try:
            alone.extend(_write_together(requests, together, outcomes))
        except _CommitOutcomeUnknownError as unknown:
            # The COMMIT was sent and its answer lost: the writes may have been committed,
            # so they must not run again. Each caller gets the error (a retry with its key
            # then replays or writes, whichever is right).
            alone.extend(unknown.replays)
            for i in together:
                if i not in unknown.replays:
                    outcomes[i] = copy.copy(unknown.error)  # each raised on its own
        except Exception:
            alone.extend(together)
    else:
        alone.extend(together)
    for i in sorted(alone):
        try:
            outcomes[i] = requests[i].run_alone()
        except Exception as exc:
            outcomes[i] = exc
    done = [o for o in outcomes if o is not None]
    assert len(done) == len(requests)
    return done


class _CommitOutcomeUnknownError(Exception):
    """The connection failed during COMMIT: the batch may or may not have been committed."""

    def __init__(self, error: Exception, replays: list[int]) -> None:
        super().__init__(str(error))
        self.error = error
        self.replays = replays


def _write_together(
    requests: list[WriteRequest], together: list[int], outcomes: list[Outcome | None]
) -> list[int]:
    """Write `together` in one transaction; the indexes of requests whose key is on record.

    The batch's idempotency records are inserted with `ON CONFLICT DO NOTHING` after its
    writes: a key already on record (expired or not, or just committed by another
    transaction) inserts nothing, the transaction is rolled back, and the batch goes again
    without those requests, which run alone (and replay). The unique index decides, so no
    lookup precedes the writes.
    """
    replays: list[int] = []
    pending = list(together)
    for _attempt in range(2):
        if not pending:
            return replays
        conflicted = _try_together(requests, pending, replays, outcomes)
        if not conflicted:
            return replays
        replays += conflicted
        pending = [i for i in pending if i not in conflicted]
    return replays + pending  # keys kept being written concurrently: each goes alone


def _try_together(
    requests: list[WriteRequest],
    batch: list[int],
    replays: list[int],
    outcomes: list[Outcome | None],
) -> list[int]:
    """Write `batch` in one transaction, or nothing: the requests whose key is on record."""
    first = requests[batch[0]]
    ctx = first.ctx
    open_uow = ctx.platform_uow if first.platform else ctx.uow
    with open_uow() as uow:
        now = uow.clock.now()
        keyed = [i for i in batch if requests[i].key is not None]
        counts = [next(_writes) for _ in keyed]  # one per keyed write, as written alone
        if any(n % PRUNE_EVERY == 0 for n in counts):
            prune_expired(uow, now)
        results = [requests[i].write(uow) for i in batch]
        records = []
        for i, result in zip(batch, results, strict=True):
            request = requests[i]
            if request.key is not None:
                material = _material(request.method, request.path, request.body)
                records.append(_record_values(request.ctx, request.key, material, result, now))
        # The writes first, then the records, as a write alone does: both take the tenant's
        # audit chain head (with their first audited row) before a key's index entry, so a
        # batch and a retry of one of its requests cannot wait for each other in a circle.
        # The records in key order, so two batches meet on shared keys in the same order.
        uow.flush()
        if records:
            records.sort(key=lambda values: str(values["key"]))
            # With RETURNING, SQLAlchemy sends the records as one multi-row INSERT (without,
            # psycopg would run one INSERT per record).
            inserted = set(uow.session.scalars(_INSERT_RECORDS, records))
            if len(inserted) < len(records):  # rolled back when the unit of work ends
                conflicted = [i for i in keyed if requests[i].key not in inserted]
                if not conflicted:
                    raise ConflictError("idempotency records were not written")
                return conflicted
        try:
            uow.commit()
        except DatabaseUnavailableError as exc:
            raise _CommitOutcomeUnknownError(exc, replays) from exc
    for i, result in zip(batch, results, strict=True):
        outcomes[i] = json_response(result.body, result.status)
    return []
