"""Authentication (API keys, HS256 and RS256 bearer tokens) and the per-principal rate limit."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from tenantry.api.app import create_app
from tenantry.api.auth import Authenticator
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.errors import AuthenticationError
from tenantry.models import ApiKey
from tenantry.services.apikeys import revoke_api_key
from tests.conftest import TenantFixture
from tests.e2e.api.conftest import JWT_SECRET, api_settings, issue_key


def _token(
    tenant: TenantFixture,
    role: str = "owner",
    key: object = JWT_SECRET,
    alg: str = "HS256",
    **claims: object,
) -> str:
    payload: dict[str, object] = {
        "sub": "user-42",
        "tenant_id": str(tenant.id),
        "role": role,
        "exp": int(time.time()) + 300,
        **claims,
    }
    headers = {"kid": claims.pop("kid")} if "kid" in claims else None
    payload.pop("kid", None)
    return jwt.encode(payload, key, algorithm=alg, headers=headers)  # type: ignore[arg-type]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_hs256_token_maps_to_its_tenant_and_role(client: TestClient, tenant: TenantFixture) -> None:
    r = client.get("/v1/leads", headers=_bearer(_token(tenant, "analyst")))
    assert r.status_code == 200
    write = client.post(
        "/v1/leads",
        json={
            "location_id": str(tenant.locations[0]),
            "source": "web_quote",
            "phone": "+49 30 7654321",
        },
        headers=_bearer(_token(tenant, "analyst")),
    )
    assert write.status_code == 403
    assert write.json()["type"] == "urn:tenantry:problem:permission-denied"


@pytest.mark.parametrize(
    "case",
    ["expired", "wrong-secret", "no-exp", "bad-role", "no-tenant", "alg-none", "garbage"],
)
def test_invalid_bearer_tokens_are_401(
    client: TestClient, tenant: TenantFixture, case: str
) -> None:
    token = {
        "expired": lambda: _token(tenant, exp=int(time.time()) - 10),
        "wrong-secret": lambda: _token(tenant, key="another-secret-of-at-least-32-bytes!!"),
        "no-exp": lambda: jwt.encode(
            {"sub": "x", "tenant_id": str(tenant.id), "role": "owner"}, JWT_SECRET
        ),
        "bad-role": lambda: _token(tenant, role="emperor"),
        "no-tenant": lambda: _token(tenant, tenant_id="not-a-uuid"),
        "alg-none": lambda: jwt.encode(
            {"sub": "x", "tenant_id": str(tenant.id), "role": "owner", "exp": 2**31},
            None,
            algorithm="none",
        ),
        "garbage": lambda: "not.a.jwt",
    }[case]()
    r = client.get("/v1/leads", headers=_bearer(token))
    assert r.status_code == 401, r.text
    assert r.json()["type"] == "urn:tenantry:problem:unauthenticated"


def test_location_scope_claim_limits_what_is_seen(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    owner = key_for(tenant)
    body = {"source": "web_quote", "email": "a@example.com"}
    a = client.post(
        "/v1/leads", json=body | {"location_id": str(tenant.locations[0])}, headers=owner
    )
    b = client.post(
        "/v1/leads", json=body | {"location_id": str(tenant.locations[1])}, headers=owner
    )
    scoped = _bearer(_token(tenant, "manager", location_ids=[str(tenant.locations[0])]))
    ids = [x["id"] for x in client.get("/v1/leads", headers=scoped).json()["items"]]
    assert ids == [a.json()["id"]]
    assert client.get(f"/v1/leads/{b.json()['id']}", headers=scoped).status_code == 404


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_rs256_with_a_public_key_file_and_a_jwks_file(
    db: Database, settings: Settings, tenant: TenantFixture, rsa_key, tmp_path: Path
) -> None:
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "pub.pem").write_bytes(pem)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(other.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [jwk | {"kid": "k2"}]}))
    app = create_app(
        db,
        settings=api_settings(
            settings,
            jwt_public_key_file=tmp_path / "pub.pem",
            jwt_jwks_file=tmp_path / "jwks.json",
            jwt_secret=None,
        ),
    )
    with TestClient(app) as c:
        by_pem = _token(tenant, key=rsa_key, alg="RS256")
        assert c.get("/v1/leads", headers=_bearer(by_pem)).status_code == 200
        by_kid = _token(tenant, key=other, alg="RS256", kid="k2")
        assert c.get("/v1/leads", headers=_bearer(by_kid)).status_code == 200
        hs = _token(tenant)  # HS256 is refused when no secret is configured
        assert c.get("/v1/leads", headers=_bearer(hs)).status_code == 401


def test_api_key_also_works_as_a_bearer_token(
    client: TestClient, db: Database, tenant: TenantFixture
) -> None:
    secret = issue_key(db, tenant.id)["X-API-Key"]
    assert client.get("/v1/leads", headers=_bearer(secret)).status_code == 200


def test_revoked_key_is_refused(client: TestClient, db: Database, tenant: TenantFixture) -> None:
    headers = issue_key(db, tenant.id)
    assert client.get("/v1/leads", headers=headers).status_code == 200
    with db.platform_uow() as uow:
        key = uow.session.query(ApiKey).filter(ApiKey.tenant_id == tenant.id).one()
        revoke_api_key(uow, key.id)
        uow.commit()
    assert client.get("/v1/leads", headers=headers).status_code == 401


def test_rate_limit_answers_429_with_retry_after(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    app = create_app(db, settings=api_settings(settings, rate_limit_per_minute=3))
    headers = issue_key(db, tenant.id)
    other = issue_key(db, tenant.id)
    with TestClient(app) as c:
        assert [c.get("/v1/leads", headers=headers).status_code for _ in range(3)] == [200] * 3
        limited = c.get("/v1/leads", headers=headers)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["type"] == "urn:tenantry:problem:rate-limited"
        assert c.get("/v1/leads", headers=other).status_code == 200  # per principal


def test_platform_admin_jwt_without_uuid_subject_is_accepted(
    client: TestClient, tenant: TenantFixture
) -> None:
    token = _token(tenant, "platform_admin", sub=f"ops-{uuid.uuid4().hex}")
    assert client.get("/v1/leads", headers=_bearer(token)).status_code == 200


def test_empty_location_scope_claim_sees_no_location(
    client: TestClient, tenant: TenantFixture, key_for
) -> None:
    body = {
        "source": "web_quote",
        "email": "a@example.com",
        "location_id": str(tenant.locations[0]),
    }
    lead = client.post("/v1/leads", json=body, headers=key_for(tenant)).json()
    nothing = _bearer(_token(tenant, "manager", location_ids=[]))
    assert client.get("/v1/leads", headers=nothing).json()["items"] == []
    assert client.get(f"/v1/leads/{lead['id']}", headers=nothing).status_code == 404
    bad = _bearer(_token(tenant, "manager", location_ids="everything"))
    assert client.get("/v1/leads", headers=bad).status_code == 401


def test_requests_presenting_a_key_at_once_share_one_lookup(
    db: Database, settings: Settings, tenant: TenantFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = Authenticator(api_settings(settings, api_key_cache_seconds=60), db)
    lookups: list[str] = []
    real_lookup = auth._lookup

    def counted(presented: str) -> ApiKey | None:
        lookups.append(presented)
        time.sleep(0.05)  # the lookup is slow enough for the others to arrive meanwhile
        return real_lookup(presented)

    monkeypatch.setattr(auth, "_lookup", counted)
    secret = issue_key(db, tenant.id)["X-API-Key"]
    bad = secret[:-4] + "xxxx"

    async def burst() -> tuple[list[Any], list[BaseException | Any]]:
        good = await asyncio.gather(*(auth.authenticate(secret, None) for _ in range(8)))
        refused = await asyncio.gather(
            *(auth.authenticate(bad, None) for _ in range(4)), return_exceptions=True
        )
        return good, refused

    good, refused = asyncio.run(burst())
    assert {caller.principal.tenant_id for caller in good} == {tenant.id}
    assert all(isinstance(r, AuthenticationError) for r in refused)
    assert len(lookups) == 2  # one for the good key, one for the bad one


def test_a_token_for_a_tenant_that_does_not_exist_is_401(
    client: TestClient, tenant: TenantFixture
) -> None:
    ghost = _token(tenant, tenant_id=str(uuid.uuid4()))
    for r in (
        client.get("/v1/leads", headers=_bearer(ghost)),
        client.post("/v1/events", json=[], headers=_bearer(ghost)),
    ):
        assert r.status_code == 401, r.text
        assert r.json()["detail"] == "bearer token names a tenant that does not exist"


def test_repeated_wrong_credentials_from_one_address_are_throttled(
    db: Database, settings: Settings, tenant: TenantFixture
) -> None:
    app = create_app(db, settings=api_settings(settings, auth_failures_per_minute=5))
    good = issue_key(db, tenant.id)
    with TestClient(app) as c:
        # Valid requests take nothing from the allowance.
        for _ in range(10):
            assert c.get("/v1/leads", headers=good).status_code == 200
        wrong = [
            c.get("/v1/leads", headers={"X-API-Key": f"tnry_guess{n}"}).status_code
            for n in range(5)
        ]
        assert wrong == [401] * 5
        refused = c.get("/v1/leads", headers={"X-API-Key": "tnry_guess-6"})
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["type"] == "urn:tenantry:problem:rate-limited"
        # Refused without checking: even the right key waits until the address may try again.
        assert c.get("/v1/leads", headers=good).status_code == 429
    with TestClient(app, client=("192.0.2.7", 50000)) as other:  # another address is not held up
        assert other.get("/v1/leads", headers=good).status_code == 200
