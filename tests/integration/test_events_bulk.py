"""Bulk ingestion: the pipelined COPY stores what the per-batch service path stores."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.events import ingest
from tenantry.events.ingest import EventOutcome, ingest_batch, ingest_bulk
from tenantry.ids import uuid7
from tenantry.privacy.keys import KeyRing
from tests.conftest import TenantFixture
from tests.events_support import NOW, event, member
from tests.factories import TEST_MASTER

CHUNK = 250  # events per bulk chunk and per service batch, so that both group alike


def _mixed(db: Database, tenant: TenantFixture, other: TenantFixture) -> list[Any]:
    """Every kind of outcome, with users, ids and addresses that recur."""
    rng = random.Random(7)
    consenting = [member(db, tenant.id) for _ in range(3)]
    silent = member(db, tenant.id, consent=None)
    withdrawn = member(db, tenant.id, consent="withdrawn")
    users = [*consenting, silent, withdrawn, None, None]
    out: list[Any] = []
    for i in range(1_300):
        kind = rng.randrange(12)
        user = rng.choice(users)
        if kind == 0:
            e = event(
                "email_open",
                user_id=user,
                properties={"email": f"r{rng.randrange(5)}@example.org", "campaign_id": "c"},
            )
        elif kind == 1:
            e = event("email_click", properties={"email": "not an address", "copy_variant": "a"})
        elif kind == 2:
            ids = {"ga4_client_id": rng.choice(["123.456", "77.1", "undefined", f"{i}.9"])}
            e = event(user_id=user, external_ids=ids | {"gbp_place_id": "ChIJexample"})
        elif kind == 3:
            e = event(location_id=rng.choice([tenant.locations[0], other.locations[0]]))
        elif kind == 4:
            e = event("no_such_type")
        elif kind == 5:
            e = event(properties={"step_id": "s", "note": "call +49 30 1234567"})
        elif kind == 6:
            e = event(at=NOW + timedelta(days=1))
        elif kind == 7 and out:
            e = dict(rng.choice(out))  # a repeated event id, in this chunk or an earlier one
        elif kind == 8:
            e = event("login", user_id=user, properties={"method": "sso"}) | {"surprise": 1}
        else:
            e = event(
                "visibility_check_completed",
                user_id=user,
                properties={"check_id": str(uuid7()), "overall_score": rng.randrange(101)},
            )
        out.append(e)
    return out


def _rows(db: Database, tenant: TenantFixture) -> list[tuple[Any, ...]]:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        return [
            tuple(r)
            for r in uow.session.execute(
                sa.text(
                    "SELECT id, event_type, event_ts, account_id, location_id, user_id, user_key,"
                    " external_ids::text, properties::text, source, ingested_at"
                    " FROM events.inbox WHERE tenant_id = :t ORDER BY id"
                ),
                {"t": tenant.id},
            )
        ]


def _empty_inbox(db: Database, tenant: TenantFixture) -> None:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        uow.session.execute(
            sa.text("DELETE FROM events.inbox WHERE tenant_id = :t"), {"t": tenant.id}
        )
        uow.commit()


def _by_service(db: Database, tenant: TenantFixture, events: list[Any]) -> list[EventOutcome]:
    outcomes: list[EventOutcome] = []
    for start in range(0, len(events), CHUNK):
        with db.tenant_uow(tenant.id) as uow:
            result = ingest_batch(
                uow, KeyRing(uow, TEST_MASTER), events[start : start + CHUNK], source="bulk"
            )
            uow.commit()
        outcomes += [
            EventOutcome(o.index + start, o.event_id, o.status, o.reason)
            for o in result.outcomes
            if o.status != "accepted"
        ]
    return outcomes


def test_bulk_ingest_stores_the_same_rows_and_outcomes_as_the_service_path(
    clocked_db: Database,
    tenant: TenantFixture,
    other_tenant: TenantFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = _mixed(clocked_db, tenant, other_tenant)
    stored_before = [events[10], events[600], events[1_100]]  # a re-run meets them mid-chunk

    _by_service(clocked_db, tenant, stored_before)
    serial = _by_service(clocked_db, tenant, events)
    serial_rows = _rows(clocked_db, tenant)
    _empty_inbox(clocked_db, tenant)

    # Small blocks: several COPY blocks per chunk, and a stored id met after the first block.
    monkeypatch.setattr(ingest, "_BLOCK", 40)
    _by_service(clocked_db, tenant, stored_before)
    already = len(_rows(clocked_db, tenant))
    bulk = ingest_bulk(clocked_db, TEST_MASTER, tenant.id, iter(events), chunk_size=CHUNK)

    assert _rows(clocked_db, tenant) == serial_rows
    assert bulk.outcomes == serial
    # The mix covers every path, duplicates within a chunk and across chunks too.
    assert {o.status for o in serial} == {"duplicate", "rejected", "suppressed"}
    duplicates = {o.reason for o in serial if o.status == "duplicate"}
    assert duplicates == {"repeated in this batch", "already ingested"}
    assert bulk.accepted + len(bulk.outcomes) == len(events)
    assert bulk.accepted == len(serial_rows) - already > 0


def test_an_interrupted_bulk_load_keeps_its_committed_chunks_and_leaves_no_thread(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    events = [event() for _ in range(3_000)]

    def failing() -> Iterator[dict[str, Any]]:
        yield from events[:2_500]
        raise OSError("the source file went away")

    threads = threading.active_count()
    with pytest.raises(OSError, match="went away"):
        ingest_bulk(clocked_db, TEST_MASTER, tenant.id, failing(), chunk_size=1_000)
    assert threading.active_count() == threads
    assert len(_rows(clocked_db, tenant)) == 2_000  # the chunk being read is rolled back

    again = ingest_bulk(clocked_db, TEST_MASTER, tenant.id, events, chunk_size=1_000)
    assert (again.accepted, again.duplicate) == (1_000, 2_000)
