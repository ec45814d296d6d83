"""Tampering with the stored ledger is detected: rewritten claims, confidences and hashes,
re-sealed or forged bytes, rows slipped in without the audit trail, a broken audit chain.

Each tamper runs as the owner (or a superuser) that switches the ledger's guards off, as an
attacker with database access would; untampered data verifies clean. Every tampered row
belongs to a tenant of its own test, and a broken chain is restored before the test ends.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import text

from tenantry.db.engine import Database
from tenantry.errors import NotFoundError
from tenantry.ids import uuid7
from tenantry.insight.integrity import IntegrityReport, verify_ledger
from tenantry.models import Retrieval
from tenantry.privacy.sealing import seal_value
from tests.conftest import TenantFixture, make_tenant
from tests.integration.insight.reports_data import Seeded, seed_check

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def seeded(db: Database) -> tuple[TenantFixture, Seeded]:
    tenant = make_tenant(db)
    return tenant, seed_check(db, tenant.id, tenant.locations[0], NOW)


@contextmanager
def owner(
    db: Database, *triggers: str, table: str = "insight.evidence"
) -> Iterator[psycopg.Connection]:
    """An owner transaction with the named triggers of `table` switched off until it commits."""
    with psycopg.connect(db.target.libpq(db.target.owner_url)) as conn:
        for trigger in triggers:
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        yield conn
        for trigger in triggers:
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def verify(db: Database, tenant: TenantFixture, seeded: Seeded | None) -> IntegrityReport:
    with db.tenant_uow(tenant.id) as uow:
        return verify_ledger(uow, seeded.check_id if seeded else None)


def kinds(report: IntegrityReport) -> set[tuple[str, str, str]]:
    return {(p.kind, p.table, p.row_id) for p in report.problems}


def test_an_untampered_check_verifies_clean_and_counts_what_it_checked(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    report = verify(db, tenant, s)
    assert report.problems == []
    assert report.ok
    assert (report.retrievals, report.evidence, report.statements) == (3, 6, 3)
    assert report.citations == 4
    # Each row has its insert in the trail, plus the chain of the whole tenant.
    assert report.audit_entries >= 3 + 6 + 3 + 4
    whole = verify(db, tenant, None)
    assert whole.ok and whole.evidence == 6


def test_a_rewritten_claim_is_an_audited_change_the_ledger_does_not_allow(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    target = s.evidence[1]
    with owner(db, "ledger_append_only") as conn:
        conn.execute(
            "UPDATE insight.evidence SET claim = 'The home page has no title.'"
            " WHERE tenant_id = %s AND id = %s",
            (tenant.id, target),
        )
    report = verify(db, tenant, s)
    assert kinds(report) == {("changed_after_insert", "insight.evidence", str(target))}
    assert "claim" in report.problems[0].detail
    assert "no title" not in report.problems[0].detail  # names columns, never values


def test_a_confidence_raised_behind_the_trails_back_differs_from_the_audit_trail(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    target = s.evidence[2]
    with owner(db, "USER") as conn:  # the audit triggers too: the trail never hears of it
        conn.execute(
            "UPDATE insight.evidence SET confidence = 0.999 WHERE tenant_id = %s AND id = %s",
            (tenant.id, target),
        )
    report = verify(db, tenant, s)
    assert kinds(report) == {("differs_from_audit", "insight.evidence", str(target))}
    assert report.problems[0].detail.endswith("in confidence")


def test_a_forged_content_hash_no_longer_matches_the_retrieval_or_the_trail(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    target = s.evidence[3]
    forged = hashlib.sha256(b"something else").hexdigest()
    with owner(db, "USER") as conn:
        conn.execute(
            "UPDATE insight.evidence SET content_hash = %s WHERE tenant_id = %s AND id = %s",
            (forged, tenant.id, target),
        )
    report = verify(db, tenant, s)
    assert kinds(report) == {
        ("evidence_hash_mismatch", "insight.evidence", str(target)),
        ("differs_from_audit", "insight.evidence", str(target)),
    }


def test_bytes_resealed_with_the_tenants_key_no_longer_hash_to_the_recorded_hash(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    target = s.retrievals[0]
    # A tamperer holding the keys: the new bytes are sealed properly, only the hash betrays them.
    forged = base64.b64encode(b"<html><body>Closed for good</body></html>").decode()
    with db.platform_uow(tenant_id=tenant.id) as uow:
        sealed = seal_value(uow.sealer.ring, "insight.retrievals", "body", target, None, forged)
        uow.session.execute(
            text("ALTER TABLE insight.retrievals DISABLE TRIGGER ledger_append_only")
        )
        uow.session.execute(
            text("UPDATE insight.retrievals SET body = :b WHERE tenant_id = :t AND id = :r"),
            {"b": sealed, "t": tenant.id, "r": target},
        )
        uow.session.execute(
            text("ALTER TABLE insight.retrievals ENABLE TRIGGER ledger_append_only")
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:  # the forged bytes open like genuine ones
        row = uow.session.get(Retrieval, (tenant.id, target))
        assert row is not None and row.body == forged
    report = verify(db, tenant, s)
    assert kinds(report) == {
        ("body_hash_mismatch", "insight.retrievals", str(target)),
        ("changed_after_insert", "insight.retrievals", str(target)),
    }


def test_bytes_that_cannot_be_opened_are_reported(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    first, second = s.retrievals[0], s.retrievals[1]
    # Another row's ciphertext is bound to that row: moved here, it does not open.
    with owner(db, "USER", table="insight.retrievals") as conn:
        conn.execute(
            "UPDATE insight.retrievals SET body = (SELECT body FROM insight.retrievals"
            " WHERE tenant_id = %s AND id = %s) WHERE tenant_id = %s AND id = %s",
            (tenant.id, second, tenant.id, first),
        )
    report = verify(db, tenant, s)
    assert kinds(report) == {("body_unreadable", "insight.retrievals", str(first))}


def test_evidence_slipped_in_without_the_audit_trail_is_not_audited(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    forged = uuid7()
    with owner(db, "audit_trail_insert") as conn:
        conn.execute(
            "INSERT INTO insight.evidence (tenant_id, id, location_id, visibility_check_id,"
            " retrieval_id, fact_key, value, claim, source, retrieved_at, confidence,"
            " content_hash) SELECT tenant_id, %s, location_id, visibility_check_id, id,"
            " 'gbp.rating', '5.0', 'The Google profile is rated 5.0.', 'gbp', retrieved_at,"
            " 0.99, content_hash FROM insight.retrievals WHERE tenant_id = %s AND id = %s",
            (forged, tenant.id, s.retrievals[1]),
        )
    report = verify(db, tenant, s)
    assert kinds(report) == {("not_audited", "insight.evidence", str(forged))}
    assert report.evidence == 7


def test_a_broken_audit_chain_of_the_tenant_is_reported(
    db: Database, seeded: tuple[TenantFixture, Seeded]
) -> None:
    tenant, s = seeded
    url = db.target.admin_url.set(database=db.target.owner_url.database)
    try:
        su = psycopg.connect(db.target.libpq(url), autocommit=True)
    except psycopg.Error:
        pytest.skip("needs a superuser to switch the trail's guard off")
    with su:
        su.execute("SET session_replication_role = replica")
        seq, actor = su.execute(
            "SELECT seq, actor FROM audit.log WHERE tenant_id = %s AND table_name ="
            " 'insight.evidence' ORDER BY seq LIMIT 1",
            (tenant.id,),
        ).fetchone()
        su.execute(
            "UPDATE audit.log SET actor = 'someone-else' WHERE tenant_id = %s AND seq = %s",
            (tenant.id, seq),
        )
        try:
            report = verify(db, tenant, s)
        finally:
            su.execute(
                "UPDATE audit.log SET actor = %s WHERE tenant_id = %s AND seq = %s",
                (actor, tenant.id, seq),
            )
    assert [p.kind for p in report.problems] == ["audit_chain_broken"]
    assert f"entry {seq}" in report.problems[0].detail
    assert verify(db, tenant, s).ok  # restored


def test_verifying_an_unknown_check_is_not_found(db: Database) -> None:
    tenant = make_tenant(db)
    with db.tenant_uow(tenant.id) as uow, pytest.raises(NotFoundError):
        verify_ledger(uow, uuid7())
