"""`tenantry migrate` benchmarks on a CarBot-shaped legacy source with seed 002's volumes (500
workshops, 25,000 customers, 100,000 leads, 1,000,000 chat messages; ~1.3 M rows in all
tables), generated once per run on a legacy server (wal_level=logical) and shared by:

- `migrate_rows_per_s`: the whole migration into a fresh tenantry database, timed phase by
  phase: `make_plan` + `load` + `verify` (at a consistent point under the applier lock, as the
  CLI runs it). Rows are the rows of every source table (what pg_dump moves too). Baseline in
  the same run: `pg_dump -Fc` of the same source piped into `pg_restore --no-owner` into an
  empty database on the tenantry server (the pgserver wheel's binaries). Ratio = the
  migration's rows/s over pg_dump|pg_restore's (target >= 0.5); params say whether the whole
  migration took <= 120 s.
- `migrate_verify_rows_per_s`: the verify of that migration, on equal data right after the
  load (rows/s, target >= 200,000). Baseline: one `SELECT count(*), sum(<md5(row::text) as
  64-bit>)` per source table the mapping reads (a table read by two entities is read twice,
  as verify reads it), on the source only: what a checksum-only comparison that knows nothing
  of the mapping costs for one side.
- `migrate_cdc_lag`: after the load, `follow` runs in a child process while a writer commits
  ~1,000 changes/s for N seconds on the source: transactions of BENCH_CDC_TX_CHANGES changes,
  each one inserted chat message (its marker) and updates/deletes on chat messages, leads and
  customers. A poller on the target records when each marker's row appears in the run's id_map
  (applied and committed); lag = that moment minus the moment the source commit returned (one
  clock, one machine, poll every 10 ms). Value: p95 lag in seconds (target <= 1 s); p50, max,
  the achieved change rate and follow's own per-batch lag are in params. Baseline: the time
  PostgreSQL itself needs to decode one second of those writes (pgoutput, via
  `pg_logical_slot_peek_binary_changes` on a second slot created before the writer started,
  the whole window's WAL decoded after `follow` stopped, divided by the window's seconds): the
  server-side decoding work any logical-replication consumer pays per second of source writes.

The three share one source, one migration and one legacy server (stopped when the process
ends); whichever of them runs first builds it. Nothing here reads tenantry internals beyond
the public `tenantry.migrate` API and the documented `migrate.id_map` state table.

Environment: BENCH_MIGRATE_SCALE (fraction of seed 002's volumes, 1.0; tiny 0.002),
BENCH_CDC_SECONDS (30; tiny 3), BENCH_CDC_RATE (changes/s, 1000), BENCH_CDC_TX_CHANGES
(changes per source transaction, 5).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import queue
import random
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from tests.legacy.carbot.data import apply_schema, populate
from tests.legacy.server import (
    LegacyServer,
    new_source_database,
    pgserver_bindir,
    start_legacy_server,
)

from bench.common import (
    BENCH_MASTER,
    Result,
    database,
    fknob,
    knob,
    median,
    percentile,
    scaled_name,
)
from tenantry.composition import open_database
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.migrate.follow import applier_lock, consistent_point, follow
from tenantry.migrate.load import load, owner_connection
from tenantry.migrate.mapping import Mapping, load_mapping
from tenantry.migrate.plan import make_plan
from tenantry.migrate.source import connect_source, describe, introspect
from tenantry.migrate.verify import VerifyReport, verify

MAPPING = "carbot"
DECODE_SLOT = "bench_decode"
DECODE_PUB = "bench_decode_pub"
# Statuses the writer sets on leads: the source's spellings of open states. Not `lost` or
# `won` (a canonical lost lead needs a reason and a converted one a customer, which CarBot's
# leads do not carry; see docs/benchmarks.md).
LEAD_STATUSES = ("new", "neu", "contacted", "kontaktiert", "qualified", "in_progress")


@dataclass
class Migration:
    """The shared fixture: source, target and the timed migration."""

    legacy: LegacyServer
    source_url: str
    target: DatabaseTarget
    db: Database
    mapping: Mapping
    scale: float
    source_rows: int
    phases: dict[str, float]
    load_rows: int
    verify_report: VerifyReport
    dump_seconds: float
    dump_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)


_shared: dict[str, Migration | BaseException] = {}


def _libpq_env(conninfo: str) -> tuple[str, dict[str, str]]:
    """A connection string without its password, and the environment that carries it (so the
    password stays out of the process list)."""
    params = conninfo_to_dict(conninfo)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env


def _empty_database(server: DatabaseTarget, name: str) -> str:
    """A fresh empty database on the tenantry server; its admin connection string."""
    admin = server.libpq(server.admin_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_conninfo(admin, dbname=name)


def _drop_database(server: DatabaseTarget, name: str) -> None:
    with psycopg.connect(server.libpq(server.admin_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _dump_restore(source_url: str, server: DatabaseTarget) -> tuple[float, int]:
    """Seconds of `pg_dump -Fc | pg_restore` into an empty database, and the dump's bytes."""
    name = scaled_name("bench_migrate_restore")
    restore_to, restore_env = _libpq_env(_empty_database(server, name))
    dump_from, dump_env = _libpq_env(make_conninfo(source_url))
    bindir = pgserver_bindir()
    started = time.perf_counter()
    dump = subprocess.Popen(  # noqa: S603 - the wheel's own binary, no shell
        [str(bindir / "pg_dump"), "-Fc", "-d", dump_from],
        stdout=subprocess.PIPE,
        env=dump_env,
    )
    assert dump.stdout is not None
    restore = subprocess.Popen(  # noqa: S603 - the wheel's own binary, no shell
        [
            str(bindir / "pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "-d",
            restore_to,
        ],
        stdin=subprocess.PIPE,
        env=restore_env,
    )
    assert restore.stdin is not None
    size = 0
    while chunk := dump.stdout.read(1 << 20):
        size += len(chunk)
        restore.stdin.write(chunk)
    restore.stdin.close()
    if dump.wait() != 0 or restore.wait() != 0:
        raise RuntimeError(f"pg_dump | pg_restore failed ({dump.returncode}, {restore.returncode})")
    seconds = time.perf_counter() - started
    _drop_database(server, name)
    return seconds, size


def _migration(server: DatabaseTarget) -> Migration:
    """The shared fixture, built once per process (a failure is kept and raised again)."""
    got = _shared.get("m")
    if isinstance(got, BaseException):
        raise RuntimeError(f"the migration fixture failed earlier: {got}") from got
    if got is not None:
        return got
    try:
        _shared["m"] = _build(server)
    except BaseException as exc:
        _shared["m"] = exc
        raise
    return _migration(server)


def _build(server: DatabaseTarget) -> Migration:
    scale = fknob("BENCH_MIGRATE_SCALE", 1.0, 0.002)
    legacy = start_legacy_server()
    atexit.register(legacy.stop)
    source_url = new_source_database(legacy, "carbot_bench")
    apply_schema(source_url)
    started = time.perf_counter()
    source_rows = sum(populate(source_url, scale=scale).values())
    generated = time.perf_counter() - started
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    dump_seconds, dump_bytes = _dump_restore(source_url, server)

    target = database(server, scaled_name("bench_migrate"), fresh=True)
    db = open_database(target=target, master=BENCH_MASTER)
    atexit.register(db.dispose)
    mapping = load_mapping(MAPPING)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    with connect_source(source_url, autocommit=True) as conn:
        plan = make_plan(conn, mapping, introspect(conn), describe(source_url))
    phases["plan"] = time.perf_counter() - started
    if not plan.fits:
        raise RuntimeError(f"the carbot mapping does not fit the source: {plan.problems[:3]}")
    started = time.perf_counter()
    report = load(db, source_url, mapping)
    phases["load"] = time.perf_counter() - started
    started = time.perf_counter()
    with applier_lock(db, mapping.name):
        checked = verify(
            db, source_url, mapping, at=consistent_point(db, source_url, mapping, mapping.name)
        )
    phases["verify"] = time.perf_counter() - started
    if not checked.equal:
        raise RuntimeError(f"verify after the load found {checked.differences_total} differences")
    return Migration(
        legacy=legacy,
        source_url=source_url,
        target=target,
        db=db,
        mapping=mapping,
        scale=scale,
        source_rows=source_rows,
        phases=phases,
        load_rows=report.rows,
        verify_report=checked,
        dump_seconds=dump_seconds,
        dump_bytes=dump_bytes,
        extra={"generate_seconds": round(generated, 1)},
    )


def rows_per_s(server: DatabaseTarget) -> Result:
    m = _migration(server)
    seconds = sum(m.phases.values())
    rate = m.source_rows / seconds
    baseline = m.source_rows / m.dump_seconds
    return Result(
        name="migrate_rows_per_s",
        value=round(rate),
        unit="rows/s",
        baseline="pg_dump -Fc | pg_restore of the same source into an empty database",
        baseline_value=round(baseline),
        ratio=round(rate / baseline, 3),
        target="ratio >= 0.5 and the whole migration <= 120 s",
        params={
            "scale": m.scale,
            "source_rows": m.source_rows,
            "load_rows_read": m.load_rows,
            "plan_seconds": round(m.phases["plan"], 2),
            "load_seconds": round(m.phases["load"], 2),
            "verify_seconds": round(m.phases["verify"], 2),
            "migration_seconds": round(seconds, 2),
            "within_120_s": seconds <= 120,
            "dump_restore_seconds": round(m.dump_seconds, 2),
            "dump_mb": round(m.dump_bytes / 1e6, 1),
            **m.extra,
        },
    )


def _checksum_rows(source_url: str, mapping: Mapping) -> tuple[int, float]:
    """Rows read and seconds of one order-free md5 checksum per entity's source table."""
    rows = 0
    started = time.perf_counter()
    with psycopg.connect(source_url, autocommit=True) as conn:
        for entity in mapping.entities:
            query = sql.SQL(
                "SELECT count(*), sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint"
                "::numeric) FROM {}.{} t"
            ).format(sql.Identifier(entity.schema), sql.Identifier(entity.table))
            try:
                row = conn.execute(query).fetchone()
            except psycopg.errors.UndefinedTable:
                continue  # an optional entity whose table this source lacks
            rows += int(row[0]) if row else 0
    return rows, time.perf_counter() - started


def verify_rows_per_s(server: DatabaseTarget) -> Result:
    m = _migration(server)
    report = m.verify_report
    rate = report.rows / m.phases["verify"]
    rows, seconds = _checksum_rows(m.source_url, m.mapping)
    baseline = rows / seconds
    return Result(
        name="migrate_verify_rows_per_s",
        value=round(rate),
        unit="rows/s",
        baseline="SELECT count(*), sum(md5(row::text)) per source table (source side only)",
        baseline_value=round(baseline),
        ratio=round(rate / baseline, 3),
        target=">= 200,000 rows/s",
        params={
            "rows": report.rows,
            "seconds": round(m.phases["verify"], 2),
            "verify_own_rows_per_second": round(report.rows_per_second),
            "equal": report.equal,
            "checksum_rows": rows,
            "checksum_seconds": round(seconds, 2),
        },
    )


# ---------------------------------------------------------------- change data capture


def _follow_child(
    target: DatabaseTarget,
    source_url: str,
    ready: Any,
    stop: Any,
    out: Any,
) -> None:
    """`follow` in a process of its own until `stop` is set; its report goes to `out`."""
    try:
        db = open_database(target=target, master=BENCH_MASTER)
        try:

            def batch(_report: Any) -> None:
                ready.set()

            report = follow(
                db, source_url, load_mapping(MAPPING), poll=0.05, stop=stop.is_set, on_batch=batch
            )
        finally:
            db.dispose()
        out.put(
            {
                "transactions": report.transactions,
                "changes": report.changes,
                "lag_seconds": report.lag_seconds,
            }
        )
    except BaseException as exc:
        ready.set()
        out.put({"error": f"{type(exc).__name__}: {exc}"})


@dataclass
class _Pool:
    sessions: list[str]
    messages: list[str]
    leads: list[str]
    customers: list[str]
    doomed: list[str]  # existing messages the writer deletes (never a marker: see `_poll`)


def _pool(conn: psycopg.Connection[Any]) -> _Pool:
    def ids(table: str, n: int = 5000) -> list[str]:
        query = sql.SQL("SELECT id::text FROM {} ORDER BY random() LIMIT %s")
        return [r[0] for r in conn.execute(query.format(sql.Identifier(table)), (n,))]

    messages = ids("chat_messages", 20_000)
    half = len(messages) // 2
    return _Pool(
        ids("chat_sessions"), messages[:half], ids("leads"), ids("customers"), messages[half:]
    )


def _change(cur: psycopg.Cursor[Any], r: random.Random, pool: _Pool, i: int) -> int:
    """One change besides the marker: an update or a delete; rows touched."""
    pick = r.random()
    if pick < 0.35:
        cur.execute(
            "UPDATE chat_messages SET content = %s WHERE id = %s",
            (f"Bench edit {i}", r.choice(pool.messages)),
        )
    elif pick < 0.6:
        cur.execute(
            "UPDATE leads SET status = %s, updated_at = now() WHERE id = %s",
            (r.choice(LEAD_STATUSES), r.choice(pool.leads)),
        )
    elif pick < 0.8:
        cur.execute(
            "UPDATE customers SET city = %s, updated_at = now() WHERE id = %s",
            (r.choice(["Berlin", "Hamburg", "Köln", "Leipzig"]), r.choice(pool.customers)),
        )
    elif pool.doomed:
        cur.execute("DELETE FROM chat_messages WHERE id = %s", (pool.doomed.pop(),))
    else:
        cur.execute(
            "UPDATE chat_messages SET detected_intent = 'pricing' WHERE id = %s",
            (r.choice(pool.messages),),
        )
    return max(cur.rowcount, 0)


def _write(
    source_url: str, seconds: float, rate: float, per_tx: int, commits: dict[str, float]
) -> tuple[int, float]:
    """Commit `rate` changes/s for `seconds`; each transaction's marker -> commit time."""
    r = random.Random(17)
    interval = per_tx / rate
    changes = 0
    with psycopg.connect(source_url) as conn:
        pool = _pool(conn)
        conn.commit()
        started = time.monotonic()
        i = 0
        while (due := started + i * interval) < started + seconds:
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            marker = str(uuid.uuid4())
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO chat_messages (id, session_id, content, message_type, "
                    "created_at) VALUES (%s, %s, %s, 'user', now())",
                    (marker, r.choice(pool.sessions), f"Bench message {i}"),
                )
                changes += 1
                for k in range(per_tx - 1):
                    changes += _change(cur, r, pool, i * per_tx + k)
            conn.commit()
            commits[marker] = time.monotonic()
            i += 1
        elapsed = time.monotonic() - started
    return changes, elapsed


def _poll(
    db: Database,
    run: str,
    commits: dict[str, float],
    seen: dict[str, float],
    done: threading.Event,
) -> None:
    """Record when each committed marker's row is in the target's id_map."""
    with owner_connection(db) as conn:
        while True:
            finished = done.is_set()
            pending = [k for k in list(commits) if k not in seen]
            if finished:
                return
            if pending:
                rows = conn.execute(
                    "SELECT source_key FROM migrate.id_map WHERE run = %s"
                    " AND entity = 'chat_messages' AND source_key = ANY(%s)",
                    (run, pending),
                ).fetchall()
                now = time.monotonic()
                for (key,) in rows:
                    seen[key] = now
            time.sleep(0.01)


def _decode_seconds(source_url: str) -> tuple[float, int, int]:
    """Seconds PostgreSQL needs to decode the slot's pending WAL; messages and bytes."""
    with psycopg.connect(source_url, autocommit=True) as conn:
        started = time.perf_counter()
        row = conn.execute(
            "SELECT count(*), coalesce(sum(length(data)), 0) FROM "
            "pg_logical_slot_peek_binary_changes(%s, NULL, NULL, 'proto_version', '1', "
            "'publication_names', %s)",
            (DECODE_SLOT, DECODE_PUB),
        ).fetchone()
        seconds = time.perf_counter() - started
        conn.execute("SELECT pg_drop_replication_slot(%s)", (DECODE_SLOT,))
        conn.execute(sql.SQL("DROP PUBLICATION {}").format(sql.Identifier(DECODE_PUB)))
    assert row is not None
    return seconds, int(row[0]), int(row[1])


def cdc_lag(server: DatabaseTarget) -> Result:
    m = _migration(server)
    window = fknob("BENCH_CDC_SECONDS", 30.0, 3.0)
    rate = fknob("BENCH_CDC_RATE", 1000.0, 1000.0)
    per_tx = max(1, knob("BENCH_CDC_TX_CHANGES", 5, 5))
    with psycopg.connect(m.source_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE PUBLICATION {} FOR TABLE customers, leads, chat_messages").format(
                sql.Identifier(DECODE_PUB)
            )
        )
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (DECODE_SLOT,))

    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    child = ctx.Process(
        target=_follow_child, args=(m.target, m.source_url, ready, stop, out), daemon=True
    )
    child.start()
    commits: dict[str, float] = {}
    seen: dict[str, float] = {}
    done = threading.Event()
    poller = threading.Thread(target=_poll, args=(m.db, m.mapping.name, commits, seen, done))
    try:
        if not ready.wait(120):
            raise RuntimeError("follow did not start within 120 s")
        poller.start()
        changes, elapsed = _write(m.source_url, window, rate, per_tx, commits)
        deadline = time.monotonic() + max(30.0, 2 * window)
        while len(seen) < len(commits) and time.monotonic() < deadline and child.is_alive():
            time.sleep(0.05)
        drained = time.monotonic()
    finally:
        done.set()
        stop.set()
        if poller.is_alive():
            poller.join()
    try:
        followed = out.get(timeout=120)
    except queue.Empty:
        followed = {"error": "follow reported nothing"}
    child.join(30)
    if "error" in followed:
        raise RuntimeError(f"follow failed: {followed['error']}")
    decode_s, decode_messages, decode_bytes = _decode_seconds(m.source_url)

    unseen = [k for k in commits if k not in seen]
    lags = [seen[k] - t for k, t in commits.items() if k in seen]
    lags += [drained - commits[k] for k in unseen]  # a lower bound for those never seen
    p95 = percentile(lags, 0.95)
    baseline = decode_s / elapsed
    batch_lags = followed["lag_seconds"] or [0.0]
    return Result(
        name="migrate_cdc_lag",
        value=round(p95, 3),
        unit="s",
        baseline="PostgreSQL decoding (pgoutput) of one second of the same writes",
        baseline_value=round(max(baseline, 1e-6), 6),
        ratio=round(p95 / max(baseline, 1e-6), 1),
        target="p95 <= 1 s at 1,000 changes/s",
        params={
            "p50_s": round(median(lags), 3),
            "p95_s": round(p95, 3),
            "max_s": round(max(lags), 3),
            "changes": changes,
            "transactions": len(commits),
            "changes_per_s": round(changes / elapsed),
            "changes_per_transaction": per_tx,
            "seconds": round(elapsed, 1),
            "markers_unseen": len(unseen),
            "follow_transactions": followed["transactions"],
            "follow_batch_lag_p95_s": round(percentile(batch_lags, 0.95), 3),
            "decode_seconds_total": round(decode_s, 3),
            "decode_messages": decode_messages,
            "decode_mb": round(decode_bytes / 1e6, 2),
        },
    )
