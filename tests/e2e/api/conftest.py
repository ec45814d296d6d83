"""Fixtures for HTTP tests: the ASGI app on the session's real PostgreSQL, keys per role."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tenantry.api.app import create_app
from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.services.apikeys import create_api_key
from tests.conftest import TenantFixture

JWT_SECRET = "test-secret-of-at-least-32-bytes-length!"
Headers = dict[str, str]


def api_settings(settings: Settings, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": settings.home,
        "jwt_secret": SecretStr(JWT_SECRET),
        "rate_limit_per_minute": 1_000_000,
        "auth_failures_per_minute": 1_000_000,
        "api_key_cache_seconds": 0.0,
        "api_log_level": "WARNING",
        # No visibility-check worker unless a test starts one with the settings it needs.
        "vc_workers": 0,
        # Nor the chat upkeep: its 90-day drop at the real time would take other tests' rows.
        "chat_upkeep_hours": 0.0,
        # Nor the outcome projection: tests that need it run it themselves.
        "outcome_poll_seconds": 0.0,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


@pytest.fixture(scope="session")
def app(db: Database, settings: Settings) -> FastAPI:
    return create_app(db, settings=api_settings(settings))


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def issue_key(
    db: Database,
    tenant_id: uuid.UUID,
    role: str = "owner",
    locations: list[uuid.UUID] | None = None,
) -> Headers:
    with db.platform_uow() as uow:
        issued = create_api_key(uow, tenant_id=tenant_id, role=role, location_ids=locations)
        uow.commit()
    return {"X-API-Key": issued.secret}


@pytest.fixture
def key_for(db: Database) -> Callable[..., Headers]:
    def make(
        tenant: TenantFixture, role: str = "owner", locations: list[uuid.UUID] | None = None
    ) -> Headers:
        return issue_key(db, tenant.id, role, locations)

    return make
