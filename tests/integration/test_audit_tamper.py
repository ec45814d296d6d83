"""Tampering with the trail directly in the database, as a superuser that switches the guard
off, is detected by verify with the right reason; rewriting a whole chain consistently is
caught only by the checkpoint kept outside the database.

This module uses its own database: the chains it breaks must not disturb other tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy import text

from tenantry.audit.chain import SELECT_FIELDS, entry_hash
from tenantry.audit.checkpoints import create_checkpoint
from tenantry.audit.verify import Report, verify_trail
from tenantry.composition import open_database
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.migrate import upgrade
from tenantry.db.provider import DatabaseTarget
from tenantry.ids import uuid7
from tests.conftest import TenantFixture, create_database, drop_database, make_tenant


@dataclass
class Trail:
    db: Database
    target: DatabaseTarget
    settings: Settings

    def owner(self) -> psycopg.Connection:
        return psycopg.connect(self.target.libpq(self.target.owner_url))

    def superuser(self) -> psycopg.Connection:
        url = self.target.admin_url.set(database=self.target.owner_url.database)
        conn = psycopg.connect(self.target.libpq(url), autocommit=True)
        conn.execute("SET session_replication_role = replica")  # guard triggers off
        return conn

    def verify(self, tenant: uuid.UUID | None) -> Report:
        with self.owner() as conn:
            return verify_trail(conn, self.settings, tenant=tenant)

    def checkpoint(self) -> None:
        from datetime import UTC, datetime

        with self.owner() as conn:
            create_checkpoint(conn, self.settings, now=datetime.now(UTC), checkpoint_id=uuid7())
            conn.commit()


@pytest.fixture(scope="module")
def trail(server: DatabaseTarget, settings: Settings) -> Iterator[Trail]:
    name = f"tenantry_audit_tamper_{os.getpid()}"
    target = create_database(server, name)
    upgrade(target)
    db = open_database(settings, target=target)
    yield Trail(db, target, settings)
    db.dispose()
    drop_database(server, name)


def chain_of_eight(trail: Trail) -> TenantFixture:
    """A tenant with eight entries: its two keys and two locations inserted, four renames."""
    tenant = make_tenant(trail.db)
    for i in range(4):
        with trail.db.tenant_uow(tenant.id, actor="user:test") as uow:
            uow.session.execute(
                text("UPDATE identity.locations SET name = :n WHERE tenant_id = :t AND id = :l"),
                {"n": f"Renamed {i}", "t": tenant.id, "l": tenant.locations[0]},
            )
            uow.commit()
    return tenant


def first_break(report: Report) -> tuple[str, int | None]:
    assert not report.intact
    return report.breaks[0].reason, report.breaks[0].seq


EDITS = {
    "new_values": 'new_values = \'{"name": "Forged"}\'',
    "old_values": "old_values = '{}'",
    "actor": "actor = 'user:someone-else'",
    "recorded_at": "recorded_at = recorded_at + interval '1 second'",
    "txid": "txid = txid + 1",
    "table_name": "table_name = 'crm.leads'",
    "row_id": "row_id = gen_random_uuid()::text",
    "op": "op = 'D'",
    "changed_columns": "changed_columns = '{name,slug}'",
    "redacted_columns": "redacted_columns = '{name}'",
    "subject_id": "subject_id = gen_random_uuid()",
    "encrypted_values": "encrypted_values = '\\x00'",
    "hash": "hash = sha256(hash)",
    "prev_hash": "prev_hash = sha256(prev_hash)",
}


def test_an_untouched_chain_verifies(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    trail.checkpoint()
    report = trail.verify(tenant.id)
    assert report.intact and report.entries == 8 and report.chains == 1


@pytest.mark.parametrize("column", sorted(EDITS))
def test_editing_any_column_of_an_entry_is_detected(trail: Trail, column: str) -> None:
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:
        changed = su.execute(
            f"UPDATE audit.log SET {EDITS[column]} WHERE tenant_id = %s AND seq = 3",
            (tenant.id,),
        ).rowcount
    assert changed == 1
    assert first_break(trail.verify(tenant.id)) == ("edited", 3)


def test_the_guard_rejects_edits_even_for_the_owner(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    with trail.owner() as conn:
        for statement in ("UPDATE audit.log SET actor = 'x'", "DELETE FROM audit.log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement + " WHERE tenant_id = %s", (tenant.id,))
            conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE audit.log")
        conn.rollback()
    assert trail.verify(tenant.id).intact


def test_deleting_an_entry_is_detected(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:
        su.execute("DELETE FROM audit.log WHERE tenant_id = %s AND seq = 4", (tenant.id,))
    assert first_break(trail.verify(tenant.id)) == ("deleted", 4)


def test_reordering_entries_is_detected(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:
        su.execute(
            "UPDATE audit.log SET seq = CASE seq WHEN 3 THEN 4 ELSE 3 END"
            " WHERE tenant_id = %s AND seq IN (3, 4)",
            (tenant.id,),
        )
    assert first_break(trail.verify(tenant.id)) == ("reordered", 3)


def test_inserting_a_forged_entry_with_a_taken_number_is_detected(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:
        su.execute(
            "INSERT INTO audit.log SELECT tenant_id, seq, recorded_at + interval '1 microsecond',"
            " txid, table_name, row_id,"
            " op, 'user:forger', changed_columns, redacted_columns, old_values, new_values,"
            " subject_id, encrypted_values, prev_hash, sha256(hash)"
            " FROM audit.log WHERE tenant_id = %s AND seq = 3",
            (tenant.id,),
        )
    assert first_break(trail.verify(tenant.id)) == ("inserted", 3)


def test_inserting_a_well_formed_entry_and_renumbering_is_detected(trail: Trail) -> None:
    """The forger makes the inserted entry hash correctly; its successor betrays it."""
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:
        su.execute(
            "UPDATE audit.log SET seq = seq + 1 WHERE tenant_id = %s AND seq >= 3", (tenant.id,)
        )
        su.execute(
            "INSERT INTO audit.log SELECT tenant_id, 3, recorded_at, txid, table_name, row_id,"
            " op, 'user:forger', changed_columns, redacted_columns, old_values, new_values,"
            " subject_id, encrypted_values, hash, hash"
            " FROM audit.log WHERE tenant_id = %s AND seq = 2",
            (tenant.id,),
        )
        fields = su.execute(
            f"SELECT {', '.join(SELECT_FIELDS)} FROM audit.log WHERE tenant_id = %s AND seq = 3",
            (tenant.id,),
        ).fetchone()
        su.execute(
            "UPDATE audit.log SET hash = decode(%s, 'hex') WHERE tenant_id = %s AND seq = 3",
            (entry_hash(fields), tenant.id),
        )
    assert first_break(trail.verify(tenant.id)) == ("inserted", 3)


def test_truncating_the_tail_is_detected_by_the_chain_head(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    with trail.superuser() as su:
        su.execute("DELETE FROM audit.log WHERE tenant_id = %s AND seq >= 5", (tenant.id,))
    assert first_break(trail.verify(tenant.id)) == ("truncated tail", 5)


def test_truncating_the_tail_and_the_head_is_detected_by_the_checkpoint(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    trail.checkpoint()
    with trail.superuser() as su:
        su.execute("DELETE FROM audit.log WHERE tenant_id = %s AND seq >= 5", (tenant.id,))
        su.execute(
            "UPDATE audit.chain_heads h SET seq = 4, head_hash = l.hash FROM audit.log l"
            " WHERE h.tenant_id = %s AND l.tenant_id = h.tenant_id AND l.seq = 4",
            (tenant.id,),
        )
    reason, seq = first_break(trail.verify(tenant.id))
    assert (reason, seq) == ("truncated tail", 5)
    assert "checkpoint" in trail.verify(tenant.id).breaks[0].detail


def _rewrite_whole_chain(trail: Trail, tenant: uuid.UUID) -> None:
    """What an attacker with full database access does: change history, rehash everything."""
    with trail.superuser() as su:
        su.execute(
            "UPDATE audit.log SET actor = 'user:nobody' WHERE tenant_id = %s AND seq = 2",
            (tenant,),
        )
        prev = None
        for (seq,) in su.execute(
            "SELECT seq FROM audit.log WHERE tenant_id = %s ORDER BY seq", (tenant,)
        ).fetchall():
            if prev is not None:
                su.execute(
                    "UPDATE audit.log SET prev_hash = decode(%s, 'hex')"
                    " WHERE tenant_id = %s AND seq = %s",
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


def test_rewriting_a_whole_chain_consistently_is_caught_only_by_the_checkpoint(
    trail: Trail,
) -> None:
    unanchored = chain_of_eight(trail)
    _rewrite_whole_chain(trail, unanchored.id)
    # Never checkpointed: a consistent rewrite is indistinguishable from the truth.
    assert trail.verify(unanchored.id).intact

    anchored = chain_of_eight(trail)
    trail.checkpoint()
    _rewrite_whole_chain(trail, anchored.id)
    assert first_break(trail.verify(anchored.id)) == ("checkpoint mismatch", 8)


def test_entries_appended_after_the_checkpoint_verify(trail: Trail) -> None:
    """The checkpoint pins the entries it signed; later ones extend the chain normally."""
    tenant = chain_of_eight(trail)
    trail.checkpoint()
    with trail.db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            text("UPDATE identity.locations SET name = 'After' WHERE tenant_id = :t"),
            {"t": tenant.id},
        )
        uow.commit()
    report = trail.verify(tenant.id)
    assert report.intact and report.entries == 10


def test_a_deleted_database_copy_of_the_checkpoint_is_detected(trail: Trail) -> None:
    tenant = chain_of_eight(trail)
    trail.checkpoint()
    with trail.superuser() as su:
        su.execute(
            "DELETE FROM audit.checkpoints WHERE id ="
            " (SELECT id FROM audit.checkpoints ORDER BY created_at DESC LIMIT 1)"
        )
    reason, seq = first_break(trail.verify(tenant.id))
    assert (reason, seq) == ("checkpoint mismatch", None)
    trail.checkpoint()  # later tests compare against a fresh, intact checkpoint
    assert trail.verify(tenant.id).intact
