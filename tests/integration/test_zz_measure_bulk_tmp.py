from __future__ import annotations
import os, time, uuid
import psycopg
from tenantry.audit.bulk import bulk_batch
from tenantry.audit.verify import verify_trail
from tenantry.composition import open_database
from tenantry.db.migrate import upgrade
from tenantry.ids import uuid7
from tests.conftest import create_database, drop_database, make_tenant

N = 100_000

def copy(conn, tenant, loc, ids):
    with conn.cursor().copy("COPY crm.leads (tenant_id, id, location_id, source, score) FROM STDIN") as cp:
        for i, lead in enumerate(ids):
            cp.write_row((tenant, lead, loc, "web_quote", i % 100))

def test_measure(server, settings):
    name = f"tenantry_audit_bench_{os.getpid()}"
    target = create_database(server, name)
    upgrade(target)
    db = open_database(settings, target=target)
    try:
        res = {}
        for mode in ("per-row", "batch", "per-row", "batch"):
            t = make_tenant(db)
            ids = [uuid7() for _ in range(N)]
            with psycopg.connect(target.libpq(target.owner_url)) as conn:
                start = time.perf_counter()
                if mode == "batch":
                    with bulk_batch(conn, t.id, "bench:leads"):
                        copy(conn, t.id, t.locations[0], ids)
                else:
                    copy(conn, t.id, t.locations[0], ids)
                conn.commit()
                res.setdefault(mode, []).append(N / (time.perf_counter() - start))
            with psycopg.connect(target.libpq(target.owner_url)) as conn:
                start = time.perf_counter()
                rep = verify_trail(conn, settings, tenant=t.id)
                assert rep.intact
                res.setdefault("verify " + mode, []).append(N / (time.perf_counter() - start))
        with psycopg.connect(target.libpq(target.owner_url)) as conn:
            conn.execute("ALTER TABLE crm.leads DISABLE TRIGGER audit_trail_insert")
            t = make_tenant(db)
            ids = [uuid7() for _ in range(N)]
            start = time.perf_counter()
            copy(conn, t.id, t.locations[0], ids)
            conn.execute("ALTER TABLE crm.leads ENABLE TRIGGER audit_trail_insert")
            conn.commit()
            res["no audit"] = [N / (time.perf_counter() - start)]
        for k, v in res.items():
            print(f"RESULT {k}: " + ", ".join(f"{x:,.0f} rows/s" for x in v))
    finally:
        db.dispose()
        drop_database(server, name)
