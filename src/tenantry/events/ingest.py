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

import gc
import hmac
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic_core import to_json

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.events.inbox_copy import InboxWriter, store_lines
from tenantry.events.schemas import Event, PayloadError, is_junk_id, parse_event
from tenantry.lake.vocabulary import EMAIL_KEY, INGEST_SOURCES
from tenantry.models.enums import ConsentPurpose
from tenantry.privacy.crypto import KeyedHmac, normalise_email
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.master import MasterKeyProvider
from tenantry.privacy.members import member_subjects

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
# Events per COPY block of a bulk chunk: a few milliseconds of Python, less than the server
# takes for what the socket holds, so it never runs dry while the next block is prepared.
_BLOCK = 250

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
    """Per-call (per bulk chunk) caches: keys, lookups and hashes once per distinct value."""

    uow: UnitOfWork
    ring: KeyRing
    tenant: uuid.UUID
    now: datetime
    user_keys: dict[uuid.UUID, str | None] = field(default_factory=dict)
    user_texts: dict[uuid.UUID, str] = field(default_factory=dict)
    locations: dict[uuid.UUID, str] = field(default_factory=dict)  # this tenant's, as text
    # Stored forms of external ids (None: a placeholder) and of e-mail addresses (None: not
    # an address) per raw value: the same visitor or recipient recurs in many events.
    id_values: dict[str, dict[str, str | None]] = field(default_factory=dict)
    emails: dict[str, str | None] = field(default_factory=dict)
    _hashers: dict[str, KeyedHmac] = field(default_factory=dict)

    def hasher(self, purpose: str) -> KeyedHmac:
        found = self._hashers.get(purpose)
        if found is None:
            found = self._hashers[purpose] = KeyedHmac(self.ring.field_index_key(purpose))
        return found

    def load(self, events: Iterable[Event]) -> None:
        """Look up the users and locations not seen before in this batch."""
        users: set[uuid.UUID] = set()
        locs: set[uuid.UUID] = set()
        for e in events:
            if e.user_id is not None:
                users.add(e.user_id)
            if e.location_id is not None:
                locs.add(e.location_id)
        users -= self.user_keys.keys()
        locs -= self.locations.keys()
        if locs:
            found = self.uow.session.scalars(
                sa.text(
                    "SELECT id FROM identity.locations WHERE tenant_id = :t AND id = ANY(:ids)"
                ),
                {"t": self.tenant, "ids": list(locs)},
            )
            self.locations |= {loc: str(loc) for loc in found}
        if users:
            self.user_keys |= _consenting_user_keys(self.uow, self.ring, users)
            self.user_texts |= {user: str(user) for user in users}

    def external_id(self, name: str, value: str | int) -> str | None:
        """The stored form of one external id (None: a placeholder, dropped)."""
        values = self.id_values.get(name)
        if values is None:
            values = self.id_values[name] = {}
        raw = value if type(value) is str else str(value)
        if raw in values:
            return values[raw]
        text = raw.strip()
        stored: str | None = None
        if not is_junk_id(text):
            prefix = _HASHED_IDS.get(name)
            if prefix is None:
                stored = text
            else:
                stored = self.hasher("external-id").hexdigest(f"{prefix}:{text}")
        values[raw] = stored
        return stored

    def email(self, email: str) -> str | None:
        """The stored form of an e-mail address (None: not a valid address)."""
        if email in self.emails:
            return self.emails[email]
        try:
            stored: str | None = self.hasher("event-email").hexdigest(normalise_email(email))
        except ValidationError:
            stored = None
        self.emails[email] = stored
        return stored


def _consenting_user_keys(
    uow: UnitOfWork, ring: KeyRing, users: set[uuid.UUID]
) -> dict[uuid.UUID, str | None]:
    """user id -> the pseudonym of its subject if that subject consents to analytics now."""
    out: dict[uuid.UUID, str | None] = dict.fromkeys(users)
    for user_id, found in member_subjects(uow, ring, users, ConsentPurpose.ANALYTICS).items():
        out[user_id] = found.pseudonym if found is not None and found.consents else None
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


def _check_source(source: str) -> None:
    """Only the sources the vocabulary names: freshness SLAs and docs are kept per source."""
    if source not in INGEST_SOURCES:
        raise ValidationError(f"source must be one of {', '.join(INGEST_SOURCES)}")


# An event's index in the input, its envelope, properties as JSON and the e-mail to hash.
_Parsed = tuple[int, Event, str, str | None]
# The rows sent to be stored: their indexes in the input and their event ids.
_Stored = tuple[list[int], list[str]]


def _parse(raws: Iterable[Any], result: IngestResult, *, offset: int) -> list[_Parsed]:
    """The valid events; the invalid ones go into `result` as rejected, with the reason."""
    parsed: list[_Parsed] = []
    for i, raw in enumerate(raws, start=offset):
        if isinstance(raw, PayloadError):  # the reader could not even decode this one
            result.add(EventOutcome(i, None, "rejected", str(raw)))
            continue
        try:
            event, properties, email = parse_event(raw)
        except PayloadError as exc:
            event_id = raw.get("event_id") if isinstance(raw, Mapping) else None
            ident = str(event_id)[:36] if isinstance(event_id, str) else None
            result.add(EventOutcome(i, ident, "rejected", str(exc)))
        else:
            parsed.append((i, event, properties, email))
    return parsed


def _rows(
    batch: _Batch,
    parsed: list[_Parsed],
    source: str,
    result: IngestResult,
    seen: set[str],
    stored: _Stored,
) -> list[str]:
    """COPY lines of the events to insert; their indexes and event ids are appended to
    `stored`, the other outcomes go into `result`. `batch` has loaded the users and locations.
    """
    lines: list[str] = []
    # Two flat lists rather than a tuple per row: fewer objects for the garbage collector.
    indexes, ids_stored = stored
    tenant = batch.tenant
    tenant_s, now_s, source_s = str(tenant), batch.now.isoformat(), _copy_text(source)
    newest, oldest = batch.now + FUTURE_SKEW, batch.now - MAX_AGE
    user_keys, user_texts, locations = batch.user_keys, batch.user_texts, batch.locations
    add = result.add
    for i, event, text, email in parsed:
        eid, user_id, account_id, location_id, ext_ids, timestamp, event_type, ts_text = event
        if eid in seen:
            add(EventOutcome(i, eid, "duplicate", "repeated in this batch"))
            continue
        reason = None
        if account_id is not None and account_id != tenant:
            reason = "account_id: not this tenant's account"
        elif location_id is not None and location_id not in locations:
            reason = "location_id: no such location in this tenant"
        elif timestamp > newest:
            reason = "timestamp: lies in the future"
        elif timestamp < oldest:
            reason = "timestamp: older than two years"
        if reason is not None:
            add(EventOutcome(i, eid, "rejected", reason))
            continue
        user = user_key = "\\N"
        if user_id is not None:
            found = user_keys.get(user_id)
            if found is None:
                add(EventOutcome(i, eid, "suppressed", "no analytics consent"))
                continue
            user, user_key = user_texts[user_id], found
        if email is not None:
            hashed = batch.email(email)
            if hashed is None:
                add(
                    EventOutcome(i, eid, "rejected", "properties.email: not a valid e-mail address")
                )
                continue
            text = ("{" if text == "{}" else text[:-1] + ",") + f'"{EMAIL_KEY}":"{hashed}"}}'
        ids_text = "{}"
        if ext_ids:
            ids: dict[str, str] = {}
            for name, value in ext_ids.items():
                kept = batch.external_id(name, value)
                if kept is not None:
                    ids[name] = kept
            if ids:
                ids_text = _copy_text(to_json(ids).decode())
        seen.add(eid)
        location = "\\N" if location_id is None else locations[location_id]
        # The account is the tenant (checked above).
        lines.append(
            f"{tenant_s}\t{eid}\t{event_type}\t{ts_text}\t{tenant_s}\t{location}\t{user}"
            f"\t{user_key}\t{ids_text}\t{_copy_text(text)}\t{source_s}\t{now_s}\n"
        )
        indexes.append(i)
        ids_stored.append(eid)
    return lines


def _new_stored() -> _Stored:
    return [], []


def _settle(
    result: IngestResult,
    stored: _Stored,
    inserted: set[str],
    *,
    keep_accepted: bool,
) -> None:
    """The outcomes of the rows sent: accepted if inserted, else already ingested."""
    indexes, ids = stored
    if not keep_accepted and len(inserted) == len(ids):  # the bulk path's common case
        result.accepted += len(ids)
    else:
        for i, eid in zip(indexes, ids, strict=True):
            if eid in inserted:
                result.add(EventOutcome(i, eid, "accepted"), keep=keep_accepted)
            else:
                result.add(EventOutcome(i, eid, "duplicate", "already ingested"))
    result.outcomes.sort(key=lambda o: o.index)


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
    _check_source(source)
    result = IngestResult()
    batch = _Batch(uow, ring, uow.require_tenant(), uow.clock.now())
    parsed = _parse(events, result, offset=0)
    batch.load(p[1] for p in parsed)
    stored = _new_stored()
    lines = _rows(batch, parsed, source, result, set(), stored)
    inserted = store_lines(uow, lines)
    _settle(result, stored, inserted, keep_accepted=True)
    return result


def _chunks(events: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for event in events:
        chunk.append(event)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Keep the objects that exist now (the caller's events, often a long list in memory) out
    of the cyclic garbage collector's full collections until the block ends.

    A bulk load creates many short-lived objects, which set off several full collections; each
    one scanned every event of the input again (a fifth of the Python time of a 200,000-event
    load). Frozen objects are only skipped, never freed early, and new ones are collected as
    usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


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
    (accepted ones are counted). Chunks commit in input order; a crash loses at most the chunk
    being written, and re-running the load is safe, as stored event ids come back as
    duplicates. An item that is a `PayloadError` (a line the reader could not decode) is
    rejected with its message, like an invalid event.
    """
    if chunk_size <= 0:
        raise ValidationError("chunk_size must be positive")
    _check_source(source)
    total = IngestResult()
    # One thread: it validates a block and hands its rows to the COPY, which sends what the
    # connection takes and returns, so the server stores them while the next block is prepared.
    offset = 0
    with _frozen_heap(), InboxWriter(db, tenant_id, actor=actor) as writer:
        for chunk in _chunks(events, chunk_size):
            part, stored = IngestResult(), _new_stored()
            seen: set[str] = set()
            # Platform work: COPY into the inbox needs the owner role; every statement of the
            # ingestion names the tenant explicitly. Consent and locations are read here, in a
            # transaction of their own (the COPY holds the writer's connection), just before
            # the chunk is written.
            with db.platform_uow(tenant_id=tenant_id, actor=actor) as uow:
                batch = _Batch(uow, KeyRing(uow, master), tenant_id, uow.clock.now())
                for start in range(0, len(chunk), _BLOCK):
                    parsed = _parse(chunk[start : start + _BLOCK], part, offset=offset + start)
                    batch.load(p[1] for p in parsed)
                    first = len(stored[1])
                    lines = _rows(batch, parsed, source, part, seen, stored)
                    writer.write(lines, stored[1][first:])
            _settle(part, stored, writer.end_chunk(), keep_accepted=False)
            total.merge(part)
            offset += len(chunk)
    return total
