"""What the trail records, how it keeps personal data out, how concurrent writers share one
chain, and how retention removes whole months without breaking verification."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime

import psycopg
import pytest
from sqlalchemy import text

from tenantry.audit.history import REDACTED, row_history
from tenantry.audit.maintenance import drop_partitions_before
from tenantry.audit.verify import Report, verify_trail
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.errors import TenantryError
from tenantry.models import Customer, Lead, SubjectKey
from tenantry.models.enums import MembershipRole
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.services.principal import Principal
from tenantry.services.privacy.erasure import erase_subject
from tests.conftest import TenantFixture, make_tenant
from tests.factories import TEST_MASTER


def verify(target: DatabaseTarget, settings: Settings, tenant: uuid.UUID) -> Report:
    with psycopg.connect(target.libpq(target.owner_url)) as conn:
        return verify_trail(conn, settings, tenant=tenant)


def entries(db: Database, tenant: uuid.UUID, table: str) -> list[dict[str, object]]:
    with db.platform_uow() as uow:
        rows = uow.session.execute(
            text(
                "SELECT seq, op, actor, row_id, changed_columns, redacted_columns, old_values,"
                " new_values FROM audit.log WHERE tenant_id = :t AND table_name = :n ORDER BY seq"
            ),
            {"t": tenant, "n": table},
        )
        return [dict(r._mapping) for r in rows]


def add_customer(db: Database, tenant: TenantFixture, actor: str | None) -> uuid.UUID:
    with db.tenant_uow(tenant.id, actor=actor) as uow:
        customer = uow.repos.customers.add(
            Customer(
                first_name="Erika",
                last_name="Mustermann",
                email="erika.mustermann@example.org",
                phone="+49 30 1234567",
                city="Musterhausen",
                language="de",
            )
        )
        uow.commit()
        return customer.id


def test_insert_update_and_delete_are_recorded_with_actor_and_changed_columns(
    db: Database, target: DatabaseTarget, settings: Settings, tenant: TenantFixture
) -> None:
    actor = f"user:{uuid.uuid4()}"
    customer = add_customer(db, tenant, actor)
    with db.tenant_uow(tenant.id, actor=actor) as uow:  # raw SQL is captured too
        uow.session.execute(
            text("UPDATE crm.customers SET language = 'en', email = :e WHERE id = :c"),
            {"e": "erika.new@example.org", "c": customer},
        )
        uow.session.execute(
            text("UPDATE crm.customers SET language = 'en' WHERE id = :c"), {"c": customer}
        )
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        uow.session.execute(text("DELETE FROM crm.customers WHERE id = :c"), {"c": customer})
        uow.commit()

    inserted, updated, deleted = entries(db, tenant.id, "crm.customers")  # no-op update: none
    assert [e["op"] for e in (inserted, updated, deleted)] == ["I", "U", "D"]
    assert inserted["actor"] == updated["actor"] == actor
    assert deleted["actor"] == "db:tenantry_app"
    assert inserted["row_id"] == str(customer)
    assert {"email", "language", "tenant_id"} <= set(inserted["changed_columns"])
    assert inserted["new_values"]["language"] == "de"
    assert updated["changed_columns"] == ["email", "language"]
    assert updated["redacted_columns"] == ["email"]
    assert updated["old_values"] == {"language": "de"}
    assert updated["new_values"] == {"language": "en"}
    assert deleted["old_values"]["language"] == "en" and deleted["new_values"] is None
    assert verify(target, settings, tenant.id).intact


def test_personal_data_never_enters_the_trail_and_erasure_leaves_it_verifiable(
    db: Database, target: DatabaseTarget, settings: Settings, tenant: TenantFixture
) -> None:
    customer = add_customer(db, tenant, "user:test")
    with db.tenant_uow(tenant.id, actor="job:erasure") as uow:  # erase: PII gone, row gone
        uow.session.execute(
            text(
                "UPDATE crm.customers SET first_name = NULL, last_name = NULL, email = NULL,"
                " phone = NULL, city = NULL WHERE id = :c"
            ),
            {"c": customer},
        )
        uow.session.execute(text("DELETE FROM crm.customers WHERE id = :c"), {"c": customer})
        uow.commit()
    with db.platform_uow() as uow:
        trail = (
            uow.session.execute(
                text("SELECT l::text FROM audit.log l WHERE tenant_id = :t"), {"t": tenant.id}
            )
            .scalars()
            .all()
        )
    assert len(trail) >= 5
    for value in ("Erika", "Mustermann", "erika.mustermann", "1234567", "Musterhausen"):
        assert not any(value in entry for entry in trail), "personal data in the trail"
    assert verify(target, settings, tenant.id).intact

    with db.tenant_uow(tenant.id) as uow:
        history = row_history(uow, table="crm.customers", row_id=str(customer))
    assert [h.operation for h in history] == ["insert", "update", "delete"]
    erased = {c.column: c for c in history[1].changes}
    assert set(erased) == {"city", "email", "first_name", "last_name", "phone"}
    assert erased["email"].old == erased["email"].new == REDACTED


def test_after_a_subject_is_erased_and_crypto_shredded_the_trail_still_verifies(
    db: Database, target: DatabaseTarget, settings: Settings, tenant: TenantFixture
) -> None:
    email, phone = "erika.shredded@example.org", "+49 30 5550199"
    with db.platform_uow(tenant_id=tenant.id) as uow:
        customer = Customer(
            tenant_id=tenant.id,
            id=db.ids(),
            first_name="Erika",
            last_name="Shreddingtonova",
            email=email,
            phone=phone,
            street="Loeschweg 5",
            city="Berlin",
        )
        uow.session.add(customer)
        uow.session.flush()
        uow.session.add(
            Lead(
                tenant_id=tenant.id,
                id=db.ids(),
                location_id=tenant.locations[0],
                customer_id=customer.id,
                source="web_quote",
                email=email,
                first_name="Erika",
                last_name="Shreddingtonova",
            )
        )
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email=email, phone=phone)
        uow.commit()
    assert verify(target, settings, tenant.id).intact

    with db.tenant_uow(tenant.id, actor="job:erasure") as uow:
        result = erase_subject(uow, Principal(tenant_id=tenant.id, role=MembershipRole.DPO), email)
        uow.commit()
    assert result.receipt.keys_destroyed == 1
    with db.platform_uow() as uow:
        key = uow.session.get(SubjectKey, (tenant.id, subject.id, 1))
        assert key is not None and key.wrapped_key is None  # shredded
        trail = uow.session.execute(
            text(
                "SELECT l::text, l.table_name, l.op, l.encrypted_values FROM audit.log l"
                " WHERE tenant_id = :t ORDER BY seq"
            ),
            {"t": tenant.id},
        ).all()
    # The erasure itself is on the record: the rows deleted and the key destroyed.
    assert ("crm.leads", "D") in {(r.table_name, r.op) for r in trail}
    assert ("privacy.subject_keys", "U") in {(r.table_name, r.op) for r in trail}
    # Nothing of the subject is left to read: no plain value, and no ciphertext either (the
    # trail stores personal values not at all, so shredding leaves nothing decryptable).
    for value in ("Erika", "Shreddingtonova", "shredded", "5550199", "Loeschweg"):
        assert not any(value in r[0] for r in trail), "personal data in the trail"
    assert all(r.encrypted_values is None for r in trail)
    report = verify(target, settings, tenant.id)
    assert report.intact and report.entries == len(trail)


def test_the_application_sees_only_its_own_tenants_history(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    add_customer(db, other_tenant, "user:test")
    with db.tenant_uow(tenant.id) as uow:
        mine = row_history(uow, limit=1000)
        foreign = uow.session.scalar(
            text("SELECT count(*) FROM audit.log WHERE tenant_id = :t"), {"t": other_tenant.id}
        )
    assert mine and foreign == 0


def _leads(db: Database, tenant: TenantFixture, n: int) -> list[uuid.UUID]:
    with db.tenant_uow(tenant.id) as uow:
        leads = [
            uow.repos.leads.add(Lead(location_id=tenant.locations[0], source="web_quote", score=10))
            for _ in range(n)
        ]
        uow.commit()
        return [lead.id for lead in leads]


def test_sixteen_concurrent_writers_build_one_unbroken_chain(
    db: Database, target: DatabaseTarget, settings: Settings, tenant: TenantFixture
) -> None:
    writers, seconds = 16, 3.0
    leads = _leads(db, tenant, writers)
    with db.platform_uow() as uow:
        before = uow.session.scalar(
            text("SELECT count(*) FROM audit.log WHERE tenant_id = :t"), {"t": tenant.id}
        )
    commits = [0] * writers
    failures: list[BaseException] = []
    start = threading.Barrier(writers + 1)
    deadline = time.monotonic() + seconds + 1
    queued: list[int] = []  # writers seen waiting for the chain lock at once, per sample

    def watch() -> None:  # as a superuser: other roles' wait events are hidden from the owner
        admin = target.admin_url.set(database=target.owner_url.database)
        with psycopg.connect(target.libpq(admin), autocommit=True) as conn:
            start.wait()
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND usename = 'tenantry_app' AND wait_event_type = 'Lock'"
                ).fetchone()
                queued.append(row[0] if row else 0)
                time.sleep(0.01)

    def write(i: int) -> None:
        try:
            start.wait()
            while time.monotonic() < deadline:
                with db.tenant_uow(tenant.id, actor=f"job:writer-{i}") as uow:
                    uow.session.execute(
                        text(
                            "UPDATE crm.leads SET score = (score + 1) % 100"
                            " WHERE tenant_id = :t AND id = :l"
                        ),
                        {"t": tenant.id, "l": leads[i]},
                    )
                    uow.commit()
                commits[i] += 1
        except BaseException as exc:  # reported below; a thread must not die silently
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    threads.append(threading.Thread(target=watch))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]
    assert all(commits), "every writer committed"
    assert max(queued) >= 2, "the writers' transactions really overlapped"

    with db.platform_uow() as uow:
        count, top, updates = uow.session.execute(
            text(
                "SELECT count(*), max(seq), count(*) FILTER (WHERE op = 'U'"
                " AND table_name = 'crm.leads') FROM audit.log WHERE tenant_id = :t"
            ),
            {"t": tenant.id},
        ).one()
    assert updates == sum(commits)
    assert count == before + sum(commits) == top
    report = verify(target, settings, tenant.id)
    assert report.intact and report.entries == count


def test_a_held_chain_lock_of_one_tenant_does_not_block_another(
    db: Database, target: DatabaseTarget, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    rename = text("UPDATE identity.locations SET name = 'Renamed' WHERE tenant_id = :t")
    with psycopg.connect(target.libpq(target.owner_url)) as holder:
        holder.execute(
            "SELECT 1 FROM audit.chain_heads WHERE tenant_id = %s FOR UPDATE", (tenant.id,)
        )
        started = time.monotonic()
        with db.tenant_uow(other_tenant.id) as uow:
            uow.session.execute(text("SET LOCAL lock_timeout = '2s'"))
            uow.session.execute(rename, {"t": other_tenant.id})
            uow.commit()
        assert time.monotonic() - started < 2
        with pytest.raises(TenantryError), db.tenant_uow(tenant.id) as uow:
            uow.session.execute(text("SET LOCAL lock_timeout = '200ms'"))
            uow.session.execute(rename, {"t": tenant.id})
        holder.rollback()


def test_retention_drops_whole_months_and_verification_starts_after_the_cut(
    db: Database, target: DatabaseTarget, settings: Settings
) -> None:
    tenant = make_tenant(db, locations=4)
    with db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            text("UPDATE identity.locations SET name = 'Renamed' WHERE tenant_id = :t"),
            {"t": tenant.id},
        )
        uow.commit()
    this_month = datetime.now(UTC).date().replace(day=1)
    last_month = date(
        this_month.year - (this_month.month == 1), (this_month.month - 2) % 12 + 1, 15
    )
    # Age the first six entries (the tenant's two keys, its four locations), as if written last
    # month (a superuser's change).
    with psycopg.connect(
        target.libpq(target.admin_url.set(database=target.owner_url.database)), autocommit=True
    ) as su:
        su.execute("SET session_replication_role = replica")
        su.execute(
            "UPDATE audit.log SET recorded_at = %s WHERE tenant_id = %s AND seq <= 6",
            (datetime(last_month.year, last_month.month, 15, tzinfo=UTC), tenant.id),
        )
    assert verify(target, settings, tenant.id).breaks[0].reason == "edited"

    with psycopg.connect(target.libpq(target.owner_url)) as owner:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            owner.execute("DELETE FROM audit.log WHERE tenant_id = %s", (tenant.id,))
        owner.rollback()
        drop_partitions_before(owner, this_month)
        owner.commit()
        remaining = owner.execute(
            "SELECT min(seq), count(*) FROM audit.log WHERE tenant_id = %s", (tenant.id,)
        ).fetchone()
    assert remaining == (7, 4)
    report = verify(target, settings, tenant.id)
    assert report.intact and report.entries == 4
