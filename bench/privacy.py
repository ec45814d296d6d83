"""Privacy kernel benchmarks on one tenant with 100,000 customers (and their leads, bookings,
items and payments), each customer and lead a data subject with its own data key.

- `key_rotation_seconds`: `rotate_tenant_key` until the new version is active (rewrites no
  data row); the re-wrap of all 100,000 subject keys that follows is reported in `params`.
  Baseline: one UPDATE rewriting every customer row of the tenant, the least a rotation that
  re-encrypted data would cost.
- `dsar_erase_seconds`: erasure of one subject (footprint, deletion, pseudonymisation, key
  destruction, scan of every column, receipt). Baseline: a plain DELETE of that subject's rows.
- `dsar_export_seconds`: the access export of another subject. Baseline: a plain SELECT of the
  rows the export contains.
- `pii_write_overhead`: customer inserts/s through the application (subject, data key, blind
  indexes, seven sealed fields), one transaction each. Baseline: the same inserts through the
  same unit of work and ORM flush (tenant binding, audit trail, commit) with the same bytes
  unsealed and no subject: the unit of work's sealer is taken off the session for them, or it
  would look for the subject of an e-mail it cannot read and raise.
Medians of several runs on different subjects.

Environment: BENCH_PRIVACY_CUSTOMERS (100000; leads, bookings and payments scale with it),
BENCH_PII_INSERTS (1000).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa

from bench.common import BENCH_MASTER, Result, bench_scale, database, knob, median
from tenantry.composition import open_database
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.models import Customer
from tenantry.models.enums import MembershipRole
from tenantry.models.sealed import SEALER_KEY
from tenantry.privacy.keys import KeyRing, rotate_tenant_key
from tenantry.privacy.vault import keyring
from tenantry.seed.generator import Scale, TenantSpec
from tenantry.seed.loader import load
from tenantry.services.principal import Principal
from tenantry.services.privacy.erasure import erase_subject
from tenantry.services.privacy.export import export_subject, seal_bundle, write_private
from tenantry.services.privacy.footprint import find_footprint

MASTER = BENCH_MASTER
TENANT = TenantSpec(0, "caterer", "Privacy Bench Catering", "privacy-bench")


def _scale() -> Scale:
    customers = knob("BENCH_PRIVACY_CUSTOMERS", 100_000, 400)
    return Scale(
        "privacy-bench", (1, 1), customers, customers * 3 // 2, customers * 3 // 5, 1, jitter=False
    )


def _dataset(server: DatabaseTarget) -> tuple[Database, uuid.UUID]:
    scale = _scale()
    # One database per size: `load` adds nothing to a tenant that exists, so a database built
    # at another size would be measured at the wrong one.
    name = "bench_privacy" if bench_scale() == "full" else f"bench_privacy_{scale.customers}"
    target = database(server, name, fresh=False)
    load(
        target.libpq(target.owner_url),
        [TENANT],
        master=BENCH_MASTER,
        scale=scale,
        seed=5,
        anchor_s=1_780_000_000,
    )
    db = open_database(target=target, master=BENCH_MASTER)
    with db.platform_uow() as uow:
        tenant = uow.repos.tenants.by_slug(TENANT.slug)
        assert tenant is not None
        tenant_id = tenant.id
    return db, tenant_id


def _customers_with_payments(db: Database, tenant_id: uuid.UUID, n: int) -> list[str]:
    """Addresses of paying customers whose subject has no other customer row."""
    with db.tenant_uow(tenant_id) as uow:
        customers = uow.session.scalars(
            sa.select(Customer)
            .where(
                Customer.tenant_id == tenant_id,
                Customer.email_sealed.is_not(None),
                sa.text(
                    "EXISTS (SELECT 1 FROM commerce.payments p WHERE p.tenant_id ="
                    " crm.customers.tenant_id AND p.customer_id = crm.customers.id)"
                ),
            )
            .order_by(Customer.id)
            .limit(n)
        ).all()
        return [c.email for c in customers if c.email]


def _insert_rate(db: Database, tenant_id: uuid.UUID, *, sealed: bool, n: int) -> float:
    """Customers inserted per second, one transaction each, through the ORM.

    Sealed: the application path (subject lookup and creation, data key, blind indexes,
    AES-GCM per field). Plain: the same rows with the same bytes unencrypted, no subject, the
    same flush without the sealer (it would read the new row's e-mail to find its subject, and
    bytes put straight into a sealed column cannot be read).
    """
    started = time.perf_counter()
    for i in range(n):
        values = {
            "first_name": "Bench",
            "last_name": f"Kunde{i}",
            "email": f"pii-{'s' if sealed else 'p'}-{uuid.uuid4().hex[:12]}@example.org",
            "phone": f"+49 151 {i:07d}",
            "street": f"Teststrasse {i % 200}",
            "postal_code": "10115",
            "city": "Berlin",
        }
        with db.tenant_uow(tenant_id, actor="bench") as uow:
            if sealed:
                customer = Customer(**values)
            else:
                uow.session.info.pop(SEALER_KEY, None)
                customer = Customer(**{f"{k}_sealed": v.encode() for k, v in values.items()})
            uow.repos.customers.add(customer)
            uow.commit()
    return n / (time.perf_counter() - started)


def pii_write_overhead(db: Database, tenant_id: uuid.UUID) -> Result:
    n = max(3, knob("BENCH_PII_INSERTS", 1000, 30))
    warm = min(50, n)
    _insert_rate(db, tenant_id, sealed=True, n=warm)  # warm-up: pools, keys, plans
    _insert_rate(db, tenant_id, sealed=False, n=warm)
    sealed, plain = [], []
    for _ in range(3):
        plain.append(_insert_rate(db, tenant_id, sealed=False, n=n // 3))
        sealed.append(_insert_rate(db, tenant_id, sealed=True, n=n // 3))
    value, base = median(sealed), median(plain)
    return Result(
        "pii_write_overhead",
        round(value, 1),
        "customer inserts/s",
        "the same inserts with the same bytes unsealed (no subject, no encryption)",
        round(base, 1),
        round(value / base, 3),
        ">= 0.5",
        {
            "inserts": n,
            "runs": 3,
            "per_insert": "one transaction: subject lookup by blind index, new subject and"
            " data key, 7 sealed fields, e-mail and phone blind indexes",
        },
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
    assert len(emails) == 10, "the dataset must hold ten paying customers"
    erase_times, delete_times, export_times, select_times = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, email in enumerate(emails[:5]):
            delete_times.append(_plain_delete(db, tenant_id, email))
            started = time.perf_counter()
            with db.tenant_uow(tenant_id, actor="bench") as uow:
                erase_subject(uow, Principal(tenant_id=tenant_id, role=MembershipRole.DPO), email)
                uow.commit()
            erase_times.append(time.perf_counter() - started)
            other = emails[5 + i]
            started = time.perf_counter()
            with db.tenant_uow(tenant_id, actor="bench") as uow:
                result = export_subject(
                    uow, Principal(tenant_id=tenant_id, role=MembershipRole.DPO), other
                )
                write_private(seal_bundle(keyring(uow), result), Path(tmp) / f"{i}.zip.sealed")
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
    pii = pii_write_overhead(db, tenant_id)
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
        pii,
    ]
