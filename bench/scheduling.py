"""availability_p95_ms and booking_race: the scheduling search and the no-double-booking
guarantee under load.

availability_p95_ms: a one-week availability search (a service needing a mechanic and a lift,
15-minute buffer) at a workshop with 20 resources and six months of bookings, through the
service (`tenantry.scheduling.availability.search` in a unit of work), against the bare SQL of
the same search (`availability.SEARCH_SQL`, the statements the search runs, on a psycopg
connection as `tenantry_app` with the tenant bound, without the service and the Python slot
computation). Interleaved; p50 and p95 of each.

booking_race: 1,000 booking attempts over 100 one-hour slots of one resource from a pool of
threads, through `create_booking`; counted afterwards by an independent SQL self-join of the
reservations (overlapping holds of one resource: the double bookings, target 0). Value:
attempts decided per second; baseline: the same attempts for a service that needs no resource
(no reservation, no check).

Settings: BENCH_SCHED_RESOURCES (20 / 4), BENCH_SCHED_DAYS (182 / 14), BENCH_SCHED_ITERATIONS
(300 / 10), BENCH_RACE_ATTEMPTS (1000 / 40), BENCH_RACE_SLOTS (100 / 4), BENCH_RACE_WORKERS
(16 / 4).
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg
from sqlalchemy import text

from bench.common import BENCH_MASTER, Result, database, knob, percentile, scaled_name
from tenantry.composition import open_database
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.errors import SlotTakenError
from tenantry.models import Customer, Location, Service
from tenantry.models.enums import BookingKind, LegalForm, MembershipRole, ResourceKind, Vertical
from tenantry.scheduling import availability, hours, resources
from tenantry.services.bookings import ItemLine, create_booking
from tenantry.services.platform import create_tenant
from tenantry.services.principal import Principal

__all__ = ["availability_p95", "booking_race"]

FIRST_DAY = date(2027, 1, 4)  # a Monday
SLUG = "bench-workshop"
OVERLAPS = (
    "SELECT count(*) FROM scheduling.reservations a JOIN scheduling.reservations b"
    " ON a.tenant_id = b.tenant_id AND a.resource_id = b.resource_id AND a.id < b.id"
    " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
)


@dataclass
class Workshop:
    tenant_id: uuid.UUID
    location_id: uuid.UUID
    service_id: uuid.UUID
    customer_id: uuid.UUID
    resources: list[uuid.UUID]

    @property
    def principal(self) -> Principal:
        return Principal(tenant_id=self.tenant_id, role=MembershipRole.OWNER)


def _workshop(
    db: Database, slug: str, *, pairs: int, needs: bool = True, buffer_after: int = 15
) -> Workshop:
    """A tenant with one location open Mon-Sat 08:00-18:00, `pairs` mechanics and lifts, and a
    60-minute service that holds one of each."""
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug=slug,
            legal_name=f"{slug} GmbH",
            vertical=Vertical.WORKSHOP,
            legal_form=LegalForm.GMBH,
        )
        location = Location(
            tenant_id=tenant.id, id=uow.ids(), name="Werkstatt", slug="main", vertical="workshop"
        )
        uow.session.add(location)
        uow.commit()
    owner = Principal(tenant_id=tenant.id, role=MembershipRole.OWNER)
    with db.tenant_uow(tenant.id) as uow:
        week = {d: [(8 * 60, 18 * 60)] for d in range(1, 8)}
        hours.set_week(uow, owner, location.id, week)
        made = [
            resources.create_resource(
                uow, owner, location_id=location.id, kind=kind, name=f"{kind.value} {i}"
            ).id
            for i in range(pairs)
            for kind in (ResourceKind.STAFF, ResourceKind.LIFT)
        ]
        service = uow.repos.services.add(
            Service(
                location_id=location.id,
                kind="workshop_service",
                name="Inspection",
                price_cents=9900,
                duration_minutes=60,
            )
        )
        customer = uow.repos.customers.add(
            Customer(home_location_id=location.id, first_name="Erika", last_name="Mustermann")
        )
        uow.flush()
        if needs:
            resources.set_requirements(
                uow,
                owner,
                service.id,
                needs=[
                    resources.Need(kind=ResourceKind.STAFF),
                    resources.Need(kind=ResourceKind.LIFT),
                ],
                buffer_after_minutes=buffer_after,
            )
        uow.commit()
    return Workshop(tenant.id, location.id, service.id, customer.id, made)


# Six months of bookings: per day and mechanic/lift pair, 60-minute jobs every 75 minutes
# (8:00 to 16:45 local), about 70% of them taken; each holds its pair plus the 15-minute buffer.
FILL = """
CREATE TEMP TABLE plan ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, p, ((:first)::date + d + time '08:00' + k * interval '75 minutes')
       AT TIME ZONE 'Europe/Berlin' AS starts_at
  FROM generate_series(0, :days - 1) d, generate_series(0, :pairs - 1) p,
       generate_series(0, 7) k
 WHERE (d * 7 + p * 3 + k) % 10 < 7;
INSERT INTO commerce.bookings (tenant_id, id, location_id, customer_id, kind, status, starts_at,
                               ends_at, total_cents, deposit_cents, currency)
SELECT :tenant, id, :location, :customer, 'appointment', 'confirmed', starts_at,
       starts_at + interval '60 minutes', 9900, 0, 'EUR' FROM plan;
INSERT INTO scheduling.reservations (tenant_id, id, booking_id, resource_id, starts_at, ends_at)
SELECT :tenant, gen_random_uuid(), plan.id, (:resources)[plan.p * 2 + side],
       plan.starts_at, plan.starts_at + interval '75 minutes'
  FROM plan, generate_series(1, 2) side
 ORDER BY 4, 5;
"""


def _dataset(server: DatabaseTarget) -> tuple[Database, Workshop, int]:
    pairs = max(1, knob("BENCH_SCHED_RESOURCES", 20, 4) // 2)
    days = knob("BENCH_SCHED_DAYS", 182, 14)
    target = database(server, scaled_name(f"bench_scheduling_{pairs}_{days}"), fresh=True)
    db = open_database(target=target, master=BENCH_MASTER)
    shop = _workshop(db, SLUG, pairs=pairs)
    with db.owner_engine.begin() as conn:
        conn.execute(
            text("SELECT set_config('tenantry.tenant_id', :t, true)"), {"t": str(shop.tenant_id)}
        )
        conn.execute(text("SELECT set_config('tenantry.actor', 'bench', true)"))
        conn.execute(text("SET LOCAL statement_timeout = 0"))  # the audited load of the granules
        for statement in FILL.split(";\n"):
            if statement.strip():
                conn.execute(
                    text(statement),
                    {
                        "first": FIRST_DAY,
                        "days": days,
                        "pairs": pairs,
                        "tenant": shop.tenant_id,
                        "location": shop.location_id,
                        "customer": shop.customer_id,
                        "resources": shop.resources,
                    },
                )
        held = conn.execute(text("SELECT count(*) FROM scheduling.reservations")).scalar_one()
    return db, shop, int(held)


def _psycopg(sql: str) -> str:
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)


def availability_p95(server: DatabaseTarget) -> Result:
    iterations = knob("BENCH_SCHED_ITERATIONS", 300, 10)
    days = knob("BENCH_SCHED_DAYS", 182, 14)
    db, shop, held = _dataset(server)
    weeks = max(1, days // 7 - 1)
    starts = [
        datetime.combine(FIRST_DAY + timedelta(weeks=i % weeks), datetime.min.time(), UTC)
        for i in range(iterations)
    ]
    kinds = ["lift", "staff"]
    sqls = [_psycopg(s) for s in availability.SEARCH_SQL]
    tenant = str(shop.tenant_id)
    conn = psycopg.connect(db.target.libpq(db.target.app_url))

    def bare(start: datetime) -> float:
        end = start + timedelta(days=7)
        lo, hi = start - timedelta(minutes=75), end + timedelta(minutes=135)
        at = {
            "tenant": shop.tenant_id,
            "location": shop.location_id,
            "d0": (lo - timedelta(days=2)).date(),
            "d1": (hi + timedelta(days=1)).date(),
            "kinds": kinds,
            "ids": [],
            "lo": lo,
            "hi": hi,
        }
        rows: list[tuple[object, ...]] = []
        began = time.perf_counter()
        with conn.transaction():
            conn.execute("SELECT set_config('tenantry.tenant_id', %s, true)", (tenant,))
            for i, sql in enumerate(sqls):
                if i == 4:  # the reservations of the resources found
                    at["resources"] = [r[0] for r in rows]
                rows = conn.execute(sql, at).fetchall()
        return time.perf_counter() - began

    found = 0

    def served(start: datetime) -> float:
        nonlocal found
        began = time.perf_counter()
        with db.tenant_uow(shop.tenant_id) as uow:
            slots = availability.search(
                uow,
                shop.principal,
                location_id=shop.location_id,
                service_id=shop.service_id,
                start=start,
                end=start + timedelta(days=7),
            )
            uow.commit()
        found += len(slots)
        return time.perf_counter() - began

    for start in starts[:5]:  # warm-up
        bare(start)
        served(start)
    service_s, sql_s = [], []
    for i, start in enumerate(starts):
        if i % 2:
            service_s.append(served(start))
            sql_s.append(bare(start))
        else:
            sql_s.append(bare(start))
            service_s.append(served(start))
    conn.close()
    db.dispose()
    p95, p95_sql = percentile(service_s, 0.95) * 1000, percentile(sql_s, 0.95) * 1000
    return Result(
        name="availability_p95_ms",
        value=round(p95, 3),
        unit="ms",
        baseline="the search's SQL (availability.SEARCH_SQL) on a bare psycopg connection",
        baseline_value=round(p95_sql, 3),
        ratio=round(p95 / p95_sql, 3),
        target="p95 <= 20 ms",
        params={
            "iterations": iterations,
            "resources": len(shop.resources),
            "days_of_bookings": days,
            "reservations": held,
            "window_days": 7,
            "slots_per_search": round(found / (iterations + 5), 1),
            "p50_ms": round(percentile(service_s, 0.5) * 1000, 3),
            "p50_sql_ms": round(percentile(sql_s, 0.5) * 1000, 3),
        },
    )


def _race(
    db: Database, shop: Workshop, attempts: int, slots: int, workers: int
) -> dict[str, float]:
    day = datetime.combine(FIRST_DAY, datetime.min.time(), UTC) + timedelta(hours=8)
    starts = [day + timedelta(days=i // 9, hours=i % 9) for i in range(slots)]
    outcome = {"won": 0, "refused": 0, "errors": 0}

    def attempt(i: int) -> str:
        try:
            with db.tenant_uow(shop.tenant_id) as uow:
                create_booking(
                    uow,
                    shop.principal,
                    location_id=shop.location_id,
                    customer_id=shop.customer_id,
                    kind=BookingKind.APPOINTMENT,
                    starts_at=starts[i % slots],
                    items=[ItemLine(quantity=1, service_id=shop.service_id)],
                )
                uow.commit()
            return "won"
        except SlotTakenError:
            return "refused"
        except Exception:
            return "errors"

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(attempt, range(attempts)):
            outcome[result] += 1
    outcome["seconds"] = time.perf_counter() - began
    return outcome


def booking_race(server: DatabaseTarget) -> Result:
    attempts = knob("BENCH_RACE_ATTEMPTS", 1000, 40)
    slots = knob("BENCH_RACE_SLOTS", 100, 4)
    workers = knob("BENCH_RACE_WORKERS", 16, 4)
    target = database(server, scaled_name("bench_booking_race"), fresh=True)
    db = open_database(target=target, master=BENCH_MASTER)
    guarded = _workshop(db, "bench-race", pairs=1, buffer_after=0)
    plain = _workshop(db, "bench-race-plain", pairs=1, needs=False)
    raced = _race(db, guarded, attempts, slots, workers)
    base = _race(db, plain, attempts, slots, workers)
    with db.owner_engine.connect() as conn:
        doubles = int(conn.execute(text(OVERLAPS)).scalar_one())
        per_slot = conn.execute(
            text("SELECT count(*) FROM commerce.bookings WHERE tenant_id = :t"),
            {"t": guarded.tenant_id},
        ).scalar_one()
    db.dispose()
    rate = attempts / raced["seconds"]
    base_rate = attempts / base["seconds"]
    return Result(
        name="booking_race",
        value=round(rate, 1),
        unit="attempts/s",
        baseline="the same attempts for a service needing no resource (nothing reserved)",
        baseline_value=round(base_rate, 1),
        ratio=round(rate / base_rate, 3),
        target="double_bookings = 0 (independent SQL check); won = slots",
        params={
            "attempts": attempts,
            "slots": slots,
            "workers": workers,
            "double_bookings": doubles,
            "won": raced["won"],
            "refused_409": raced["refused"],
            "errors": raced["errors"],
            "bookings_stored": int(per_slot),
            "bookings_per_s": round(raced["won"] / raced["seconds"], 1),
        },
    )
