"""How verify reads the trail: PostgreSQL renders the canonical text, Python hashes it, chains
are checked in parallel connections sharing one snapshot, entries may arrive in any physical
order, and neither a digest nor a function the database supplies is trusted.

This module uses its own database: the chains it breaks must not disturb other tests.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import pytest

from tenantry.audit import scan
from tenantry.audit.chain import BODY_FROM, BODY_SQL, SELECT_FIELDS, canonical, entry_hash
from tenantry.audit.verify import verify_trail
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.migrate import upgrade
from tenantry.db.provider import DatabaseTarget
from tests.conftest import create_database, drop_database
from tests.integration.test_audit_tamper import Trail, chain_of_eight, first_break


@pytest.fixture(scope="module")
def trail(server: DatabaseTarget, settings: Settings) -> Iterator[Trail]:
    name = f"tenantry_audit_verify_{os.getpid()}"
    target = create_database(server, name)
    upgrade(target)
    db = open_database(settings, target=target)
    yield Trail(db, target, settings)
    db.dispose()
    drop_database(server, name)


def rehash(trail: Trail, tenant: uuid.UUID) -> None:
    """Recompute every hash and link of a chain from its stored fields, as the trigger would."""
    with trail.superuser() as su:
        prev = "00" * 32
        seqs = su.execute(
            "SELECT seq FROM audit.log WHERE tenant_id = %s ORDER BY seq", (tenant,)
        ).fetchall()
        for (seq,) in seqs:
            su.execute(
                "UPDATE audit.log SET prev_hash = decode(%s, 'hex') WHERE tenant_id = %s"
                " AND seq = %s",
                (prev, tenant, seq),
            )
            fields = su.execute(
                f"SELECT {', '.join(SELECT_FIELDS)} FROM audit.log"
                " WHERE tenant_id = %s AND seq = %s",
                (tenant, seq),
            ).fetchone()
            prev = entry_hash(fields)
            su.execute(
                "UPDATE audit.log SET hash = decode(%s, 'hex') WHERE tenant_id = %s AND seq = %s",
                (prev, tenant, seq),
            )
        su.execute(
            "UPDATE audit.chain_heads SET head_hash = decode(%s, 'hex') WHERE tenant_id = %s",
            (prev, tenant),
        )


def test_postgresql_renders_exactly_the_canonical_text(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:  # a non-ASCII value and a NULL where a value usually is
        su.execute(
            'UPDATE audit.log SET new_values = \'{"name": "Škoda Straße"}\', old_values = NULL,'
            " subject_id = gen_random_uuid(), encrypted_values = '\\x0102'"
            " WHERE tenant_id = %s AND seq = 4",
            (tenant.id,),
        )
    with trail.owner() as conn:
        rows = conn.execute(
            f"SELECT {BODY_SQL}, {', '.join(SELECT_FIELDS)} FROM {BODY_FROM}"
            " WHERE l.tenant_id = %s ORDER BY l.seq",
            (tenant.id,),
        ).fetchall()
    assert len(rows) == 8
    for body, *fields in rows:
        assert (body + f"64:{fields[-1]}\n").encode() == canonical(fields)
    rehash(trail, tenant.id)  # such an entry, hashed as the trigger would, verifies
    assert trail.verify(tenant.id).intact


def test_parallel_connections_find_the_same_as_one(trail: Trail) -> None:
    tenants = [chain_of_eight(trail) for _ in range(5)]
    trail.checkpoint()
    with trail.owner() as conn:
        single = verify_trail(conn, trail.settings, jobs=1)
        parallel = verify_trail(conn, trail.settings, jobs=3)
        stored = conn.execute("SELECT count(*) FROM audit.log").fetchone()
    assert single.intact and parallel.intact
    assert parallel.entries == single.entries == (stored[0] if stored else -1)
    assert parallel.chains == single.chains >= 5

    broken = sorted(t.id for t in tenants)[-1]  # the last range of the split
    with trail.superuser() as su:
        su.execute("DELETE FROM audit.log WHERE tenant_id = %s AND seq = 4", (broken,))
    with trail.owner() as conn:
        single = verify_trail(conn, trail.settings, jobs=1)
        parallel = verify_trail(conn, trail.settings, jobs=3)
    assert parallel.breaks == single.breaks
    assert [(b.tenant_id, b.seq, b.reason) for b in parallel.breaks] == [(broken, 4, "deleted")]


def test_entries_stored_out_of_order_verify(trail: Trail, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:  # a new row version: entry 2 now lies after entry 6
        su.execute("UPDATE audit.log SET seq = seq WHERE tenant_id = %s AND seq = 2", (tenant.id,))
        physical = [
            r[0]
            for r in su.execute(
                "SELECT seq FROM audit.log WHERE tenant_id = %s ORDER BY ctid", (tenant.id,)
            )
        ]
    assert physical != sorted(physical)
    assert trail.verify(tenant.id).intact

    monkeypatch.setattr(scan, "_MAX_WAITING", 0)  # nothing may wait: the ordered walk decides
    assert trail.verify(tenant.id).intact
    with trail.superuser() as su:
        su.execute("DELETE FROM audit.log WHERE tenant_id = %s AND seq = 5", (tenant.id,))
    assert first_break(trail.verify(tenant.id)) == ("deleted", 5)


def test_encrypted_values_are_digested_here_not_by_the_database(trail: Trail) -> None:
    tenant, untouched = chain_of_eight(trail), chain_of_eight(trail)
    original, forged = b"\x01sealed-for-the-subject", b"\x01forged"
    with trail.superuser() as su:  # as the privacy kernel may store values one day
        su.execute(
            "UPDATE audit.log SET subject_id = gen_random_uuid(), encrypted_values = %s"
            " WHERE tenant_id = %s AND seq = 2",
            (original, tenant.id),
        )
    rehash(trail, tenant.id)
    assert trail.verify(tenant.id).intact

    # A superuser swaps the ciphertext and makes sha256() answer with the old digest (and
    # length() with nonsense) in every session of the owner role.
    database = trail.target.owner_url.database
    with trail.superuser() as su:
        su.execute(
            "UPDATE audit.log SET encrypted_values = %s WHERE tenant_id = %s AND seq = 2",
            (forged, tenant.id),
        )
        su.execute("CREATE SCHEMA evil")
        su.execute(
            "CREATE FUNCTION evil.sha256(bytea) RETURNS bytea LANGUAGE sql AS $$"
            f" SELECT CASE WHEN $1 = '\\x{forged.hex()}'::bytea"
            f" THEN pg_catalog.sha256('\\x{original.hex()}'::bytea)"
            " ELSE pg_catalog.sha256($1) END $$"
        )
        su.execute(
            "CREATE FUNCTION evil.length(text) RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$"
        )
        su.execute("GRANT USAGE ON SCHEMA evil TO PUBLIC")
        su.execute(
            f'ALTER ROLE tenantry_owner IN DATABASE "{database}" SET search_path = evil, pg_catalog'
        )
    try:
        with trail.owner() as conn:
            fooled = conn.execute(
                "SELECT sha256(encrypted_values) FROM audit.log WHERE tenant_id = %s AND seq = 2",
                (tenant.id,),
            ).fetchone()
        assert fooled is not None and bytes(fooled[0]) == hashlib.sha256(original).digest()
        assert first_break(trail.verify(tenant.id)) == ("edited", 2)
        assert trail.verify(untouched.id).intact  # look-alike functions change no verdict
    finally:
        with trail.superuser() as su:
            su.execute(f'ALTER ROLE tenantry_owner IN DATABASE "{database}" RESET search_path')
            su.execute("DROP SCHEMA evil CASCADE")


def test_a_chain_without_head_and_a_head_without_chain_are_found_in_parallel(
    trail: Trail,
) -> None:
    headless, emptied = chain_of_eight(trail), chain_of_eight(trail)
    with trail.superuser() as su:
        su.execute("DELETE FROM audit.chain_heads WHERE tenant_id = %s", (headless.id,))
        su.execute("DELETE FROM audit.log WHERE tenant_id = %s", (emptied.id,))
    with trail.owner() as conn:
        single = verify_trail(conn, trail.settings, jobs=1)
        parallel = verify_trail(conn, trail.settings, jobs=4)
    assert parallel.breaks == single.breaks
    found = {b.tenant_id: (b.reason, b.seq) for b in parallel.breaks}
    assert found[headless.id] == ("inserted", 1)
    assert found[emptied.id] == ("truncated tail", 1)
