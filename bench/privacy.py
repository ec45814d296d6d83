"""Privacy kernel benchmarks on one tenant with 100,000 customers (and their leads, bookings,
items and payments), plus 100,000 data subjects with their own data keys.

- `key_rotation_seconds`: `rotate_tenant_key` until the new version is active (rewrites no
  data row); the re-wrap of all 100,000 subject keys that follows is reported in `params`.
  Baseline: one UPDATE rewriting every customer row of the tenant, the least a rotation that
  re-encrypted data would cost.
- `dsar_erase_seconds`: erasure of one subject (footprint, deletion, pseudonymisation, key
  destruction, scan of every column, receipt). Baseline: a plain DELETE of that subject's rows.
- `dsar_export_seconds`: the access export of another subject. Baseline: a plain SELECT of the
  rows the export contains.
Medians of several runs on different subjects.
"""

from __future__ import annotations

import io
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa

from bench.common import BENCH_MASTER, Result, database, median
from tenantry.db.engine import Database, open_database
from tenantry.db.provider import DatabaseTarget
from tenantry.privacy.crypto import new_key, pseudonym
from tenantry.privacy.erasure import erase_subject
from tenantry.privacy.export import export_subject
from tenantry.privacy.footprint import find_footprint
from tenantry.privacy.keys import KeyRing, rotate_tenant_key
from tenantry.seed.generator import Scale, TenantSpec
from tenantry.seed.loader import load

MASTER = BENCH_MASTER
SCALE = Scale("privacy-bench", (1, 1), 100_000, 150_000, 60_000, 1, jitter=False)
TENANT = TenantSpec(0, "caterer", "Privacy Bench Catering", "privacy-bench")


def _dataset(server: DatabaseTarget) -> tuple[Database, uuid.UUID]:
    target = database(server, "bench_privacy", fresh=False)
    load(
        target.libpq(target.owner_url),
        [TENANT],
        master=BENCH_MASTER,
        scale=SCALE,
        seed=5,
        anchor_s=1_780_000_000,
    )
    db = open_database(target=target, master=BENCH_MASTER)
    with db.platform_uow() as uow:
        tenant = uow.repos.tenants.by_slug(TENANT.slug)
        assert tenant is not None
        tenant_id = tenant.id
    with db.platform_uow(tenant_id=tenant_id) as uow:  # COPY needs the owner (RLS)
        existing = uow.session.scalar(
            sa.text("SELECT count(*) FROM privacy.subjects WHERE tenant_id = :t"), {"t": tenant_id}
        )
        if not existing:
            _bulk_subjects(uow, KeyRing(uow, MASTER), 100_000)
            uow.commit()
    return db, tenant_id


def _bulk_subjects(uow: object, ring: KeyRing, count: int) -> None:
    """100,000 subjects with real wrapped keys, loaded by COPY."""
    tenant = ring.tenant_id
    pkey = ring.pseudonym_key()
    subjects, keys = io.StringIO(), io.StringIO()
    version = ring.active_version()
    for _ in range(count):
        sid = uuid.uuid4()
        subjects.write(f"{tenant}\t{sid}\tperson\t{pseudonym(pkey, sid)}\n")
        wrapped = ring.wrap_subject_key(sid, new_key())
        keys.write(f"{tenant}\t{sid}\t1\t\\\\x{wrapped.hex()}\t{version}\n")
    conn = uow.session.connection().connection.driver_connection  # type: ignore[attr-defined]
    with conn.cursor() as cur:
        with cur.copy("COPY privacy.subjects (tenant_id, id, kind, pseudonym) FROM STDIN") as cp:
            cp.write(subjects.getvalue())
        with cur.copy(
            "COPY privacy.subject_keys (tenant_id, subject_id, version, wrapped_key,"
            " wrapping_version) FROM STDIN"
        ) as cp:
            cp.write(keys.getvalue())


def _customers_with_payments(db: Database, tenant_id: uuid.UUID, n: int) -> list[str]:
    with db.platform_uow() as uow:
        return list(
            uow.session.scalars(
                sa.text(
                    "SELECT c.email FROM crm.customers c"
                    " WHERE c.tenant_id = :t AND c.email IS NOT NULL"
                    " AND EXISTS (SELECT 1 FROM commerce.payments p WHERE p.tenant_id = c.tenant_id"
                    "   AND p.customer_id = c.id)"
                    " AND NOT EXISTS (SELECT 1 FROM crm.customers d WHERE d.tenant_id = c.tenant_id"
                    "   AND d.email = c.email AND d.id <> c.id)"
                    " ORDER BY c.id LIMIT :n"
                ),
                {"t": tenant_id, "n": n},
            )
        )


def _plain_delete(db: Database, tenant_id: uuid.UUID, email: str) -> float:
    with db.tenant_uow(tenant_id) as uow:
        fp = find_footprint(uow, KeyRing(uow, MASTER), email)
    rows = {t: ids for t, ids in fp.rows.items() if ids}
    order = [
        "commerce.payments",
        "commerce.invoices",
        "commerce.booking_items",
        "commerce.bookings",
        "crm.lead_score_history",
        "crm.lead_interactions",
        "crm.leads",
        "crm.vehicles",
        "crm.customers",
    ]
    conninfo = db.target.libpq(db.target.owner_url)
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        for table in order:
            if table in rows:
                conn.execute(
                    f"DELETE FROM {table} WHERE tenant_id = %s AND id = ANY(%s)",
                    (tenant_id, rows[table]),
                )
        elapsed = time.perf_counter() - started
        conn.rollback()  # the baseline only times the statements
    return elapsed


def run(server: DatabaseTarget) -> list[Result]:
    db, tenant_id = _dataset(server)
    with db.platform_uow() as uow:
        customers = int(
            uow.session.scalar(
                sa.text("SELECT count(*) FROM crm.customers WHERE tenant_id = :t"), {"t": tenant_id}
            )
            or 0
        )
        subjects = int(
            uow.session.scalar(
                sa.text("SELECT count(*) FROM privacy.subject_keys WHERE tenant_id = :t"),
                {"t": tenant_id},
            )
            or 0
        )
    params = {"customers": customers, "subject_keys": subjects}

    reports = [rotate_tenant_key(db, MASTER, tenant_id) for _ in range(3)]
    rotations = [r.rotate_seconds for r in reports]
    rewraps = [r.seconds - r.rotate_seconds for r in reports]
    conninfo = db.target.libpq(db.target.owner_url)
    rewrites = []
    for _ in range(3):
        with psycopg.connect(conninfo) as conn:
            started = time.perf_counter()
            conn.execute(
                "UPDATE crm.customers SET notes = notes WHERE tenant_id = %s", (tenant_id,)
            )
            rewrites.append(time.perf_counter() - started)
            conn.rollback()

    emails = _customers_with_payments(db, tenant_id, 10)
    erase_times, delete_times, export_times, select_times = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, email in enumerate(emails[:5]):
            delete_times.append(_plain_delete(db, tenant_id, email))
            started = time.perf_counter()
            with db.tenant_uow(tenant_id, actor="bench") as uow:
                erase_subject(uow, KeyRing(uow, MASTER), email)
                uow.commit()
            erase_times.append(time.perf_counter() - started)
            other = emails[5 + i]
            started = time.perf_counter()
            with db.tenant_uow(tenant_id, actor="bench") as uow:
                export_subject(uow, KeyRing(uow, MASTER), other, Path(tmp) / f"{i}.zip")
                uow.commit()
            export_times.append(time.perf_counter() - started)
            with db.tenant_uow(tenant_id) as uow:
                fp = find_footprint(uow, KeyRing(uow, MASTER), other)
                started = time.perf_counter()
                for table, ids in fp.rows.items():
                    if ids:
                        uow.session.execute(
                            sa.text(
                                f"SELECT * FROM {table} WHERE tenant_id = :t AND id = ANY(:ids)"
                            ),
                            {"t": tenant_id, "ids": ids},
                        ).all()
                select_times.append(time.perf_counter() - started)
    db.dispose()
    rot, rew = median(rotations), median(rewrites)
    era, dele = median(erase_times), median(delete_times)
    exp, sel = median(export_times), median(select_times)
    return [
        Result(
            "key_rotation_seconds",
            round(rot, 3),
            "s",
            "one UPDATE rewriting every customer row of the tenant",
            round(rew, 3),
            round(rot / rew, 4),
            "<= 1 s (no row rewrite)",
            params
            | {
                "runs": 3,
                "rewrap_seconds_median": round(median(rewraps), 2),
                "note": "rotation: the new version is active; the re-wrap of every subject key"
                " follows in resumable batches (can run in the background)",
            },
        ),
        Result(
            "dsar_erase_seconds",
            round(era, 3),
            "s",
            "plain DELETE of the subject's rows",
            round(dele, 4),
            round(era / dele, 1),
            "<= 1 s",
            params
            | {
                "runs": len(erase_times),
                "includes": "footprint, erase, key destruction, full scan",
            },
        ),
        Result(
            "dsar_export_seconds",
            round(exp, 3),
            "s",
            "plain SELECT of the exported rows",
            round(sel, 4),
            round(exp / sel, 1),
            "<= 0.5 s",
            params | {"runs": len(export_times)},
        ),
    ]
