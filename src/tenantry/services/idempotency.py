"""Idempotent writes: the one commit point of every write an entrypoint runs for a caller.

A write is a function of a unit of work returning `Written` (status, body, the resource it
shows). `run_write` runs it in its own unit of work and commits; `run_writes` runs several
writes of one caller in one transaction (group commit). With an `Idempotency-Key`, the write
and its idempotency record commit in one transaction. The record keeps the status code and a
reference to the resource the response showed (kind and id), or a body free of personal data;
a replay renders that resource again in the caller's scope, so no copy of personal data is
stored. The request is recognised by an HMAC of method, path and canonical body under a random
per-record salt; the same key with a different request is `IdempotencyKeyReusedError`. Keys are
scoped per tenant and principal and expire after 24 hours; every `PRUNE_EVERY`-th keyed write of
a process also deletes a batch of the tenant's expired records. Two concurrent requests with the
same key: the second one's record insert conflicts, its write is rolled back and it replays the
first.

This module knows no HTTP: it returns `WriteResult`s, which the API renders.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tenantry.db.uow import UnitOfWork
from tenantry.errors import (
    ConflictError,
    DatabaseUnavailableError,
    IdempotencyKeyReusedError,
    ValidationError,
)
from tenantry.models import IdempotencyRecord
from tenantry.services.principal import Principal

__all__ = [
    "IDEMPOTENCY_TTL",
    "IdempotentWrite",
    "Renderer",
    "WriteResult",
    "Writer",
    "Written",
    "commit_once",
    "prune_expired",
    "run_write",
    "run_writes",
]

IDEMPOTENCY_TTL = timedelta(hours=24)
PRUNE_EVERY = 200  # writes with a key, per process, between two prunes of expired records
PRUNE_BATCH = 1000
_writes = itertools.count(1)

T = TypeVar("T")
Renderer = Callable[[UnitOfWork, Principal, uuid.UUID], BaseModel]


@dataclass(frozen=True)
class Written:
    """The outcome of a write: status, response body and the resource it shows."""

    status: int
    body: BaseModel
    kind: str | None = None
    id: uuid.UUID | None = None
    stored: BaseModel | None = None  # what a replay returns, when it must differ (a secret)


@dataclass(frozen=True)
class WriteResult:
    """What the caller gets: a body to serialise (`body`, or the stored JSON `raw`)."""

    status: int
    body: BaseModel | None
    raw: Any = None
    replayed: bool = False


@dataclass(frozen=True)
class Writer:
    """Who writes: their principal, a reference for audit and keys, their unit of work."""

    principal: Principal
    ref: str
    open_uow: Callable[[], UnitOfWork]
    renderers: Mapping[str, Renderer] = field(default_factory=dict)

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.principal.tenant_id


@dataclass(frozen=True)
class IdempotentWrite:
    """One write of a caller, to be run alone or together with the caller's others."""

    writer: Writer
    method: str
    path: str
    body: BaseModel | None
    key: str | None
    write: Callable[[UnitOfWork], Written]


def commit_once(open_uow: Callable[[], UnitOfWork], work: Callable[[UnitOfWork], T]) -> T:
    """Run `work` in a new unit of work and commit it: for writes that take no key."""
    with open_uow() as uow:
        result = work(uow)
        uow.commit()
    return result


def _fingerprint(salt: bytes, material: str) -> bytes:
    return hmac.new(salt, material.encode(), hashlib.sha256).digest()


def _material(request: IdempotentWrite) -> str:
    body = request.body
    return f"{request.method} {request.path}\n{body.model_dump_json() if body is not None else ''}"


def _valid_key(key: str) -> bool:
    return bool(key.strip()) and len(key) <= 255


def _replay(writer: Writer, uow: UnitOfWork, record: IdempotencyRecord) -> WriteResult:
    if record.resource_kind is not None and record.resource_id is not None:
        render = writer.renderers[record.resource_kind]
        body = render(uow, writer.principal, record.resource_id)
        return WriteResult(record.status_code, body, replayed=True)
    return WriteResult(record.status_code, None, raw=record.response_body, replayed=True)


def _result(written: Written) -> WriteResult:
    return WriteResult(written.status, written.body)


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


def _record_values(request: IdempotentWrite, result: Written, now: datetime) -> dict[str, object]:
    salt = secrets.token_bytes(16)
    return {
        "tenant_id": request.writer.tenant_id,
        "principal_ref": request.writer.ref,
        "key": request.key,
        "salt": salt,
        "request_hash": _fingerprint(salt, _material(request)),
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


def run_write(request: IdempotentWrite) -> WriteResult:
    """Run the write in one unit of work and commit it, honouring its key."""
    key = request.key
    if key is None:
        return _result(commit_once(request.writer.open_uow, request.write))
    if not _valid_key(key):
        raise ValidationError("Idempotency-Key must be 1 to 255 characters")
    material = _material(request)
    writer = request.writer
    pk = (writer.tenant_id, writer.ref, key)
    for _attempt in range(2):
        with writer.open_uow() as uow:
            now = uow.clock.now()
            record = uow.session.get(IdempotencyRecord, pk)
            if record is not None and record.expires_at > now:
                if not hmac.compare_digest(
                    _fingerprint(record.salt, material), record.request_hash
                ):
                    raise IdempotencyKeyReusedError()
                return _replay(writer, uow, record)
            if record is not None:
                uow.session.delete(record)
                uow.flush()
            if next(_writes) % PRUNE_EVERY == 0:
                prune_expired(uow, now)
            result = request.write(uow)
            uow.flush()
            uow.session.add(IdempotencyRecord(**_record_values(request, result, now)))
            try:
                uow.commit()
            except ConflictError:
                continue  # a concurrent request with the same key won: replay it
        return _result(result)
    raise ConflictError("a request with this Idempotency-Key is still in progress")


Outcome = WriteResult | Exception


def run_writes(requests: list[IdempotentWrite]) -> list[Outcome]:
    """Several writes of one caller in one unit of work: one transaction, one commit.

    Each outcome (a result, or the exception to raise) is what the request would have got
    from `run_write` alone. A request joins the others unless its key is invalid, repeated
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
        if key is not None and (not _valid_key(key) or key in keys):
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
            outcomes[i] = run_write(requests[i])
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
    requests: list[IdempotentWrite], together: list[int], outcomes: list[Outcome | None]
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
    requests: list[IdempotentWrite],
    batch: list[int],
    replays: list[int],
    outcomes: list[Outcome | None],
) -> list[int]:
    """Write `batch` in one transaction, or nothing: the requests whose key is on record."""
    with requests[batch[0]].writer.open_uow() as uow:
        now = uow.clock.now()
        keyed = [i for i in batch if requests[i].key is not None]
        counts = [next(_writes) for _ in keyed]  # one per keyed write, as written alone
        if any(n % PRUNE_EVERY == 0 for n in counts):
            prune_expired(uow, now)
        results = [requests[i].write(uow) for i in batch]
        records = [
            _record_values(requests[i], result, now)
            for i, result in zip(batch, results, strict=True)
            if requests[i].key is not None
        ]
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
        outcomes[i] = _result(result)
    return []
