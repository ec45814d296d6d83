"""audit_write_overhead and audit_verify_rate: what the audit trail costs a write, and how
fast `verify` walks the chains.

audit_write_overhead: transactions/s of a typical write (update one lead: BEGIN; bind tenant
and actor; UPDATE; COMMIT) through `tenantry_app`, on a database with the trail vs. an
identical one whose audit triggers are removed (`audit.disable`). Runs are interleaved in
blocks so machine noise hits both alike. The seed load into both databases also gives the
cost of the trail for a bulk COPY (`params`).

audit_verify_rate: entries/s of `verify_trail` (checkpoint check, every chain recomputed, with
its default number of parallel connections) over a database holding at least
BENCH_AUDIT_ENTRIES entries in 40 chains vs. a plain read of the same entries (`SELECT *`
through a server-side cursor, rows converted to Python values, no hashing). The params also
give the raw transfer floor: a binary COPY of every column, rows not even parsed.

Environment: BENCH_AUDIT_TENANTS (8), BENCH_AUDIT_ITERATIONS (2000 per side),
BENCH_AUDIT_ENTRIES (500000).
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import Engine, create_engine, text

from bench.common import BENCH_MASTER, Result, database, knob, median, scaled_name, settings
from tenantry.audit.checkpoints import create_checkpoint
from tenantry.audit.verify import default_jobs, verify_trail
from tenantry.db.provider import DatabaseTarget
from tenantry.seed.loader import derive_tenants, load

SEED = 23
ANCHOR = 1_780_000_000
BLOCK = 50
BIND = text(
    "SELECT set_config('tenantry.tenant_id', :t, true), set_config('tenantry.actor', :a, true)"
)
UPDATE = text(
    "UPDATE crm.leads SET score = :s, updated_at = now() WHERE tenant_id = :t AND id = :l"
)
DISABLE_ALL = (
    "SELECT audit.disable(tgrelid::regclass) FROM pg_trigger"
    " WHERE tgname = 'audit_trail_insert' AND tgparentid = 0"
)


def _seeded(server: DatabaseTarget, name: str, tenants: int, *, trail: bool) -> tuple:
    target = database(server, name, fresh=True)
    conninfo = target.libpq(target.owner_url)
    if not trail:
        with psycopg.connect(conninfo) as conn:
            conn.execute(DISABLE_ALL)
    stats = load(
        conninfo,
        derive_tenants(tenants, SEED),
        master=BENCH_MASTER,
        scale="small",
        seed=SEED,
        anchor_s=ANCHOR,
    )
    return target, stats


def _leads(target: DatabaseTarget) -> tuple[str, list[str]]:
    with psycopg.connect(target.libpq(target.owner_url)) as conn:
        row = conn.execute(
            "SELECT tenant_id FROM crm.leads GROUP BY tenant_id ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        assert row is not None
        leads = conn.execute(
            "SELECT id FROM crm.leads WHERE tenant_id = %s ORDER BY id LIMIT 200", (row[0],)
        ).fetchall()
    return str(row[0]), [str(r[0]) for r in leads]


def _writes(engine: Engine, tenant: str, leads: list[str], n: int, rng: random.Random) -> float:
    """Seconds for `n` update-a-lead transactions."""
    actor = f"user:{uuid.UUID(int=rng.getrandbits(128))}"
    started = time.perf_counter()
    with engine.connect() as conn:
        for _ in range(n):
            with conn.begin():
                conn.execute(BIND, {"t": tenant, "a": actor})
                conn.execute(UPDATE, {"s": rng.randrange(100), "t": tenant, "l": rng.choice(leads)})
    return time.perf_counter() - started


def write_overhead(server: DatabaseTarget) -> Result:
    tenants = knob("BENCH_AUDIT_TENANTS", 8, 2)
    iterations = knob("BENCH_AUDIT_ITERATIONS", 2000, 100)
    on, on_stats = _seeded(server, "bench_audit_on", tenants, trail=True)
    off, off_stats = _seeded(server, "bench_audit_off", tenants, trail=False)
    with psycopg.connect(off.libpq(off.owner_url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_trail_insert'"
        ).fetchone()
        assert row is not None
        assert row[0] == 0, "the baseline must have no audit trigger"
    engines = {
        "on": create_engine(on.app_url, pool_size=1),
        "off": create_engine(off.app_url, pool_size=1),
    }
    work = {"on": _leads(on), "off": _leads(off)}
    rng = random.Random(SEED)
    for side in ("on", "off"):  # warm-up
        _writes(engines[side], *work[side], min(200, iterations), rng)
    seconds = {"on": 0.0, "off": 0.0}
    blocks: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(max(1, iterations // BLOCK)):
        for side in ("on", "off") if i % 2 else ("off", "on"):
            took = _writes(engines[side], *work[side], BLOCK, rng)
            seconds[side] += took
            blocks[side].append(BLOCK / took)
    for engine in engines.values():
        engine.dispose()
    with psycopg.connect(on.libpq(on.owner_url)) as conn:
        row = conn.execute("SELECT count(*) FROM audit.log").fetchone()
        entries = row[0] if row else 0
    done = max(1, iterations // BLOCK) * BLOCK
    with_trail, without = done / seconds["on"], done / seconds["off"]
    return Result(
        name="audit_write_overhead",
        value=round(with_trail, 1),
        unit="tx/s",
        baseline="the same update-a-lead transactions on an identical database without the trail",
        baseline_value=round(without, 1),
        ratio=round(with_trail / without, 3),
        target="ratio >= 0.6",
        params={
            "tenants": tenants,
            "transactions_per_side": done,
            "block": BLOCK,
            "median_block_tx_per_s": round(median(blocks["on"]), 1),
            "median_block_tx_per_s_baseline": round(median(blocks["off"]), 1),
            "audit_entries_after": entries,
            "seed_copy_rows_per_s_with_trail": round(on_stats.rows_per_second),
            "seed_copy_rows_per_s_without": round(off_stats.rows_per_second),
            "seed_rows": on_stats.total_rows,
        },
    )


def _entries(target: DatabaseTarget) -> int:
    with psycopg.connect(target.libpq(target.owner_url)) as conn:
        row = conn.execute("SELECT count(*) FROM audit.log").fetchone()
        return int(row[0]) if row else 0


def _fill(target: DatabaseTarget, wanted: int) -> None:
    """Append entries by updating every lead of every tenant until there are `wanted`."""
    with psycopg.connect(target.libpq(target.owner_url)) as conn:
        conn.execute("SET synchronous_commit = off")
        round_ = 0
        while _entries(target) < wanted:
            round_ += 1
            conn.execute(
                "UPDATE crm.leads SET score = (score + %s) %% 100, updated_at = now()", (round_,)
            )
            conn.commit()


def _plain_read(conninfo: str) -> tuple[int, float]:
    with psycopg.connect(conninfo) as conn, conn.cursor(name="plain_read") as cur:
        cur.itersize = 20_000
        started = time.perf_counter()
        cur.execute("SELECT * FROM audit.log ORDER BY tenant_id, seq")
        n = sum(1 for _ in cur)
        return n, time.perf_counter() - started


def _raw_copy(conninfo: str) -> tuple[int, float]:
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        conn.execute("SET synchronize_seqscans = off")
        started = time.perf_counter()
        n = 0
        with cur.copy("COPY (SELECT * FROM audit.log) TO STDOUT (FORMAT binary)") as copy:
            while copy.read():
                n += 1
        return n - 1, time.perf_counter() - started  # the header comes with the first row


def verify_rate(server: DatabaseTarget) -> Result:
    wanted = knob("BENCH_AUDIT_ENTRIES", 500_000, 3000)
    # Chains in the dataset; its entries grow by updating every lead, round after round.
    chains = knob("BENCH_AUDIT_VERIFY_TENANTS", 40, 3)
    target = database(server, scaled_name("bench_audit_verify"), fresh=False)
    if _entries(target) == 0:
        load(
            target.libpq(target.owner_url),
            derive_tenants(chains, SEED),
            master=BENCH_MASTER,
            scale="small",
            seed=SEED,
            anchor_s=ANCHOR,
        )
    _fill(target, wanted)
    conninfo = target.libpq(target.owner_url)
    bench_settings = settings()
    if not bench_settings.home.exists():
        Path(bench_settings.home).mkdir(parents=True)
    with psycopg.connect(conninfo) as conn:
        create_checkpoint(conn, bench_settings, now=datetime.now(UTC), checkpoint_id=uuid.uuid4())
        conn.commit()
    rates: list[float] = []
    reads: list[float] = []
    copies: list[float] = []
    entries = 0
    for _ in range(3):
        n, took = _plain_read(conninfo)
        reads.append(n / took)
        n, took = _raw_copy(conninfo)
        copies.append(n / took)
        with psycopg.connect(conninfo) as conn:
            started = time.perf_counter()
            report = verify_trail(conn, bench_settings)
            took = time.perf_counter() - started
        assert report.intact, report.breaks[:1]
        entries = report.entries
        rates.append(report.entries / took)
    rate, read = median(rates), median(reads)
    return Result(
        name="audit_verify_rate",
        value=round(rate),
        unit="entries/s",
        baseline="plain read of the same entries (SELECT *, server-side cursor, no hashing)",
        baseline_value=round(read),
        ratio=round(rate / read, 3),
        target=">= 200,000 entries/s",
        params={
            "entries": entries,
            "chains": report.chains,
            "runs": 3,
            "jobs": default_jobs(),
            "raw_binary_copy_entries_per_s": round(median(copies)),
        },
    )
