"""The relay: inbox and outbox into the raw lake, in order, exactly once, across crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from deltalake import DeltaTable

from tenantry.db.engine import Database
from tenantry.events import relay
from tenantry.events.ingest import ingest_bulk
from tenantry.events.outbox import record_change
from tenantry.ids import uuid7
from tenantry.lake.raw import RAW_EVENTS_SCHEMA
from tenantry.lake.vocabulary import OUTBOX
from tests.conftest import TenantFixture
from tests.events_support import event, member
from tests.factories import TEST_MASTER


def _lake(home: Path, name: str, tenant: TenantFixture) -> list[dict[str, object]]:
    """The tenant's rows of a raw table; of the domain events only those the test recorded
    (creating the tenant and its locations also writes outbox rows, see test_events_outbox)."""
    path = home / "lake" / "raw" / name
    if not DeltaTable.is_deltatable(str(path)):
        return []
    table = DeltaTable(str(path)).to_pyarrow_table()
    rows = table.filter(pc.equal(table["tenant_id"], str(tenant.id))).to_pylist()
    return [r for r in rows if r.get("event_type") not in OUTBOX]


def _inbox_ids(db: Database, tenant: TenantFixture) -> list[str]:
    with db.tenant_uow(tenant.id) as uow:
        return [
            str(i)
            for i in uow.session.scalars(sa.text("SELECT id FROM events.inbox ORDER BY txid, seq"))
        ]


def _changes(db: Database, tenant: TenantFixture, n: int) -> None:
    with db.tenant_uow(tenant.id) as uow:
        for i in range(n):
            record_change(uow, "lead", uuid7(), "lead.created", {"n": i})
        uow.commit()


def test_relay_moves_inbox_and_outbox_once_with_pseudonyms_only(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    # What earlier tests left in the shared database goes first, in large batches: the small
    # batches below are for this test's rows.
    relay.relay_once(clocked_db, tmp_path)
    user = member(clocked_db, tenant.id)
    events = [event(user_id=user) for _ in range(30)] + [event() for _ in range(20)]
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, events)
    _changes(clocked_db, tenant, 5)
    first = relay.relay_once(clocked_db, tmp_path, batch_size=7)
    second = relay.relay_once(clocked_db, tmp_path, batch_size=7)
    rows = _lake(tmp_path, "events", tenant)
    ids = [r["event_id"] for r in rows]
    assert sorted(ids) == sorted(_inbox_ids(clocked_db, tenant)) and len(set(ids)) == len(ids)
    assert first.rows["inbox"] >= 50 and second.rows == {"inbox": 0, "outbox": 0}
    assert DeltaTable(str(tmp_path / "lake/raw/events")).schema().to_arrow() is not None
    table = DeltaTable(str(tmp_path / "lake/raw/events")).to_pyarrow_table()
    assert set(RAW_EVENTS_SCHEMA.names) == set(table.schema.names)
    assert {r["user_key"] for r in rows[:30]} != {None}
    assert all(str(user) not in str(r) for r in rows)
    changes = _lake(tmp_path, "domain_events", tenant)
    assert sorted(c["payload"] for c in changes) == sorted(f'{{"n": {i}}}' for i in range(5))


def test_identifying_columns_have_no_statistics_in_the_log(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    user = member(clocked_db, tenant.id)
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event(user_id=user) for _ in range(5)])
    relay.relay_once(clocked_db, tmp_path)
    dt = DeltaTable(str(tmp_path / "lake/raw/events"))
    assert "user_key" not in dt.metadata().configuration["delta.dataSkippingStatsColumns"]
    stats = []
    for p in (tmp_path / "lake/raw/events/_delta_log").glob("*.json"):
        for line in p.read_text().splitlines():
            add = json.loads(line).get("add")
            if add:
                stats.append(add["stats"])
    assert stats and all("event_type" in s and "user_key" not in s for s in stats)


def test_a_transaction_that_commits_late_is_not_skipped(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    relay.relay_once(clocked_db, tmp_path)
    slow = clocked_db.tenant_uow(tenant.id)
    with slow:
        record_change(slow, "booking", uuid7(), "booking.created", {"n": "slow"})
        slow.flush()  # holds an xid, not yet committed
        _changes(clocked_db, tenant, 3)  # later transactions commit first
        relay.relay_once(clocked_db, tmp_path)
        assert _lake(tmp_path, "domain_events", tenant) == []  # held back, not skipped
        slow.commit()
    relay.relay_once(clocked_db, tmp_path)
    payloads = [c["payload"] for c in _lake(tmp_path, "domain_events", tenant)]
    assert sorted(payloads) == sorted(['{"n": "slow"}', '{"n": 0}', '{"n": 1}', '{"n": 2}'])


def test_a_crash_between_the_lake_commit_and_the_position_update_writes_nothing_twice(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay.relay_once(clocked_db, tmp_path)
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event() for _ in range(10)])

    def crash(_stream: str, _version: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(relay, "_after_lake_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        relay.relay_once(clocked_db, tmp_path, batch_size=4)
    monkeypatch.undo()
    report = relay.relay_once(clocked_db, tmp_path, batch_size=4)
    assert report.recovered == {"inbox": 1}
    ids = [r["event_id"] for r in _lake(tmp_path, "events", tenant)]
    assert sorted(ids) == sorted(_inbox_ids(clocked_db, tenant)) and len(ids) == len(set(ids))


WORKER = """
import sys
from pathlib import Path
from sqlalchemy.engine import make_url
from tenantry.config import Settings
from tenantry.db.engine import Database, make_engine
from tenantry.db.provider import DatabaseTarget
from tenantry.events.relay import relay_forever

owner, app, home = sys.argv[1:4]
target = DatabaseTarget(make_url(owner), make_url(owner), make_url(app), embedded=False)
s = Settings()
db = Database(target=target, app_engine=make_engine(target.app_url, s),
              owner_engine=make_engine(target.owner_url, s))
relay_forever(db, Path(home), batch_size=97, interval=0.01)
"""


def test_relay_killed_with_sigkill_and_restarted_delivers_every_event_exactly_once(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    relay.relay_once(clocked_db, tmp_path)
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event() for _ in range(3_000)])
    _changes(clocked_db, tenant, 400)
    target = clocked_db.target
    args = [
        sys.executable,
        "-c",
        WORKER,
        target.owner_url.render_as_string(hide_password=False),
        target.app_url.render_as_string(hide_password=False),
        str(tmp_path),
    ]
    log = tmp_path / "lake" / "raw" / "events" / "_delta_log"
    for _ in range(3):
        commits = len(list(log.glob("*.json")))
        proc = subprocess.Popen(args, env=os.environ.copy())
        deadline = time.monotonic() + 60
        # Kill it mid-run: once it has committed two more batches to the lake.
        while len(list(log.glob("*.json"))) < commits + 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    before = len(_lake(tmp_path, "events", tenant))
    assert 0 < before < 3_000  # the workers were killed part-way through
    relay.relay_once(clocked_db, tmp_path, batch_size=97)
    ids = [r["event_id"] for r in _lake(tmp_path, "events", tenant)]
    assert len(ids) == len(set(ids)) == 3_000
    assert sorted(ids) == sorted(_inbox_ids(clocked_db, tenant))
    changes = _lake(tmp_path, "domain_events", tenant)
    assert sorted(c["payload"] for c in changes) == sorted(f'{{"n": {i}}}' for i in range(400))


def test_batches_reach_the_lake_in_stream_order(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    relay.relay_once(clocked_db, tmp_path)
    for _ in range(3):  # three transactions, interleaved with changes
        ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event() for _ in range(10)])
        _changes(clocked_db, tenant, 2)
    relay.relay_once(clocked_db, tmp_path, batch_size=4)
    order = _inbox_ids(clocked_db, tenant)
    path = str(tmp_path / "lake/raw/events")
    latest = DeltaTable(path).version()
    seen: list[str] = []
    for version in range(latest + 1):
        table = DeltaTable(path, version=version).to_pyarrow_table()
        ids = set(
            table.filter(pc.equal(table["tenant_id"], str(tenant.id)))["event_id"].to_pylist()
        )
        new = ids - set(seen)
        assert new == set(order[len(seen) : len(seen) + len(new)])  # the next slice, in order
        seen += order[len(seen) : len(seen) + len(new)]
    assert seen == order


def test_prune_removes_only_consumed_rows_past_the_window(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    from tenantry.events.identity import project_identity_links
    from tenantry.events.retention import prune_events

    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event() for _ in range(4)])
    _changes(clocked_db, tenant, 2)
    relay.relay_once(clocked_db, tmp_path)
    assert prune_events(clocked_db, keep_days=30) == {"events.outbox": 0, "events.inbox": 0}
    first = prune_events(clocked_db, keep_days=0)
    assert first["events.outbox"] >= 2 and len(_inbox_ids(clocked_db, tenant)) == 4  # unprojected
    project_identity_links(clocked_db, tenant.id)
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event() for _ in range(3)])  # not relayed
    assert prune_events(clocked_db, keep_days=0)["events.inbox"] >= 4
    assert len(_inbox_ids(clocked_db, tenant)) == 3
