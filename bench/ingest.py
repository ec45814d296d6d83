"""ingest_events_per_s: sustained events/s through the ingestion paths vs. a raw COPY.

One tenant with 200 users (three in four with analytics consent). The events are seed-001
payloads: onboarding steps, e-mail events, visibility checks and logins, 70 % about a user,
a third with external ids. Measured on an empty `events.inbox` each time; bulk and raw COPY
alternate for `BENCH_INGEST_ROUNDS` rounds (default 3) and the medians are compared:

- bulk Python API (`ingest_bulk`, 20,000-event chunks, one committed transaction each):
  validation, consent lookup, keyed pseudonyms and HMACs, duplicate check, COPY in text format
  (250-event blocks streamed into the chunk's COPY without waiting, so the server stores one
  block while Python prepares the next). Timed from the call to its return, every chunk
  committed;
- the service function (`ingest_batch`) with 500-event batches, one transaction per batch, as
  the HTTP endpoint calls it (without HTTP);
- baseline: raw COPY of exactly the rows the bulk path stored, into the same table with the same
  indexes, as one COPY in text format (the rows exported by `COPY ... TO STDOUT` after the first
  bulk round, held in memory, sent in one `write`) and one commit. Nothing is validated or
  prepared in Python: this is the server's own work for those rows, which the bulk path must
  do too. A raw COPY of the same rows in binary format is timed too, in the same rounds, and
  reported in `params` (`raw_binary_copy_seconds`, `ratio_vs_raw_binary_copy`) for reference.

The ratio is raw COPY seconds over bulk seconds (the same stored rows); `value` counts every
handled event per second (suppressed ones too).

The relay's rate (inbox rows into `lake/raw/events`, in 50,000-row batches) is reported in
`params` as `relay_rows_per_s`.

Environment: BENCH_INGEST_EVENTS (200000), BENCH_INGEST_ROUNDS (3), BENCH_INGEST_USERS (200),
BENCH_INGEST_HTTP_SECONDS (10), BENCH_INGEST_HTTP_CONNECTIONS (8).
"""

from __future__ import annotations

import io
import json
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.api import Server, _closed, _loop_run
from bench.common import BENCH_MASTER, Result, database, fknob, knob, median
from tenantry.composition import open_database
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.events.ingest import ingest_batch, ingest_bulk
from tenantry.events.relay import relay_once
from tenantry.ids import uuid7
from tenantry.models import Membership, User
from tenantry.models.enums import ConsentPurpose, LegalForm, Vertical
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.services.apikeys import create_api_key
from tenantry.services.platform import create_tenant
from tenantry.services.privacy.consent import Notice, append_consent

MASTER = BENCH_MASTER
NOTICE = Notice("bench-1", "Analytics help us improve the product.")
COLUMNS = (
    "tenant_id, id, event_type, event_ts, account_id, location_id, user_id, user_key,"
    " external_ids, properties, source, ingested_at"
)


def _tenant(db: Database, users: int) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug=f"ingest-{uuid.uuid4().hex[:8]}",
            legal_name="Ingest Bench GmbH",
            vertical=Vertical.RESTAURANT,
            legal_form=LegalForm.GMBH,
        )
        uow.commit()
        tenant_id = tenant.id
    ids: list[uuid.UUID] = []
    with db.platform_uow(tenant_id=tenant_id) as uow:
        ring = KeyRing(uow, MASTER)
        for i in range(users):
            user = User(id=uow.ids(), email=f"bench-{tenant_id.hex[:6]}-{i}@example.com")
            uow.session.add(user)
            uow.flush()
            uow.session.add(
                Membership(tenant_id=tenant_id, id=uow.ids(), user_id=user.id, role="staff")
            )
            subject = resolve_subject(uow, ring, email=user.email)
            if i % 4:
                append_consent(
                    uow,
                    subject.id,
                    ConsentPurpose.ANALYTICS,
                    "granted",
                    source="bench",
                    notice=NOTICE,
                )
            ids.append(user.id)
        uow.commit()
    return tenant_id, ids


def _events(n: int, users: list[uuid.UUID], rng: random.Random) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(days=20)
    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            event_type = rng.choice(("step_started", "step_completed", "step_skipped"))
            props: dict[str, Any] = {
                "step_id": f"step_{i % 12}",
                "persona": "solo-sarah",
                "duration_seconds": rng.randint(3, 600),
            }
        elif kind == 1:
            event_type = rng.choice(("email_delivered", "email_open", "email_click"))
            props = {"campaign_id": f"c{i % 30}", "copy_variant": "a", "subject_variant": "b"}
        elif kind == 2:
            event_type = "visibility_check_completed"
            props = {"check_id": str(uuid7()), "overall_score": rng.randint(0, 100)}
        else:
            event_type = "login_oauth"
            props = {"provider": "google", "success": True}
        event: dict[str, Any] = {
            "event_id": str(uuid7()),
            "timestamp": (start + timedelta(seconds=i)).isoformat(),
            "event_type": event_type,
            "properties": props,
        }
        if rng.random() < 0.7:
            event["user_id"] = str(rng.choice(users))
        if i % 3 == 0:
            event["external_ids"] = {"ga4_client_id": f"{rng.randint(1, 10**9)}.{i}"}
        out.append(event)
    return out


def _timed_copy(owner: psycopg.Connection, options: str, data: bytes) -> float:
    """Seconds to COPY `data` into the inbox and commit."""
    started = time.perf_counter()
    with (
        owner.cursor() as cur,
        cur.copy(f"COPY events.inbox ({COLUMNS}) FROM STDIN{options}") as copy,
    ):
        copy.write(data)
    owner.commit()
    return time.perf_counter() - started


def _truncate(conn: psycopg.Connection) -> None:
    conn.execute("TRUNCATE events.inbox")
    conn.commit()


def _http_rate(
    target: DatabaseTarget,
    db: Database,
    tenant_id: uuid.UUID,
    users: list[uuid.UUID],
    rng: random.Random,
    owner: psycopg.Connection,
) -> dict[str, float]:
    """`POST /v1/events` with 500-event batches: `tenantry serve` (2 workers) in a subprocess, a
    keep-alive load generator on the same machine. Every batch is new (no duplicates)."""
    seconds = fknob("BENCH_INGEST_HTTP_SECONDS", 10.0, 1.0)
    conns = knob("BENCH_INGEST_HTTP_CONNECTIONS", 8, 2)
    warm = fknob("BENCH_API_WARM_SECONDS", 2.0, 0.0)
    with db.platform_uow(actor="bench") as uow:
        key = create_api_key(uow, tenant_id=tenant_id, role="staff", name="ingest-bench").secret
        uow.commit()
    batches = [json.dumps(_events(500, users, rng)).encode() for _ in range(int(seconds * 60) + 60)]

    def request(i: int) -> bytes:
        body = batches[i % len(batches)]
        return (
            f"POST /v1/events HTTP/1.1\r\nHost: bench\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    api = Server(target, workers=2, db_name=str(target.owner_url.database))
    try:
        run = _loop_run(_closed(api.port, request, conns, seconds, warm=warm))
    finally:
        api.stop()
    stored = owner.execute("SELECT count(*) FROM events.inbox").fetchone()
    owner.commit()
    return {
        "events_per_s": run.rps * 500,
        "batches_per_s": run.rps,
        "p50_ms": run.ms(0.5),
        "p99_ms": run.ms(0.99),
        "errors": run.errors,
        "stored_rows": float(stored[0] if stored else 0),
        "connections": conns,
        "repeated_batches": max(0, run.sent - len(batches)),
    }


def run(server: DatabaseTarget) -> list[Result]:
    n = knob("BENCH_INGEST_EVENTS", 200_000, 2000)
    rounds = knob("BENCH_INGEST_ROUNDS", 3, 1)
    rng = random.Random(6)
    target = database(server, "bench_ingest", fresh=True)
    db = open_database(target=target, master=BENCH_MASTER)
    owner = psycopg.connect(target.libpq(target.owner_url))
    try:
        tenant_id, users = _tenant(db, knob("BENCH_INGEST_USERS", 200, 20))
        events = _events(n, users, rng)

        bulk = ingest_bulk(db, MASTER, tenant_id, events[:1_000])  # warm-up, then emptied
        _truncate(owner)
        bulk_runs: list[float] = []
        raw_runs: list[float] = []
        binary_runs: list[float] = []
        buffer, binary = io.BytesIO(), io.BytesIO()
        for round_ in range(rounds):  # interleaved, so both see the same machine load
            started = time.perf_counter()
            bulk = ingest_bulk(db, MASTER, tenant_id, events, chunk_size=20_000)
            bulk_runs.append(time.perf_counter() - started)
            if round_ == 0:
                with tempfile.TemporaryDirectory(prefix="tenantry-relay-bench-") as home:
                    started = time.perf_counter()
                    relayed = relay_once(db, Path(home)).rows["inbox"]
                    relay_s = time.perf_counter() - started
                with (
                    owner.cursor() as cur,
                    cur.copy(f"COPY events.inbox ({COLUMNS}) TO STDOUT") as copy,
                ):
                    for block in copy:
                        buffer.write(block)
                with (
                    owner.cursor() as cur,
                    cur.copy(f"COPY events.inbox ({COLUMNS}) TO STDOUT (FORMAT binary)") as copy,
                ):
                    for block in copy:
                        binary.write(block)
            _truncate(owner)
            raw_runs.append(_timed_copy(owner, "", buffer.getvalue()))
            _truncate(owner)
            # For reference only: the same rows in binary format (the bulk path writes text).
            binary_runs.append(_timed_copy(owner, " (FORMAT binary)", binary.getvalue()))
            _truncate(owner)
        stored = bulk.accepted
        bulk_s, raw_s = median(bulk_runs), median(raw_runs)

        service_events = _events(min(n, 50_000), users, rng)
        service_stored = 0
        started = time.perf_counter()
        for i in range(0, len(service_events), 500):
            with db.tenant_uow(tenant_id, actor="bench") as uow:
                result = ingest_batch(uow, KeyRing(uow, MASTER), service_events[i : i + 500])
                uow.commit()
            service_stored += result.accepted
        service_s = time.perf_counter() - started
        _truncate(owner)
        http = _http_rate(target, db, tenant_id, users, rng, owner)
    finally:
        owner.close()
        db.dispose()

    # Rates count every event handled (suppressed ones too); ratios compare stored rows/s.
    bulk_rate, raw_rate = n / bulk_s, stored / raw_s
    service_rate = len(service_events) / service_s
    service_ratio = (service_stored / service_s) / raw_rate
    params = {
        "events": n,
        "stored": stored,
        "suppressed": bulk.suppressed,
        "bulk_seconds": round(bulk_s, 2),
        "raw_copy_seconds": round(raw_s, 2),
        "ratio_basis": "stored rows/s of each path",
        "rounds": rounds,
        "bulk_seconds_runs": [round(x, 2) for x in bulk_runs],
        "raw_copy_seconds_runs": [round(x, 2) for x in raw_runs],
        "raw_binary_copy_seconds": round(median(binary_runs), 2),
        "ratio_vs_raw_binary_copy": round(median(binary_runs) / bulk_s, 3),
        "relay_rows_per_s": round(relayed / relay_s),
    }
    baseline = "raw COPY of the same stored rows into events.inbox (owner role)"
    return [
        Result(
            name="ingest_events_per_s",
            value=round(bulk_rate),
            unit="events/s",
            baseline=baseline,
            baseline_value=round(raw_rate),
            ratio=round(raw_s / bulk_s, 3),
            target="bulk >= 0.5 x raw COPY",
            params=params,
        ),
        Result(
            name="ingest_events_per_s_service",
            value=round(service_rate),
            unit="events/s",
            baseline=baseline,
            baseline_value=round(raw_rate),
            ratio=round(service_ratio, 3),
            target="report",
            params={"events": len(service_events), "batch": 500, "seconds": round(service_s, 2)},
        ),
        Result(
            name="ingest_events_per_s_http",
            value=round(http["events_per_s"]),
            unit="events/s",
            baseline=baseline,
            baseline_value=round(raw_rate),
            ratio=round(http["events_per_s"] / raw_rate, 3),
            target="HTTP >= 5,000 events/s",
            params={k: round(v, 2) if isinstance(v, float) else v for k, v in http.items()},
        ),
    ]
