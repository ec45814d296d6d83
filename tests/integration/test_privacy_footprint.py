"""One footprint: what the access export shows, the erasure acts on and the scan searches are
the same places, events (ingested the way a user's events are, relayed into the lake) included;
kept exports are shredded by the erasure, and the scan covers them."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa
from deltalake import write_deltalake

from tenantry.db.engine import Database
from tenantry.errors import PermissionDeniedError
from tenantry.events import relay
from tenantry.events.ingest import ingest_bulk
from tenantry.models import InboxEvent, Membership, User
from tenantry.models.enums import ConsentPurpose, MembershipRole
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Principal
from tenantry.services.privacy.consent import append_consent
from tenantry.services.privacy.erasure import erase_subject, shorten_wal_retention
from tenantry.services.privacy.export import (
    export_subject,
    open_bundle,
    seal_bundle,
    sealed_name,
    write_private,
)
from tenantry.services.privacy.scan import scan_subject
from tests.conftest import TenantFixture
from tests.events_support import event
from tests.factories import NOTICE, TEST_MASTER
from tests.integration.test_privacy_dsar import _person

EMAIL = "Erika.Example@example.org"  # a customer only: unique per tenant


def _address() -> str:
    """A user's address: users are platform-wide, so unique per test."""
    return f"Erika.{uuid.uuid4().hex[:10]}@example.org"


def _dpo(tenant: TenantFixture) -> Principal:
    return Principal(tenant_id=tenant.id, role=MembershipRole.DPO)


def _user_with_events(db: Database, tenant: TenantFixture, home: Path, email: str) -> str:
    """The person as a user of the tenant who consents to analytics, with events ingested
    through the ingestion path (some relayed into the lake, some still in the inbox only, some
    e-mail events known only by the keyed hash of the address) and a curated lake table."""
    with db.platform_uow(tenant_id=tenant.id) as uow:
        user = User(id=uow.ids(), email=email.lower())
        uow.session.add(user)
        uow.flush()
        uow.session.add(
            Membership(tenant_id=tenant.id, id=uow.ids(), user_id=user.id, role="staff")
        )
        subject = resolve_subject(uow, KeyRing(uow, TEST_MASTER), email=email)
        append_consent(
            uow, subject.id, ConsentPurpose.ANALYTICS, "granted", source="test", notice=NOTICE
        )
        uow.commit()
        pseudonym, user_id = subject.pseudonym, user.id
    mail = {"email": email, "campaign_id": "c1"}
    first = [event(user_id=user_id) for _ in range(3)] + [event("email_open", properties=mail)]
    ingest_bulk(db, TEST_MASTER, tenant.id, first)
    relay.relay_once(db, home)
    later = [event(user_id=user_id), event("email_click", properties=mail)]
    ingest_bulk(db, TEST_MASTER, tenant.id, later)
    table = pa.table(
        {"tenant_id": [str(tenant.id)], "user_key": [pseudonym], "steps_completed_7d": [3]}
    )
    write_deltalake(str(home / "lake" / "ml" / "ml_user_features"), table, mode="append")
    return pseudonym


def _bundle_places(bundle: bytes) -> set[str]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        names = [n for n in zf.namelist() if n.endswith(".json") and "/" in n]
    return {
        n.removeprefix("data/").removesuffix(".json")
        if n.startswith("data/")
        else "lake:" + n.removeprefix("lake/").removesuffix(".json")
        for n in names
    }


def test_the_export_shows_every_place_the_erasure_acts_on(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    email = _address()
    _person(clocked_db, tenant, email)
    _user_with_events(clocked_db, tenant, tmp_path, email)
    with clocked_db.tenant_uow(tenant.id) as uow:
        exported = export_subject(uow, _dpo(tenant), email, lake_home=tmp_path)
        uow.commit()
    with clocked_db.tenant_uow(tenant.id) as uow:
        erased = erase_subject(uow, _dpo(tenant), email, lake_home=tmp_path)
        uow.commit()

    shown = _bundle_places(exported.bundle)
    assert {"events.inbox", "lake:raw/events", "lake:ml/ml_user_features"} <= shown
    assert shown == set(erased.receipt.summary)
    assert erased.hits == []
    with zipfile.ZipFile(io.BytesIO(exported.bundle)) as zf:
        inbox = json.loads(zf.read("data/events.inbox.json"))
        manifest = json.loads(zf.read("manifest.json"))
    assert len(inbox) == 6 == erased.receipt.summary["events.inbox"]["deleted"]
    assert "user_key" in manifest["pseudonymised_columns"]["data/events.inbox.json"]
    assert email.lower() not in json.dumps(inbox)  # events hold the address only as a hash


def test_the_scan_finds_every_inbox_row_the_erasure_deletes(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    email = _address()
    _user_with_events(clocked_db, tenant, tmp_path, email)
    with clocked_db.tenant_uow(tenant.id) as uow:
        inbox = {str(i) for i in uow.session.scalars(sa.select(InboxEvent.id))}
        report = scan_subject(uow, _dpo(tenant), email, home=tmp_path)
    found = {h.row for h in report.hits if h.table == "events.inbox"}
    assert found == inbox and len(found) == 6  # e-mail events carry only the keyed hash
    assert {h.table for h in report.hits} >= {"lake:raw/events", "lake:ml/ml_user_features"}
    with clocked_db.tenant_uow(tenant.id) as uow:
        erased = erase_subject(uow, _dpo(tenant), email, lake_home=tmp_path)
        uow.commit()
    assert erased.receipt.summary["events.inbox"]["deleted"] == len(found)
    with clocked_db.tenant_uow(tenant.id) as uow:
        left = scan_subject(uow, _dpo(tenant), email, home=tmp_path).hits
    assert {h.table for h in left} == {"identity.users"}  # the platform account, not the tenant's


def _grep(folder: Path, needles: list[str]) -> list[str]:
    """Files (and zip members) under the folder whose bytes hold a needle, case-insensitive."""
    found = []
    for file in folder.rglob("*"):
        data = file.read_bytes()
        parts = [data]
        if zipfile.is_zipfile(file):
            with zipfile.ZipFile(file) as zf:
                parts += [zf.read(n) for n in zf.namelist()]
        if any(n.lower().encode() in p.lower() for n in needles for p in parts):
            found.append(file.name)
    return found


def test_a_kept_export_is_shredded_by_the_erasure_and_covered_by_the_scan(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    _person(clocked_db, tenant)
    exports = tmp_path / "exports"
    exports.mkdir()
    with clocked_db.tenant_uow(tenant.id) as uow:
        result = export_subject(uow, _dpo(tenant), EMAIL, lake_home=tmp_path)
        kept = write_private(
            seal_bundle(keyring(uow), result), exports / sealed_name(result.request_id)
        )
        uow.commit()
    needles = [EMAIL, "Examplewoman", "Musterweg 12"]
    assert _grep(exports, needles) == []  # sealed at rest
    with clocked_db.tenant_uow(tenant.id) as uow:
        opened = zipfile.ZipFile(io.BytesIO(open_bundle(keyring(uow), kept.read_bytes())))
        assert b"Examplewoman" in opened.read("data/crm.customers.json")
        before = scan_subject(uow, _dpo(tenant), EMAIL, home=tmp_path)
    assert {h.column for h in before.hits if h.table == "exports"} == {kept.name}
    assert before.exports_searched

    with clocked_db.tenant_uow(tenant.id) as uow:
        erased = erase_subject(uow, _dpo(tenant), EMAIL, lake_home=tmp_path)
        uow.commit()
    assert erased.hits == []
    assert _grep(exports, needles) == []
    with clocked_db.tenant_uow(tenant.id) as uow:
        after = scan_subject(uow, _dpo(tenant), EMAIL, home=tmp_path)
    assert after.hits == [] and after.exports_searched


def test_the_erasure_and_the_scan_report_a_plain_copy_left_in_the_exports_folder(
    clocked_db: Database, tenant: TenantFixture, tmp_path: Path
) -> None:
    _person(clocked_db, tenant)
    (tmp_path / "exports").mkdir()
    with clocked_db.tenant_uow(tenant.id) as uow:
        result = export_subject(uow, _dpo(tenant), EMAIL)
        uow.commit()
    name = f"{uuid.uuid4().hex}.zip"
    (tmp_path / "exports" / name).write_bytes(result.bundle)  # deflated: no plain bytes
    with clocked_db.tenant_uow(tenant.id) as uow:
        erased = erase_subject(uow, _dpo(tenant), EMAIL, lake_home=tmp_path)
        uow.commit()
        report = scan_subject(uow, _dpo(tenant), EMAIL, home=tmp_path)
    assert {h.column for h in erased.hits} == {name}  # its proof covers the exports folder
    assert {h.column for h in report.hits if h.table == "exports"} == {name}


@pytest.mark.parametrize("role", [r for r in MembershipRole if r is not MembershipRole.DPO])
def test_the_erasure_service_refuses_every_role_but_the_dpo(
    clocked_db: Database, tenant: TenantFixture, role: MembershipRole
) -> None:
    _person(clocked_db, tenant)
    who = Principal(tenant_id=tenant.id, role=role)
    with clocked_db.tenant_uow(tenant.id) as uow:
        with pytest.raises(PermissionDeniedError, match="may not erase"):
            erase_subject(uow, who, EMAIL)
        uow.commit()
    with clocked_db.tenant_uow(tenant.id) as uow:
        assert scan_subject(uow, _dpo(tenant), EMAIL).hits  # nothing was erased


def test_an_analyst_may_neither_export_nor_scan(
    clocked_db: Database, tenant: TenantFixture
) -> None:
    _person(clocked_db, tenant)
    analyst = Principal(tenant_id=tenant.id, role=MembershipRole.ANALYST)
    with clocked_db.tenant_uow(tenant.id) as uow:
        with pytest.raises(PermissionDeniedError):
            export_subject(uow, analyst, EMAIL)
        with pytest.raises(PermissionDeniedError):
            scan_subject(uow, analyst, EMAIL)


def test_the_erasure_can_switch_the_wal_and_says_so_when_it_may_not(
    db: Database, tenant: TenantFixture
) -> None:
    with db.owner_engine.connect() as conn:
        before = conn.scalar(sa.text("SELECT pg_walfile_name(pg_current_wal_lsn())"))
    done = shorten_wal_retention(db)
    with db.owner_engine.connect() as conn:
        after = conn.scalar(sa.text("SELECT pg_walfile_name(pg_current_wal_lsn())"))
    assert done.startswith("WAL switched") and after > before

    app_only = dataclasses.replace(db.target, admin_url=db.target.app_url)
    weak = Database(target=app_only, app_engine=db.app_engine, owner_engine=db.owner_engine)
    note = shorten_wal_retention(weak)
    assert note.startswith("WAL not switched") and "privilege" in note
