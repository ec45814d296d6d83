"""`migrate load` with each built-in mapping on its fixture: every source row accounted for
exactly once, verify equal, the audit trail intact (and still catching an unaudited edit),
and the matbakh consolidation of partners and profiles into one location with lineage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.migrate.load import load
from tenantry.migrate.mapping import load_mapping
from tenantry.migrate.verify import verify
from tests.integration.migrate.conftest import (
    SCALES,
    Loaded,
    accounted,
    audit_intact,
    duplicate_keys,
    one,
    outcomes,
    owner,
    run_tenants,
    superuser,
)


@pytest.fixture(params=sorted(SCALES))
def loaded(request: pytest.FixtureRequest, builtin_runs: Callable[[str], Loaded]) -> Loaded:
    return builtin_runs(request.param)


def test_every_source_row_is_accounted_for_exactly_once(mdb: Database, loaded: Loaded) -> None:
    per_entity = accounted(mdb, loaded.url, loaded.mapping, loaded.run)
    assert per_entity, "no entity of the mapping found its source table"
    wrong = {name: pair for name, pair in per_entity.items() if pair[0] != pair[1]}
    assert wrong == {}, "entity: (source rows, id-map rows)"
    assert duplicate_keys(mdb, loaded.run) == 0
    # Something loaded for every entity with rows, and the report agrees with the id map.
    got = outcomes(mdb, loaded.run)
    for name, (rows, _) in per_entity.items():
        if rows:
            assert sum(got[name].get(k, 0) for k in ("loaded", "merged")) > 0, name
    report = {e: {k: v for k, v in c.items() if v} for e, c in loaded.report.counts.items()}
    assert report == got


def test_each_loaded_row_has_its_own_canonical_row(mdb: Database, loaded: Loaded) -> None:
    """No two source rows were loaded onto one canonical row; every loaded id exists."""
    with owner(mdb) as conn:
        targets = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT canonical_table FROM migrate.id_map"
                " WHERE run = %s AND outcome = 'loaded'",
                (loaded.run,),
            )
        ]
        assert targets
        for table in targets:
            ids, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT canonical_id) FROM migrate.id_map"
                " WHERE run = %s AND outcome = 'loaded' AND canonical_table = %s",
                (loaded.run, table),
            ).fetchone()  # type: ignore[misc]
            assert ids == distinct, table
            present = one(
                conn,
                f"SELECT count(*) FROM {table} c WHERE c.id IN (SELECT canonical_id"
                " FROM migrate.id_map WHERE run = %s AND outcome = 'loaded'"
                " AND canonical_table = %s)",
                loaded.run,
                table,
            )
            assert present == ids, table
            # merged rows point at a canonical row of a loaded source row
            orphans = one(
                conn,
                "SELECT count(*) FROM migrate.id_map m WHERE run = %s AND outcome = 'merged'"
                " AND canonical_table = %s AND NOT EXISTS (SELECT 1 FROM migrate.id_map l"
                " WHERE l.run = m.run AND l.outcome = 'loaded'"
                " AND l.canonical_id = m.canonical_id)",
                loaded.run,
                table,
            )
            assert orphans == 0, table


def test_verify_after_the_load_is_equal(mdb: Database, loaded: Loaded) -> None:
    report = verify(mdb, loaded.url, loaded.mapping, run=loaded.run, fernet_keys=loaded.keys)
    assert report.differences == []
    assert report.equal and report.differences_total == 0
    assert report.rows > 0
    assert report.counts and all(c["differing"] == 0 for c in report.counts.values())


def test_the_audit_trail_of_the_loaded_tenants_verifies(
    mdb: Database, settings: Settings, loaded: Loaded
) -> None:
    tenants = run_tenants(mdb, loaded.run)
    assert tenants
    with owner(mdb) as conn:
        batches = one(
            conn,
            "SELECT count(*) FROM audit.log WHERE tenant_id = ANY(%s)",
            tenants,
        )
        assert batches > 0  # the load wrote audit entries for its tenants
    for tenant in tenants:
        intact, why = audit_intact(mdb, settings, tenant)
        assert intact, (loaded.fixture, why)


def test_an_unaudited_edit_of_a_loaded_row_is_detected(
    mdb: Database, settings: Settings, sources: Callable[..., str]
) -> None:
    url = sources("carbot", "load_tamper", 0.002)
    mapping = load_mapping("carbot")
    load(mdb, url, mapping, run="load_tamper", cdc=False)
    with owner(mdb) as conn:
        cid, tenant = conn.execute(
            "SELECT canonical_id, canonical_tenant FROM migrate.id_map WHERE run = %s"
            " AND entity = 'catalogue_services' AND outcome = 'loaded' LIMIT 1",
            ("load_tamper",),
        ).fetchone()  # type: ignore[misc]
    assert audit_intact(mdb, settings, tenant)[0]
    with superuser(mdb) as su:
        changed = su.execute(
            "UPDATE commerce.services SET name = name || ' (edited)'"
            " WHERE tenant_id = %s AND id = %s",
            (tenant, cid),
        ).rowcount
        assert changed == 1
    intact, why = audit_intact(mdb, settings, tenant)
    assert not intact
    assert str(cid) in why or "commerce.services" in why, why


# -- consolidation (matbakh: business_partners + business_profiles) -----------------------------


@pytest.mark.parametrize("loaded", ["matbakh"], indirect=True)
def test_partner_and_profile_of_a_restaurant_become_one_location(
    mdb: Database, loaded: Loaded
) -> None:
    with owner(mdb) as conn:
        pairs = conn.execute(
            "SELECT l.canonical_id, l.source_key, m.source_key FROM migrate.id_map m"
            " JOIN migrate.id_map l ON l.run = m.run AND l.canonical_id = m.canonical_id"
            " AND l.outcome = 'loaded' AND l.entity = 'partners'"
            " WHERE m.run = %s AND m.entity = 'profiles' AND m.outcome = 'merged'",
            (loaded.run,),
        ).fetchall()
        assert pairs, "no profile was merged into its partner's location"
        for cid, partner_key, profile_key in pairs:
            outcomes_of = conn.execute(
                "SELECT entity, outcome FROM migrate.id_map WHERE run = %s AND canonical_id = %s"
                " ORDER BY entity",
                (loaded.run, cid),
            ).fetchall()
            assert outcomes_of == [("partners", "loaded"), ("profiles", "merged")]
            assert one(conn, "SELECT count(*) FROM identity.locations WHERE id = %s", cid) == 1
            # the pair really is one restaurant: the same owner in the source
            with _source(loaded.url) as src:
                owners = src.execute(
                    "SELECT (SELECT user_id::text FROM public.business_partners WHERE id::text = %s),"
                    " (SELECT user_id::text FROM public.business_profiles WHERE user_id::text = %s)",
                    (partner_key, profile_key),
                ).fetchone()
            assert owners is not None and owners[0] == owners[1] is not None
        # No restaurant owner ends with two locations from the two tables.
        per_tenant = conn.execute(
            "SELECT canonical_tenant, count(DISTINCT canonical_id) FROM migrate.id_map"
            " WHERE run = %s AND entity IN ('partners', 'profiles')"
            " AND outcome IN ('loaded', 'merged') GROUP BY 1 HAVING count(DISTINCT canonical_id) > 1",
            (loaded.run,),
        ).fetchall()
        assert per_tenant == []


@pytest.mark.parametrize("loaded", ["matbakh"], indirect=True)
def test_lineage_names_the_source_row_of_each_merged_column(mdb: Database, loaded: Loaded) -> None:
    with owner(mdb) as conn:
        merged = conn.execute(
            "SELECT DISTINCT canonical_id FROM migrate.id_map WHERE run = %s"
            " AND entity = 'profiles' AND outcome = 'merged'",
            (loaded.run,),
        ).fetchall()
        assert merged
        for (cid,) in merged:
            members = dict(
                conn.execute(
                    "SELECT entity, source_key FROM migrate.id_map WHERE run = %s"
                    " AND canonical_id = %s",
                    (loaded.run, cid),
                ).fetchall()
            )
            lineage: dict[str, tuple[str, str]] = {
                col: (ent, key)
                for col, ent, key in conn.execute(
                    "SELECT column_name, entity, source_key FROM migrate.lineage"
                    " WHERE run = %s AND canonical_table = 'identity.locations'"
                    " AND canonical_id = %s",
                    (loaded.run, cid),
                )
            }
            assert lineage, "a merged location has no lineage"
            # every supplier is one of the record's own source rows
            assert all(members.get(ent) == key for ent, key in lineage.values()), lineage
            assert "name" in lineage
            # google_place_id exists only in business_profiles: where the location has one,
            # the profile supplied it
            place = one(conn, "SELECT google_place_id FROM identity.locations WHERE id = %s", cid)
            if place is not None:
                assert lineage["google_place_id"] == ("profiles", members["profiles"])
        # at least one merged record took columns from both source tables
        mixed = one(
            conn,
            "SELECT count(*) FROM (SELECT canonical_id FROM migrate.lineage WHERE run = %s"
            " GROUP BY 1 HAVING count(DISTINCT entity) > 1) x",
            loaded.run,
        )
        assert mixed > 0


def _source(url: str) -> Any:
    import psycopg

    return psycopg.connect(url)
