"""The hot-prospects and TÜV lists are served by their partial indexes on a filled table.

One tenant gets tens of thousands of leads and thousands of vehicles (scores, statuses and due
dates spread out), the tables are analysed, and the statements the application runs are
explained as `tenantry_app` under row level security: first page, next page (keyset) and
location scope. The hot-prospects statement is also explained as a generic plan (what a
prepared statement ends up with), which is why its WHERE clause repeats the index predicate
with the literal 70.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.models.enums import Vertical
from tenantry.repositories.dashboard import (
    HOT_PROSPECTS_AFTER,
    HOT_PROSPECTS_ORDER,
    HOT_PROSPECTS_SCOPED,
    HOT_PROSPECTS_SQL,
    TUV_DUE_AFTER,
    TUV_DUE_ORDER,
    TUV_DUE_SCOPED,
    TUV_DUE_SQL,
)
from tests.conftest import TenantFixture, make_tenant

LEADS, CUSTOMERS, VEHICLES = 30_000, 2_000, 6_000
STATUSES = "(ARRAY['new', 'contacted', 'qualified', 'lost'])"


@pytest.fixture(scope="module")
def filled(db: Database) -> TenantFixture:
    t = make_tenant(db, vertical=Vertical.WORKSHOP, locations=2)
    with db.owner_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO crm.leads (tenant_id, id, location_id, source, status, score,"
                " lost_reason, customer_id, created_at, updated_at)"
                f" SELECT :t, gen_random_uuid(), (:locs)[1 + i % 2], 'web_quote',"
                f" {STATUSES}[1 + i % 4], (i * 37) % 101,"
                " CASE WHEN i % 4 = 3 THEN 'gone' END, NULL,"
                " now() - i * interval '7 minutes', now()"
                " FROM generate_series(1, :n) AS i"
            ).bindparams(sa.bindparam("locs", type_=sa.ARRAY(sa.Uuid()))),
            {"t": t.id, "locs": t.locations, "n": LEADS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO crm.customers (tenant_id, id, home_location_id)"
                " SELECT :t, gen_random_uuid(), (:locs)[1 + i % 2]"
                " FROM generate_series(1, :n) AS i"
            ).bindparams(sa.bindparam("locs", type_=sa.ARRAY(sa.Uuid()))),
            {"t": t.id, "locs": t.locations, "n": CUSTOMERS},
        )
        conn.execute(
            sa.text(
                "INSERT INTO crm.vehicles (tenant_id, id, customer_id, make, model, tuv_due_on,"
                " is_active)"
                " SELECT :t, gen_random_uuid(), c.id, 'VW', 'Golf',"
                " current_date + (g.i * 13) % 900 - 200, g.i % 10 <> 0"
                " FROM (SELECT id, row_number() OVER () AS n FROM crm.customers"
                "       WHERE tenant_id = :t) c"
                " JOIN generate_series(1, :n) AS g(i) ON c.n = 1 + g.i % :customers"
            ),
            {"t": t.id, "n": VEHICLES, "customers": CUSTOMERS},
        )
        conn.execute(sa.text("ANALYZE crm.leads"))
        conn.execute(sa.text("ANALYZE crm.customers"))
        conn.execute(sa.text("ANALYZE crm.vehicles"))
    return t


def _plan(db: Database, t: TenantFixture, sql: str, params: dict[str, object]) -> str:
    with db.tenant_uow(t.id) as uow:
        stmt = sa.text("EXPLAIN " + sql)
        if "location_ids" in params:
            stmt = stmt.bindparams(sa.bindparam("location_ids", type_=sa.ARRAY(sa.Uuid())))
        return "\n".join(r[0] for r in uow.session.execute(stmt, params))


def test_hot_prospects_use_the_partial_index(db: Database, filled: TenantFixture) -> None:
    base = {"tenant_id": filled.id, "min_score": 70}
    order = HOT_PROSPECTS_ORDER.format(limit=51)
    after = {
        "after_score": 85,
        "after_created_at": datetime.now(UTC) - timedelta(days=3),
        "after_id": filled.id,
    }
    scope = {"location_ids": [filled.locations[1]]}
    for sql, params in (
        (HOT_PROSPECTS_SQL + order, base),
        (HOT_PROSPECTS_SQL + HOT_PROSPECTS_AFTER + order, base | after),
        (HOT_PROSPECTS_SQL + HOT_PROSPECTS_SCOPED + order, base | scope),
    ):
        plan = _plan(db, filled, sql, params)
        assert "ix_leads_tenant_hot_prospects" in plan, plan
        assert "Seq Scan" not in plan, plan
    # The next page starts inside the index, not at its top: the keyset is an index condition.
    plan = _plan(db, filled, HOT_PROSPECTS_SQL + HOT_PROSPECTS_AFTER + order, base | after)
    assert "ROW(score, created_at) <=" in plan.split("Index Cond:")[1].splitlines()[0], plan


def test_hot_prospects_use_the_partial_index_in_a_generic_plan(
    db: Database, filled: TenantFixture
) -> None:
    sql = (
        (HOT_PROSPECTS_SQL + HOT_PROSPECTS_ORDER.format(limit=51))
        .replace(":tenant_id", "$1")
        .replace(":min_score", "$2")
    )
    with db.tenant_uow(filled.id) as uow:
        s = uow.session
        s.execute(sa.text("SET LOCAL plan_cache_mode = force_generic_plan"))
        s.execute(sa.text(f"PREPARE hot_generic(uuid, int) AS {sql}"))
        rows = s.execute(sa.text(f"EXPLAIN EXECUTE hot_generic('{filled.id}', 80)"))
        plan = "\n".join(r[0] for r in rows)
        s.execute(sa.text("DEALLOCATE hot_generic"))
    assert "ix_leads_tenant_hot_prospects" in plan, plan


def test_tuv_due_uses_the_partial_index(db: Database, filled: TenantFixture) -> None:
    base = {"tenant_id": filled.id, "until": date.today() + timedelta(days=30)}
    order = TUV_DUE_ORDER.format(limit=51)
    after = {"after_due_on": date.today() - timedelta(days=20), "after_id": filled.id}
    scope = {"location_ids": [filled.locations[0]]}
    for sql, params in (
        (TUV_DUE_SQL + order, base),
        (TUV_DUE_SQL + TUV_DUE_AFTER + order, base | after),
        (TUV_DUE_SQL + TUV_DUE_SCOPED + order, base | scope),
    ):
        plan = _plan(db, filled, sql, params)
        assert "ix_vehicles_tenant_tuv_due" in plan, plan
