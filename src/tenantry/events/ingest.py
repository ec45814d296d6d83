"""Ingestion: validate events, suppress those without analytics consent, store each once.

Who an event is about: `user_id` names a user of the tenant (`identity.users`, a member). The
user's data subject is the tenant's subject registered under the user's e-mail (found by blind
index, never by the address). An event with a `user_id` is stored only if that subject exists,
is not erased and has active consent for `analytics`; otherwise it is *suppressed* (not
stored). Events without `user_id` are about no person and are stored. The lake receives the
subject's pseudonym (`user_key`) instead of any id; GA4 ids and e-mail addresses only as keyed
HMACs under the tenant's indexing key.

`ingest_batch` serves the HTTP endpoint (at most 500 events and 500 KB); `ingest_bulk` loads
any number of events in chunks with COPY. Neither commits: the caller owns the unit of work
(`ingest_bulk` opens and commits one per chunk).
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg
import sqlalchemy as sa
from pydantic_core import to_json

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.events.schemas import Event, ParsedEvent, PayloadError, is_junk_id, parse_event
from tenantry.models import Membership, User
from tenantry.privacy.crypto import normalise_email
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.master import MasterKeyProvider
from tenantry.privacy.subjects import email_index

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_BATCH_EVENTS",
    "BatchTooLargeError",
    "EventOutcome",
    "IngestResult",
    "email_key",
    "external_id_key",
    "ingest_batch",
    "ingest_bulk",
]

MAX_BATCH_EVENTS = 500
MAX_BATCH_BYTES = 500 * 1024
FUTURE_SKEW = timedelta(minutes=5)
MAX_AGE = timedelta(days=730)
_HASHED_IDS = {"ga4_client_id": "client", "ga4_user_id": "user"}  # personal online ids
_COLUMNS = (
    "tenant_id",
    "id",
    "event_type",
    "event_ts",
    "account_id",
    "location_id",
    "user_id",
    "user_key",
    "external_ids",
    "properties",
    "source",
    "ingested_at",
)

_SOURCE = re.compile(r"[a-z0-9_.:-]{1,50}")

Status = Literal["accepted", "duplicate", "rejected", "suppressed"]


class BatchTooLargeError(ValidationError):
    """A batch holds at most 500 events and 500 KB; split it (or use the bulk API)."""


@dataclass(frozen=True)
class EventOutcome:
    index: int
    event_id: str | None
    status: Status
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "event_id": self.event_id}
        out["status"] = self.status
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class IngestResult:
    """Counts per status; `outcomes` per event (the bulk API keeps only the non-accepted)."""

    accepted: int = 0
    duplicate: int = 0
    suppressed: int = 0
    rejected: int = 0
    outcomes: list[EventOutcome] = field(default_factory=list)

    def add(self, outcome: EventOutcome, *, keep: bool = True) -> None:
        setattr(self, outcome.status, getattr(self, outcome.status) + 1)
        if keep:
            self.outcomes.append(outcome)

    def merge(self, other: IngestResult) -> None:
        for name in ("accepted", "duplicate", "suppressed", "rejected"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.outcomes.extend(other.outcomes)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "suppressed": self.suppressed,
            "rejected": self.rejected,
            "results": [o.as_json() for o in self.outcomes],
        }


def _hmac_hex(key: bytes, value: str) -> str:
    return hmac.digest(key, value.encode(), "sha256").hex()  # one-shot: several times faster


def external_id_key(ring: KeyRing, name: str, value: str, *, key: bytes | None = None) -> str:
    """The stored form of a personal online id (GA4 client or user id): a keyed HMAC."""
    key = key or ring.field_index_key("external-id")
    return _hmac_hex(key, f"{_HASHED_IDS[name]}:{value.strip()}")


def email_key(ring: KeyRing, email: str, *, key: bytes | None = None) -> str:
    """The stored form of an e-mail address in an event: keyed HMAC of the normalised address."""
    return _hmac_hex(key or ring.field_index_key("event-email"), normalise_email(email))


@dataclass
class _Batch:
    """Per-call caches: keys and lookups done once per distinct value."""

    uow: UnitOfWork
    ring: KeyRing
    tenant: uuid.UUID
    now: datetime
    user_keys: dict[uuid.UUID, str | None] = field(default_factory=dict)
    locations: set[uuid.UUID] = field(default_factory=set)
    _keys: dict[str, bytes] = field(default_factory=dict)

    def key(self, purpose: str) -> bytes:
        if purpose not in self._keys:
            self._keys[purpose] = self.ring.field_index_key(purpose)
        return self._keys[purpose]

    def load(self, events: list[Event]) -> None:
        users = {e.user_id for e in events if e.user_id is not None} - set(self.user_keys)
        locs = {e.location_id for e in events if e.location_id is not None}
        if locs:
            self.locations |= set(
                self.uow.session.scalars(
                    sa.text(
                        "SELECT id FROM identity.locations WHERE tenant_id = :t AND id = ANY(:ids)"
                    ),
                    {"t": self.tenant, "ids": list(locs)},
                )
            )
        if users:
            self.user_keys |= _consenting_user_keys(self.uow, self.ring, users)


def _consenting_user_keys(
    uow: UnitOfWork, ring: KeyRing, users: set[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """user id -> the pseudonym of its subject if that subject consents to analytics now."""
    out: dict[uuid.UUID, str | None] = dict.fromkeys(users)
    members = uow.session.scalars(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.tenant_id == uow.require_tenant(), User.id.in_(users))
    ).all()
    by_index: dict[bytes, list[uuid.UUID]] = {}
    for user in members:  # the address is sealed: opened here, in memory only
        try:
            by_index.setdefault(email_index(ring, user.email), []).append(user.id)
        except ValidationError:
            continue
    if not by_index:
        return out
    rows = uow.session.execute(
        sa.text(
            "SELECT s.email_bidx, s.pseudonym FROM privacy.subjects s"
            " JOIN privacy.active_consents c ON c.tenant_id = s.tenant_id AND c.subject_id = s.id"
            " WHERE s.tenant_id = :t AND s.erased_at IS NULL AND c.purpose = 'analytics'"
            " AND s.email_bidx = ANY(:bidx)"
        ),
        {"t": uow.require_tenant(), "bidx": list(by_index)},
    ).all()
    for bidx, pseudonym in rows:
        for user_id in by_index[bytes(bidx)]:
            out[user_id] = pseudonym
    return out


def check_batch_limits(events: Sequence[Any], *, size_bytes: int | None = None) -> None:
    """Refuse a batch over 500 events or 500 KB (the request body's size if known)."""
    if not isinstance(events, Sequence) or isinstance(events, (str, bytes)):
        raise ValidationError("a batch must be a JSON array of events")
    if len(events) > MAX_BATCH_EVENTS:
        raise BatchTooLargeError(
            f"a batch holds at most {MAX_BATCH_EVENTS} events (got {len(events)})"
        )
    if size_bytes is None:
        size_bytes = len(json.dumps(events, default=str, separators=(",", ":")).encode())
    if size_bytes > MAX_BATCH_BYTES:
        raise BatchTooLargeError(f"a batch holds at most {MAX_BATCH_BYTES // 1024} KB")


def _copy_text(value: str) -> str:
    """A value for COPY's text format (JSON never holds raw tabs or newlines, but backslashes)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    return value


def _prepare(
    batch: _Batch,
    raws: Iterable[Any],
    source: str,
    result: IngestResult,
    *,
    offset: int,
    seen: set[str],
) -> tuple[list[str], list[tuple[int, str]]]:
    """COPY lines to insert (and their index and event id); other outcomes into `result`."""
    parsed: list[tuple[int, ParsedEvent]] = []
    for i, raw in enumerate(raws, start=offset):
        try:
            parsed.append((i, parse_event(raw)))
        except PayloadError as exc:
            event_id = raw.get("event_id") if isinstance(raw, Mapping) else None
            ident = str(event_id)[:36] if isinstance(event_id, str) else None
            result.add(EventOutcome(i, ident, "rejected", str(exc)))
    batch.load([p.event for _, p in parsed])
    lines: list[str] = []
    order: list[tuple[int, str]] = []
    ring, tenant = batch.ring, batch.tenant
    tenant_s, now_s, source_s = str(tenant), batch.now.isoformat(), _copy_text(source)
    newest, oldest = batch.now + FUTURE_SKEW, batch.now - MAX_AGE
    ids_key = batch.key("external-id") if any(p.event.external_ids for _, p in parsed) else b""
    texts: dict[uuid.UUID, str] = {}

    def text_of(value: uuid.UUID) -> str:
        found = texts.get(value)
        if found is None:
            found = texts[value] = str(value)
        return found

    for i, parsed_event in parsed:
        event, text = parsed_event.event, parsed_event.properties
        eid = event.event_id
        reason = None
        if eid in seen:
            result.add(EventOutcome(i, eid, "duplicate", "repeated in this batch"))
            continue
        if event.account_id is not None and event.account_id != tenant:
            reason = "account_id: not this tenant's account"
        elif event.location_id is not None and event.location_id not in batch.locations:
            reason = "location_id: no such location in this tenant"
        elif event.timestamp > newest:
            reason = "timestamp: lies in the future"
        elif event.timestamp < oldest:
            reason = "timestamp: older than two years"
        if reason is not None:
            result.add(EventOutcome(i, eid, "rejected", reason))
            continue
        user_key = "\\N"
        if event.user_id is not None:
            found = batch.user_keys.get(event.user_id)
            if found is None:
                result.add(EventOutcome(i, eid, "suppressed", "no analytics consent"))
                continue
            user_key = found
        if parsed_event.email is not None:
            try:
                hashed = email_key(ring, parsed_event.email, key=batch.key("event-email"))
            except ValidationError:
                result.add(
                    EventOutcome(i, eid, "rejected", "properties.email: not a valid e-mail address")
                )
                continue
            text = ("{" if text == "{}" else text[:-1] + ",") + f'"email_key":"{hashed}"}}'
        ids_text = "{}"
        if event.external_ids:
            ids: dict[str, str] = {}
            for name, value in event.external_ids.items():
                value = str(value).strip()
                if is_junk_id(value):
                    continue
                hashed_id = name in _HASHED_IDS
                ids[name] = external_id_key(ring, name, value, key=ids_key) if hashed_id else value
            ids_text = _copy_text(to_json(ids).decode()) if ids else "{}"
        seen.add(eid)
        location = "\\N" if event.location_id is None else text_of(event.location_id)
        user = "\\N" if event.user_id is None else text_of(event.user_id)
        account = tenant_s if event.account_id is None else text_of(event.account_id)
        lines.append(
            f"{tenant_s}\t{eid}\t{event.event_type}\t{event.timestamp_text}\t{account}"
            f"\t{location}\t{user}\t{user_key}\t{ids_text}\t{_copy_text(text)}\t{source_s}"
            f"\t{now_s}\n"
        )
        order.append((i, eid))
    return lines, order


def _cursor(uow: UnitOfWork) -> Any:
    conn = uow.session.connection().connection.driver_connection
    assert conn is not None
    return conn.cursor()


def _store(
    uow: UnitOfWork, lines: list[str], order: list[tuple[int, str]], *, direct: bool
) -> set[str]:
    """Insert the lines whose event id is new; returns the ids inserted.

    `direct` (bulk, as the owner role: COPY is not allowed under row level security): COPY
    straight into the inbox; if an id is already stored (a re-run load, a concurrent writer),
    that fails as a whole and the chunk takes the staged path: COPY into a temporary table,
    then insert from it with ON CONFLICT DO NOTHING.
    """
    if not lines:
        return set()
    cols = ", ".join(_COLUMNS)
    with _cursor(uow) as cur:
        if direct:
            try:
                with (
                    cur.connection.transaction(),
                    cur.copy(f"COPY events.inbox ({cols}) FROM STDIN") as copy,
                ):
                    copy.write("".join(lines))
                return {eid for _, eid in order}
            except psycopg.errors.UniqueViolation:
                pass  # a retry or a concurrent writer: some ids exist; take the staged path
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS tenantry_inbox_stage ON COMMIT DELETE ROWS AS"
            f" SELECT {cols} FROM events.inbox WITH NO DATA"
        )
        cur.execute("TRUNCATE tenantry_inbox_stage")
        with cur.copy(f"COPY tenantry_inbox_stage ({cols}) FROM STDIN") as copy:
            copy.write("".join(lines))
        cur.execute(
            f"INSERT INTO events.inbox ({cols}) SELECT {cols} FROM tenantry_inbox_stage"
            " ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id::text"
        )
        return {r[0] for r in cur.fetchall()}


def _ingest(
    uow: UnitOfWork,
    ring: KeyRing,
    events: Iterable[Any],
    *,
    source: str,
    offset: int,
    keep_accepted: bool,
    direct: bool,
) -> IngestResult:
    if not _SOURCE.fullmatch(source):
        raise ValidationError("source must be 1 to 50 characters of a-z, 0-9, _ . : -")
    result = IngestResult()
    batch = _Batch(uow, ring, uow.require_tenant(), uow.clock.now())
    lines, order = _prepare(batch, events, source, result, offset=offset, seen=set())
    inserted = _store(uow, lines, order, direct=direct)
    if not keep_accepted and len(inserted) == len(order):  # the bulk path's common case
        result.accepted += len(order)
    else:
        for i, eid in order:
            if eid in inserted:
                result.add(EventOutcome(i, eid, "accepted"), keep=keep_accepted)
            else:
                result.add(EventOutcome(i, eid, "duplicate", "already ingested"))
    result.outcomes.sort(key=lambda o: o.index)
    return result


def ingest_batch(
    uow: UnitOfWork,
    ring: KeyRing,
    events: Sequence[Any],
    *,
    source: str = "api",
    size_bytes: int | None = None,
) -> IngestResult:
    """Ingest one batch (at most 500 events, 500 KB) in the caller's unit of work.

    Every event gets an outcome: accepted, duplicate (its event_id is already stored: a
    retry), suppressed (its subject has no analytics consent) or rejected (with the reason).
    Invalid events never block the valid ones. The caller commits.
    """
    check_batch_limits(events, size_bytes=size_bytes)
    return _ingest(uow, ring, events, source=source, offset=0, keep_accepted=True, direct=False)


def _chunks(events: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for event in events:
        chunk.append(event)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ingest_bulk(
    db: Database,
    master: MasterKeyProvider,
    tenant_id: uuid.UUID,
    events: Iterable[Any],
    *,
    chunk_size: int = 20_000,
    source: str = "bulk",
    actor: str = "system:bulk-ingest",
) -> IngestResult:
    """Ingest any number of events for one tenant, one committed transaction per chunk.

    Same rules and outcomes as `ingest_batch`, but only the non-accepted events are listed
    (accepted ones are counted). Two chunks are processed at a time, so chunks may commit out
    of order; a crash loses at most the chunks in flight, and re-running the load is safe, as
    stored event ids come back as duplicates.
    """
    if chunk_size <= 0:
        raise ValidationError("chunk_size must be positive")

    def one(offset: int, chunk: list[Any]) -> IngestResult:
        # Platform work: COPY into the inbox needs the owner role; every statement of the
        # ingestion names the tenant explicitly.
        with db.platform_uow(tenant_id=tenant_id, actor=actor) as uow:
            part = _ingest(
                uow,
                KeyRing(uow, master),
                chunk,
                source=source,
                offset=offset,
                keep_accepted=False,
                direct=True,
            )
            uow.commit()
        return part

    # Two chunks in flight: while the server copies one, Python validates the next.
    total = IngestResult()
    offset = 0
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest") as pool:
        pending: deque[Future[IngestResult]] = deque()
        for chunk in _chunks(events, chunk_size):
            if len(pending) >= 2:
                total.merge(pending.popleft().result())
            pending.append(pool.submit(one, offset, chunk))
            offset += len(chunk)
        while pending:
            total.merge(pending.popleft().result())
    return total
