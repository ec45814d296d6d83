"""The privacy endpoints over the privacy kernel: consent, double opt-in, DSAR, export,
erasure, register. E-mail addresses go in bodies and never come back."""

from __future__ import annotations

import io
import json
import zipfile

from fastapi.testclient import TestClient

from tests.conftest import TenantFixture

NOTICE = {"notice_version": "2026-01", "notice_text": "We write once a month. Withdraw any time."}
EMAIL = "privacy.person@example.org"


def test_consent_record_and_check(client: TestClient, tenant: TenantFixture, key_for) -> None:
    h = key_for(tenant, "staff")
    check = {"email": EMAIL, "purpose": "analytics"}
    before = client.post("/v1/privacy/consents/check", json=check, headers=h).json()
    assert before["active"] is False and before["reason"] == "missing"
    r = client.post(
        "/v1/privacy/consents",
        json={
            **NOTICE,
            "email": EMAIL,
            "purpose": "analytics",
            "decision": "granted",
            "source": "web_form",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert EMAIL not in r.text
    after = client.post("/v1/privacy/consents/check", json=check, headers=h).json()
    assert after["active"] is True and after["decision"] == "granted"


def test_double_opt_in_start_and_confirm(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    h = key_for(tenant, "staff") | {"Idempotency-Key": "optin-1"}
    body = {**NOTICE, "email": EMAIL, "purpose": "marketing_email"}
    started = client.post("/v1/privacy/opt-ins", json=body, headers=h)
    assert started.status_code == 201, started.text
    token = started.json()["token"]
    assert token
    replay = client.post("/v1/privacy/opt-ins", json=body, headers=h)
    assert replay.status_code == 201 and replay.json()["token"] is None
    assert replay.json()["token_id"] == started.json()["token_id"]
    check = {"email": EMAIL, "purpose": "marketing_email"}
    plain = key_for(tenant, "staff")
    assert (
        client.post("/v1/privacy/consents/check", json=check, headers=plain).json()["active"]
        is False
    )
    confirmed = client.post(
        "/v1/privacy/opt-ins/confirm", json={**NOTICE, "token": token}, headers=plain
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["source"] == "double_opt_in"
    again = client.post(
        "/v1/privacy/opt-ins/confirm", json={**NOTICE, "token": token}, headers=plain
    )
    assert again.status_code == 422
    assert client.post("/v1/privacy/consents/check", json=check, headers=plain).json()["active"]


def test_dsar_create_status_and_list_need_the_privacy_role(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    body = {"kind": "rectification", "email": EMAIL}
    assert (
        client.post("/v1/privacy/dsar", json=body, headers=key_for(tenant, "admin")).status_code
        == 403
    )
    h = key_for(tenant, "dpo")
    r = client.post("/v1/privacy/dsar", json=body, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "received" and EMAIL not in r.text
    got = client.get(f"/v1/privacy/dsar/{r.json()['id']}", headers=h)
    assert got.json() == r.json()
    listed = client.get("/v1/privacy/dsar", headers=h).json()["items"]
    assert [x["id"] for x in listed] == [r.json()["id"]]


def _subject_with_data(client: TestClient, tenant: TenantFixture, h: dict[str, str]) -> None:
    lead = {
        "location_id": str(tenant.locations[0]),
        "source": "web_quote",
        "email": EMAIL,
        "first_name": "Pia",
    }
    assert client.post("/v1/leads", json=lead, headers=h).status_code == 201
    client.post(
        "/v1/privacy/consents",
        json={
            **NOTICE,
            "email": EMAIL,
            "purpose": "analytics",
            "decision": "granted",
            "source": "web_form",
        },
        headers=h,
    )


def test_export_downloads_a_zip_bundle(client: TestClient, tenant: TenantFixture, key_for) -> None:
    _subject_with_data(client, tenant, key_for(tenant))
    r = client.post("/v1/privacy/exports", json={"email": EMAIL}, headers=key_for(tenant, "dpo"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["request_id"] == r.headers["x-dsar-request-id"]
        assert "data/crm.leads.json" in zf.namelist()
    missing = client.post(
        "/v1/privacy/exports", json={"email": "nobody@example.org"}, headers=key_for(tenant, "dpo")
    )
    assert missing.status_code == 404


def test_erasure_is_reserved_to_the_dpo_and_returns_a_receipt(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    _subject_with_data(client, tenant, key_for(tenant))
    body = {"email": EMAIL}
    for role in ("owner", "admin", "analyst"):
        refused = client.post("/v1/privacy/erasures", json=body, headers=key_for(tenant, role))
        assert refused.status_code == 403, role
    dpo = key_for(tenant, "dpo") | {"Idempotency-Key": "erase-1"}
    r = client.post("/v1/privacy/erasures", json=body, headers=dpo)
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["scan_hits"] == 0 and EMAIL not in r.text
    replay = client.post("/v1/privacy/erasures", json=body, headers=dpo)
    assert replay.status_code == 201 and replay.json() == receipt
    again = client.post("/v1/privacy/erasures", json=body, headers=key_for(tenant, "dpo"))
    assert again.status_code == 409
    leads = client.get("/v1/leads", headers=key_for(tenant)).json()["items"]
    assert all(x["email"] != EMAIL for x in leads)


def test_processing_register_lists_every_column(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    r = client.get("/v1/privacy/register", headers=key_for(tenant, "analyst"))
    entries = r.json()["record_of_processing_activities"]
    assert {"table": "crm.leads", "column": "email"}.items() <= next(
        e for e in entries if e["table"] == "crm.leads" and e["column"] == "email"
    ).items()
    assert not [e for e in entries if e["category"] == "UNCLASSIFIED"]


def test_consent_and_opt_in_writes_are_refused_to_roles_without_write_crm(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    consent = {**NOTICE, "email": EMAIL, "purpose": "analytics", "decision": "granted"}
    writes = [
        ("/v1/privacy/consents", consent | {"source": "web_form"}),
        ("/v1/privacy/opt-ins", {**NOTICE, "email": EMAIL, "purpose": "marketing_email"}),
        ("/v1/privacy/opt-ins/confirm", {**NOTICE, "token": "no-such-token"}),
    ]
    for role in ("analyst", "dpo"):
        for path, body in writes:
            for extra in ({}, {"Idempotency-Key": f"k-{role}-{path}"}):
                r = client.post(path, json=body, headers=key_for(tenant, role) | extra)
                assert r.status_code == 403, (role, path, r.text)
                assert f"role {role} may not" in r.json()["detail"]
    check = {"email": EMAIL, "purpose": "analytics"}
    read = client.post("/v1/privacy/consents/check", json=check, headers=key_for(tenant, "analyst"))
    assert read.status_code == 200 and read.json()["reason"] == "missing"
