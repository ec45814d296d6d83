"""seed_copy_rate: rows/s of the generator (generate + COPY, pipelined) vs. a raw COPY of the
very same rows, pre-generated in memory, into an identical fresh database."""

from __future__ import annotations

import time

import psycopg

from bench.common import BENCH_MASTER, Result, database, knob
from tenantry.db.provider import DatabaseTarget
from tenantry.seed.generator import SCALES
from tenantry.seed.loader import copy_chunk, derive_tenants, generate_encoded, iter_chunks, load
from tenantry.seed.sealing import platform_seed_keys

SEED = 99
ANCHOR = 1_780_000_000


def run(server: DatabaseTarget) -> Result:
    tenants = knob("BENCH_SEED_TENANTS", 500, 3)
    specs = derive_tenants(tenants, SEED)

    gen_db = database(server, "bench_seed_generator", fresh=True)
    stats = load(
        gen_db.libpq(gen_db.owner_url),
        specs,
        master=BENCH_MASTER,
        scale="large",
        seed=SEED,
        anchor_s=ANCHOR,
    )
    generator_rate = stats.rows_per_second

    raw_db = database(server, "bench_seed_raw_copy", fresh=True)
    with psycopg.connect(raw_db.libpq(raw_db.owner_url)) as conn:
        platform = platform_seed_keys(conn, BENCH_MASTER)
    chunks = [
        generate_encoded(c)
        for c in iter_chunks(specs, SCALES["large"], SEED, ANCHOR, BENCH_MASTER, platform)
    ]
    rows = 0
    with psycopg.connect(raw_db.libpq(raw_db.owner_url)) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.commit()
        started = time.perf_counter()
        for data in chunks:
            with conn.transaction():
                rows += sum(copy_chunk(conn, data).values())
        raw_seconds = time.perf_counter() - started
    raw_rate = rows / raw_seconds
    assert rows == stats.total_rows, "baseline must copy exactly the generator's rows"
    return Result(
        name="seed_copy_rate",
        value=round(generator_rate),
        unit="rows/s",
        baseline="raw COPY of the same pre-generated rows into the same schema",
        baseline_value=round(raw_rate),
        ratio=round(generator_rate / raw_rate, 3),
        target="ratio >= 0.5",
        params={
            "tenants": tenants,
            "scale": "large",
            "rows": rows,
            "generator_seconds": round(stats.seconds, 2),
            "raw_copy_seconds": round(raw_seconds, 2),
        },
    )
