"""Stripe signing secrets per tenant: sealed at rest, redacted in the audit trail, rotated."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tenantry.db.engine import Database
from tenantry.errors import NotFoundError, ValidationError
from tenantry.payments.endpoints import (
    active_secrets,
    add_secret,
    list_endpoints,
    revoke_endpoint,
)
from tests.conftest import TenantFixture

SECRET = "whsec_sealed_test_0123456789"


def test_a_secret_is_sealed_at_rest_and_redacted_in_the_audit_trail(
    db: Database, tenant: TenantFixture
) -> None:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        added = add_secret(uow, tenant.id, SECRET, label="main")
        uow.commit()
    with db.platform_uow() as uow:
        stored = uow.session.execute(
            text("SELECT secret FROM commerce.webhook_endpoints WHERE tenant_id = :t AND id = :i"),
            {"t": tenant.id, "i": added.endpoint_id},
        ).scalar_one()
        audited = (
            uow.session.execute(
                text(
                    "SELECT coalesce(new_values::text, '') || coalesce(old_values::text, '')"
                    " FROM audit.log WHERE tenant_id = :t AND table_name = 'commerce.webhook_endpoints'"
                ),
                {"t": tenant.id},
            )
            .scalars()
            .all()
        )
    assert SECRET.encode() not in bytes(stored)
    assert audited and not any(SECRET in entry for entry in audited)
    with db.tenant_uow(tenant.id) as uow:  # the application reads it (to check signatures)
        assert active_secrets(uow) == [SECRET]


def test_rotation_adds_replace_revokes_and_the_same_secret_is_not_added_twice(
    db: Database, tenant: TenantFixture
) -> None:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        first = add_secret(uow, tenant.id, SECRET)
        again = add_secret(uow, tenant.id, SECRET)
        rolled = add_secret(uow, tenant.id, "whsec_rolled_0123456789ab")
        uow.commit()
    assert first.created and not again.created and again.endpoint_id == first.endpoint_id
    with db.tenant_uow(tenant.id) as uow:
        assert sorted(active_secrets(uow)) == sorted([SECRET, "whsec_rolled_0123456789ab"])
    with db.platform_uow(tenant_id=tenant.id) as uow:
        replaced = add_secret(uow, tenant.id, "whsec_rolled_0123456789ab", replace=True)
        uow.commit()
    assert replaced.endpoint_id == rolled.endpoint_id and replaced.revoked == 1
    with db.platform_uow(tenant_id=tenant.id) as uow:
        listed = list_endpoints(uow, tenant.id)
    assert [v.masked for v in listed] == ["whsec_****6789", "whsec_****89ab"]
    assert listed[0].revoked_at is not None and listed[1].revoked_at is None


def test_revoking_is_per_tenant(
    db: Database, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    with db.platform_uow(tenant_id=tenant.id) as uow:
        added = add_secret(uow, tenant.id, SECRET)
        uow.commit()
    with pytest.raises(NotFoundError), db.platform_uow(tenant_id=other_tenant.id) as uow:
        revoke_endpoint(uow, other_tenant.id, added.endpoint_id)
    with pytest.raises(NotFoundError), db.platform_uow(tenant_id=tenant.id) as uow:
        revoke_endpoint(uow, tenant.id, uuid.uuid4())
    with db.platform_uow(tenant_id=tenant.id) as uow:
        assert revoke_endpoint(uow, tenant.id, added.endpoint_id)
        assert not revoke_endpoint(uow, tenant.id, added.endpoint_id)
        uow.commit()
    with db.tenant_uow(tenant.id) as uow:
        assert active_secrets(uow) == []


@pytest.mark.parametrize(
    "bad",
    ["short", "whsec_with space_0123456", "whsec_" + "x" * 300, "wh\u00e9sec_0123456789abcdef"],
)
def test_a_secret_that_cannot_be_one_is_refused(
    db: Database, tenant: TenantFixture, bad: str
) -> None:
    with pytest.raises(ValidationError) as caught, db.platform_uow(tenant_id=tenant.id) as uow:
        add_secret(uow, tenant.id, bad)
    assert bad not in caught.value.message
