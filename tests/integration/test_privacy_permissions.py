"""Every privacy service an entrypoint calls checks the acting principal itself.

For each entrypoint service of consent, double opt-in and retention, every role that lacks the
action is refused with `PermissionDeniedError` before anything changes, and every role that has
it gets past the check. The roles come from `PERMISSIONS`, so a changed cell is tested too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tenantry.db.engine import Database
from tenantry.errors import PermissionDeniedError, TenantryError
from tenantry.models.enums import ConsentPurpose, HoldScope, MembershipRole
from tenantry.services.principal import PERMISSIONS, Action, Principal
from tenantry.services.privacy.consent import Notice, read_consent, record_consent
from tenantry.services.privacy.doi import confirm_opt_in, start_opt_in
from tenantry.services.privacy.retention import (
    effective_policies,
    place_hold,
    release_hold,
    run_retention,
)
from tests.conftest import TenantFixture

NOTICE = Notice("2026-01", "We write once a month. Withdraw any time.")
EMAIL = "permission.person@example.org"

Call = Callable[[Database, Principal], object]


def _in_uow(work: Callable[..., object]) -> Call:
    def call(db: Database, principal: Principal) -> object:
        with db.tenant_uow(principal.tenant_id) as uow:
            return work(uow, principal)  # rolled back: nothing is kept

    return call


ENTRYPOINTS: dict[str, tuple[Action, Call]] = {
    "record_consent": (
        Action.WRITE_CRM,
        _in_uow(
            lambda uow, p: record_consent(
                uow,
                p,
                email=EMAIL,
                purpose=ConsentPurpose.ANALYTICS,
                decision="granted",
                source="web_form",
                notice=NOTICE,
            )
        ),
    ),
    "read_consent": (Action.READ, _in_uow(lambda uow, p: read_consent(uow, p, email=EMAIL))),
    "start_opt_in": (
        Action.WRITE_CRM,
        _in_uow(
            lambda uow, p: start_opt_in(
                uow, p, email=EMAIL, purpose=ConsentPurpose.MARKETING_EMAIL, notice=NOTICE
            )
        ),
    ),
    "confirm_opt_in": (
        Action.WRITE_CRM,
        _in_uow(lambda uow, p: confirm_opt_in(uow, p, "no-such-token", notice=NOTICE)),
    ),
    "run_retention": (Action.PRIVACY, lambda db, p: run_retention(db, p, dry_run=True)),
    "effective_policies": (Action.READ, _in_uow(effective_policies)),
    "place_hold": (
        Action.PRIVACY,
        _in_uow(
            lambda uow, p: place_hold(
                uow,
                p,
                scope=HoldScope.DATASET,
                dataset="commerce.invoices",
                reason="tax audit",
                placed_by="test",
            )
        ),
    ),
    "release_hold": (Action.PRIVACY, _in_uow(lambda uow, p: release_hold(uow, p, uuid.uuid4()))),
}

CASES = [
    pytest.param(name, role, id=f"{name}-{role.value}")
    for name in ENTRYPOINTS
    for role in MembershipRole
]


@pytest.mark.parametrize(("name", "role"), CASES)
def test_each_privacy_entrypoint_service_checks_the_role_itself(
    db: Database, tenant: TenantFixture, name: str, role: MembershipRole
) -> None:
    action, call = ENTRYPOINTS[name]
    principal = Principal(tenant_id=tenant.id, role=role)
    if action not in PERMISSIONS[role]:
        with pytest.raises(PermissionDeniedError, match=f"role {role.value} may not"):
            call(db, principal)
        return
    try:
        call(db, principal)
    except PermissionDeniedError:  # pragma: no cover - the failure this test exists for
        pytest.fail(f"role {role.value} was refused {name}")
    except TenantryError:
        pass  # past the check: e.g. an unknown token or hold is refused on its merits


def test_an_analyst_may_not_run_retention_or_touch_legal_holds(
    db: Database, tenant: TenantFixture
) -> None:
    analyst = Principal(tenant_id=tenant.id, role=MembershipRole.ANALYST)
    for name in ("record_consent", "start_opt_in", "confirm_opt_in", "run_retention"):
        with pytest.raises(PermissionDeniedError):
            ENTRYPOINTS[name][1](db, analyst)
    for name in ("place_hold", "release_hold"):
        with pytest.raises(PermissionDeniedError, match="legal holds"):
            ENTRYPOINTS[name][1](db, analyst)
