"""dashboard_p95: the lead dashboard of one tenant at large scale, through `tenantry_app` with
RLS, vs. the same SQL as the owner without RLS.

Both run the identical transaction the unit of work runs: BEGIN; set_config(tenant); the
dashboard query; COMMIT. For the owner the binding is inert (it bypasses RLS), so the ratio
isolates what row level security costs. The two are interleaved so machine noise hits both
alike. The p95 of the dashboard statement alone and of the full service path (unit of work,
ORM session, tenant timezone lookup) are reported in `params`."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, create_engine, text

from bench.common import BENCH_MASTER, Result, database, knob, median, percentile
from tenantry.composition import open_database
from tenantry.db.provider import DatabaseTarget
from tenantry.repositories.dashboard import LEAD_DASHBOARD_SQL
from tenantry.seed.loader import derive_tenants, load

SEED = 7
BIND = text("SELECT set_config('tenantry.tenant_id', :t, true)")


def _dataset(server: DatabaseTarget, tenants: int) -> tuple[DatabaseTarget, dict[str, object]]:
    target = database(server, f"bench_large_{tenants}", fresh=False)
    stats = load(
        target.libpq(target.owner_url),
        derive_tenants(tenants, SEED),
        master=BENCH_MASTER,
        scale="large",
        seed=SEED,
        workers=1,
    )
    info: dict[str, object] = {"tenants": tenants}
    if stats.tenants:
        info |= {
            "load_rows": stats.total_rows,
            "load_seconds": round(stats.seconds, 1),
            "load_rows_per_s": round(stats.rows_per_second),
        }
    return target, info


def run(server: DatabaseTarget) -> Result:
    tenants = knob("BENCH_TENANTS", 10_000, 3)
    iterations = knob("BENCH_ITERATIONS", 2000, 40)
    target, info = _dataset(server, tenants)
    owner = create_engine(target.owner_url, pool_size=1)
    app = create_engine(target.app_url, pool_size=1)
    with owner.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM crm.leads) AS leads,"
                " (SELECT count(*) FROM crm.customers) + (SELECT count(*) FROM commerce.bookings)"
                " + (SELECT count(*) FROM commerce.payments) + (SELECT count(*) FROM crm.vehicles)"
                " + (SELECT count(*) FROM commerce.booking_items) AS other_rows"
            )
        ).one()
        tenant_id, tenant_leads = conn.execute(
            text(
                "SELECT tenant_id, count(*) FROM crm.leads"
                " GROUP BY tenant_id ORDER BY 2 DESC LIMIT 1"
            )
        ).one()
    since = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    params = {"tenant_id": tenant_id, "since": since}
    query = text(LEAD_DASHBOARD_SQL)

    statement: dict[str, list[float]] = {"app": [], "owner": []}

    def transaction(engine: Engine, who: str) -> float:
        with engine.connect() as conn:
            started = time.perf_counter()
            with conn.begin():
                conn.execute(BIND, {"t": str(tenant_id)})
                query_started = time.perf_counter()
                conn.execute(query, params).one()
                statement[who].append(time.perf_counter() - query_started)
            return time.perf_counter() - started

    def with_rls() -> float:
        return transaction(app, "app")

    def without_rls() -> float:
        return transaction(owner, "owner")

    with app.connect() as conn, conn.begin():
        conn.execute(BIND, {"t": str(tenant_id)})
        plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + LEAD_DASHBOARD_SQL), params))
        rls_result = conn.execute(query, params).one()
    with owner.connect() as conn:
        assert conn.execute(query, params).one() == rls_result, "RLS must not change the answer"

    for _ in range(min(200, iterations)):
        with_rls(), without_rls()
    statement["app"].clear()
    statement["owner"].clear()
    rls, base = [], []
    for i in range(iterations):
        if i % 2:
            rls.append(with_rls())
            base.append(without_rls())
        else:
            base.append(without_rls())
            rls.append(with_rls())

    db = open_database(target=target, master=BENCH_MASTER)
    full = []
    from tenantry.models.enums import MembershipRole
    from tenantry.services.dashboard import lead_dashboard
    from tenantry.services.principal import Principal

    principal = Principal(tenant_id=uuid.UUID(str(tenant_id)), role=MembershipRole.OWNER)
    for _ in range(min(iterations, 1000)):
        started = time.perf_counter()
        with db.tenant_uow(principal.tenant_id) as uow:
            lead_dashboard(uow, principal)
        full.append(time.perf_counter() - started)
    db.dispose()
    owner.dispose()
    app.dispose()

    p95, p95_base = percentile(rls, 0.95) * 1000, percentile(base, 0.95) * 1000
    return Result(
        name="dashboard_p95",
        value=round(p95, 3),
        unit="ms",
        baseline="same transaction and SQL as tenantry_owner, which bypasses RLS",
        baseline_value=round(p95_base, 3),
        ratio=round(p95 / p95_base, 3),
        target="p95 <= 5 ms and ratio <= 1.2",
        params=info
        | {
            "iterations": iterations,
            "total_leads": counts.leads,
            "other_rows": counts.other_rows,
            "tenant_leads": tenant_leads,
            "median_ms": round(median(rls) * 1000, 3),
            "median_baseline_ms": round(median(base) * 1000, 3),
            "statement_p95_ms": round(percentile(statement["app"], 0.95) * 1000, 3),
            "statement_p95_baseline_ms": round(percentile(statement["owner"], 0.95) * 1000, 3),
            "service_path_p95_ms": round(percentile(full, 0.95) * 1000, 3),
            "index_only_scan": "Index Only Scan" in plan,
            "today_starts": since.isoformat(),
        },
    )
