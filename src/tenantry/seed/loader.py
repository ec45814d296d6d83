"""Loading generated chunks with COPY, as `tenantry_owner`, one transaction per chunk.

Generation runs in a worker process while this process streams the previous chunk into
PostgreSQL, so both cores work. Chunks whose tenants already exist are skipped, which makes
`tenantry seed` idempotent for the same seed. After loading, the touched tables are vacuumed and
analysed so the planner has statistics and index-only scans have a visibility map.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from tenantry.privacy.master import MasterKeyProvider
from tenantry.seed.generator import COLUMNS, SCALES, ChunkSpec, Scale, TenantSpec, generate_chunk
from tenantry.seed.pools import VERTICAL_MIX_NAMES, build_pools
from tenantry.seed.sealing import PlatformSeedKeys, platform_seed_keys

__all__ = [
    "LoadStats",
    "copy_chunk",
    "derive_tenants",
    "generate_encoded",
    "iter_chunks",
    "load",
    "vacuum_analyze",
]

Progress = Callable[[int, int], None]


@dataclass
class LoadStats:
    tenants: int = 0
    skipped_tenants: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


def derive_tenants(count: int, seed: int) -> list[TenantSpec]:
    """`count` generated tenants for `seed`: verticals mixed 55/30/15, stable names and slugs."""
    import random

    rng = random.Random(seed)
    names = [name for name, _ in VERTICAL_MIX_NAMES]
    weights = [weight for _, weight in VERTICAL_MIX_NAMES]
    label = {"restaurant": "Restaurant", "workshop": "Autowerkstatt", "caterer": "Catering"}
    out = []
    for i in range(count):
        vertical = rng.choices(names, weights)[0]
        out.append(
            TenantSpec(i, vertical, f"{label[vertical]} {i + 1:05d}", f"s{seed}-t{i + 1:05d}")
        )
    return out


def iter_chunks(
    tenants: Sequence[TenantSpec],
    scale: Scale,
    seed: int,
    anchor_s: int,
    master: MasterKeyProvider,
    platform: PlatformSeedKeys,
) -> Iterator[ChunkSpec]:
    pools = build_pools(seed)
    size = scale.chunk_tenants
    for start in range(0, len(tenants), size):
        group = tuple(tenants[start : start + size])
        yield ChunkSpec(seed, scale, anchor_s, pools, group, master, platform)


def generate_encoded(spec: ChunkSpec) -> dict[str, bytes]:
    """`generate_chunk`, encoded in the worker so the loading process only streams bytes."""
    return {table: text.encode() for table, text in generate_chunk(spec).items()}


def copy_chunk(conn: psycopg.Connection, data: Mapping[str, str | bytes]) -> dict[str, int]:
    """COPY one chunk's tables in dependency order; returns rows per table."""
    counts: dict[str, int] = {}
    with conn.cursor() as cur:
        for table, columns in COLUMNS.items():
            text = data.get(table)
            if not text:
                continue
            schema, name = table.split(".")
            stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            )
            with cur.copy(stmt) as copy:
                copy.write(text)
            counts[table] = text.count(b"\n") if isinstance(text, bytes) else text.count("\n")
    return counts


def _existing_slugs(conn: psycopg.Connection, slugs: list[str]) -> set[str]:
    rows = conn.execute("SELECT slug FROM identity.tenants WHERE slug = ANY(%s)", (slugs,))
    return {r[0] for r in rows}


def vacuum_analyze(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for table in COLUMNS:
            schema, name = table.split(".")
            conn.execute(
                sql.SQL("VACUUM (ANALYZE) {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            )


def load(
    owner_conninfo: str,
    tenants: Sequence[TenantSpec],
    *,
    master: MasterKeyProvider,
    scale: Scale | str = "small",
    seed: int = 1,
    anchor_s: int | None = None,
    progress: Progress | None = None,
    workers: int = 1,
) -> LoadStats:
    """Generate and COPY `tenants`; tenants whose slug exists are left as they are.

    Personal data is sealed under keys wrapped by `master`, as the application would.
    """
    scale = SCALES[scale] if isinstance(scale, str) else scale
    anchor_s = anchor_s if anchor_s is not None else int(time.time())
    stats = LoadStats()
    started = time.perf_counter()
    with psycopg.connect(owner_conninfo) as conn:
        # A lost chunk after a crash is regenerated on the next run (chunks are idempotent).
        conn.execute("SET synchronous_commit = off")
        present = _existing_slugs(conn, [t.slug for t in tenants])
        conn.commit()
        platform = platform_seed_keys(conn, master)
        todo = [t for t in tenants if t.slug not in present]
        stats.skipped_tenants = len(tenants) - len(todo)
        chunks = list(iter_chunks(todo, scale, seed, anchor_s, master, platform))
        done = 0
        if progress:
            progress(0, len(todo))
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(processes=max(1, workers)) as pool:
            for spec, data in zip(chunks, pool.imap(generate_encoded, chunks), strict=True):
                with conn.transaction():
                    for table, n in copy_chunk(conn, data).items():
                        stats.rows[table] = stats.rows.get(table, 0) + n
                done += len(spec.tenants)
                if progress:
                    progress(done, len(todo))
    stats.tenants = len(todo)
    stats.seconds = time.perf_counter() - started
    if todo:
        vacuum_analyze(owner_conninfo)
    return stats
