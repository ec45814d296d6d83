"""Lake erasure: a subject's rows, files and log entries leave the lake; the byte scan proves it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.events import relay
from tenantry.events.ingest import ingest_bulk
from tenantry.lake.erasure import erase_subject_from_lake, lake_scan, lake_tables
from tenantry.models.enums import MembershipRole
from tenantry.services.principal import Principal
from tests.conftest import TenantFixture
from tests.events_support import NOW, event, member, pseudonym_of
from tests.factories import TEST_MASTER


def _curated(home: Path, tenant: TenantFixture, keys: list[str]) -> None:
    """A curated table as the pipeline would write it (user_key per row)."""
    table = pa.table(
        {
            "tenant_id": [str(tenant.id)] * len(keys),
            "user_key": keys,
            "steps_completed_7d": list(range(len(keys))),
        }
    )
    write_deltalake(str(home / "lake" / "ml" / "ml_user_features"), table, mode="append")


def test_erasure_leaves_no_byte_of_the_subject_in_the_lake(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    erased, kept = member(clocked_db, tenant.id), member(clocked_db, tenant.id)
    events = [event(user_id=u) for u in (erased, kept) for _ in range(40)]
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, events)
    relay.relay_once(clocked_db, tmp_path, batch_size=25)  # several commits, several files
    needle, other = (
        pseudonym_of(clocked_db, tenant.id, erased),
        pseudonym_of(clocked_db, tenant.id, kept),
    )
    _curated(tmp_path, tenant, [needle, other])
    tables = {str(p.relative_to(tmp_path / "lake")) for p in lake_tables(tmp_path)}
    assert {"raw/events", "ml/ml_user_features"} <= tables
    assert lake_scan(tmp_path, [needle])  # the scan does find it before

    report = erase_subject_from_lake(tmp_path, tenant.id, [needle])

    assert lake_scan(tmp_path, [needle]) == []
    assert report.tables["raw/events"] == 40 and report.tables["ml/ml_user_features"] == 1
    assert report.files_removed > 0 and report.log_files_removed > 0
    rows = DeltaTable(str(tmp_path / "lake/raw/events")).to_pyarrow_table().to_pylist()
    mine = [r for r in rows if r["tenant_id"] == str(tenant.id)]
    assert len(mine) == 40 and {r["user_key"] for r in mine} == {other}
    assert lake_scan(tmp_path, [other])  # the other subject is untouched


def test_the_relay_keeps_working_after_an_erasure(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    user = member(clocked_db, tenant.id)
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event(user_id=user) for _ in range(5)])
    relay.relay_once(clocked_db, tmp_path)
    erase_subject_from_lake(tmp_path, tenant.id, [pseudonym_of(clocked_db, tenant.id, user)])
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event() for _ in range(3)])
    assert relay.relay_once(clocked_db, tmp_path).rows["inbox"] >= 3
    rows = DeltaTable(str(tmp_path / "lake/raw/events")).to_pyarrow_table().to_pylist()
    assert len([r for r in rows if r["tenant_id"] == str(tenant.id)]) == 3


def test_erasure_never_touches_another_tenants_rows(
    clocked_db: Database, tenant: TenantFixture, other_tenant: TenantFixture, tmp_path: Path
) -> None:
    _curated(tmp_path, other_tenant, ["shared-looking-key-123"])
    report = erase_subject_from_lake(tmp_path, tenant.id, ["shared-looking-key-123"])
    assert report.tables == {"ml/ml_user_features": 0}
    assert lake_scan(tmp_path, ["shared-looking-key-123"])


@pytest.mark.parametrize("needles", [[], ["x'); DROP"], ["short"]])
def test_erasure_refuses_malformed_needles(tmp_path: Path, needles: list[str]) -> None:
    with pytest.raises(ValidationError):
        erase_subject_from_lake(tmp_path, "t", needles)


def test_the_lake_erasure_removes_rows_by_pseudonym_and_email(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    from tenantry.events.erasure import lake_needles
    from tenantry.privacy.keys import KeyRing

    user = member(clocked_db, tenant.id)
    address = "erika.example@example.org"
    events = [
        event(user_id=user),
        event("email_open", properties={"email": address, "campaign_id": "c1"}),  # no user
        event(),
    ]
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, events)
    relay.relay_once(clocked_db, tmp_path)
    pseudonym = pseudonym_of(clocked_db, tenant.id, user)
    with clocked_db.tenant_uow(tenant.id) as uow:
        needles = lake_needles(KeyRing(uow, TEST_MASTER), pseudonym=pseudonym, email=address)
    assert lake_scan(tmp_path, needles)
    report = erase_subject_from_lake(tmp_path, tenant.id, needles)
    assert report.tables["raw/events"] == 2
    assert lake_scan(tmp_path, needles) == []


def test_a_data_subject_erasure_reaches_the_lake_and_proves_it_by_byte_scan(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    """`erase_subject` with the lake: inbox, raw and ml rows go; the receipt names the tables."""
    from tenantry.models import User
    from tenantry.services.privacy.erasure import erase_subject

    erased, kept = member(clocked_db, tenant.id), member(clocked_db, tenant.id)
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event(user_id=erased) for _ in range(5)])
    relay.relay_once(clocked_db, tmp_path)
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, [event(user_id=erased) for _ in range(3)])
    needle = pseudonym_of(clocked_db, tenant.id, erased)  # 3 events still in the inbox only
    _curated(tmp_path, tenant, [needle, pseudonym_of(clocked_db, tenant.id, kept)])
    with clocked_db.tenant_uow(tenant.id) as uow:
        user = uow.session.get(User, erased)
        assert user is not None
        result = erase_subject(
            uow,
            Principal(tenant_id=tenant.id, role=MembershipRole.DPO),
            user.email,
            lake_home=tmp_path,
        )
        uow.commit()
    summary = result.receipt.summary
    assert summary["events.inbox"]["deleted"] == 8
    assert summary["lake:raw/events"] and summary["lake:ml/ml_user_features"]
    assert result.hits == []
    assert lake_scan(tmp_path, [needle]) == []
    relay.relay_once(clocked_db, tmp_path)  # nothing of the subject is left to relay later
    assert lake_scan(tmp_path, [needle]) == []


def test_erasure_reaches_the_star_schema_built_from_the_subjects_events(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    """Ingest -> relay -> pipeline -> erase: no curated or ml table keeps the subject."""
    from tenantry.models import User
    from tenantry.pipeline.runner import run_pipeline
    from tenantry.services.privacy.erasure import erase_subject

    erased, kept = member(clocked_db, tenant.id), member(clocked_db, tenant.id)
    steps = ("profile", "photos", "hours")
    events = [
        event(user_id=u, properties={"step_id": s, "duration_seconds": 30})
        for u in (erased, kept)
        for s in steps
    ]
    ingest_bulk(clocked_db, TEST_MASTER, tenant.id, events)
    relay.relay_once(clocked_db, tmp_path)
    # the day after the test clock's events: the tenant's account and location events carry
    # the database's real time, which would otherwise set the snapshot date
    run_pipeline(tmp_path, as_of=NOW.date() + timedelta(days=1))
    needle = pseudonym_of(clocked_db, tenant.id, erased)
    found = {"/".join(h.path.split("/")[:2]) for h in lake_scan(tmp_path, [needle])}
    assert {"curated/fact_onboarding_steps", "curated/dim_user"} <= found, found
    with clocked_db.tenant_uow(tenant.id) as uow:
        user = uow.session.get(User, erased)
        assert user is not None
        result = erase_subject(
            uow,
            Principal(tenant_id=tenant.id, role=MembershipRole.DPO),
            user.email,
            lake_home=tmp_path,
        )
        uow.commit()
    assert result.hits == [] and lake_scan(tmp_path, [needle]) == []
    assert lake_scan(tmp_path, [pseudonym_of(clocked_db, tenant.id, kept)])
    run_pipeline(tmp_path)  # the next run does not bring the subject back
    assert lake_scan(tmp_path, [needle]) == []
