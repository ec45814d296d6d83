"""Roles and location scopes decide what a principal may do inside its tenant."""

from __future__ import annotations

import uuid

import pytest

from tenantry.errors import NotFoundError, PermissionDeniedError
from tenantry.models.enums import MembershipRole as R
from tenantry.services.principal import DOING, PERMISSIONS, Action, Principal

TENANT = uuid.uuid4()
LOC_A, LOC_B = uuid.uuid4(), uuid.uuid4()


def test_every_role_has_a_permission_row() -> None:
    assert set(PERMISSIONS) == set(R)


@pytest.mark.parametrize("role", list(R))
@pytest.mark.parametrize("action", list(Action))
def test_role_may_do_exactly_what_its_row_says(role: R, action: Action) -> None:
    p = Principal(tenant_id=TENANT, role=role)
    if action in PERMISSIONS[role]:
        p.require(action)
    else:
        with pytest.raises(PermissionDeniedError):
            p.require(action)


def test_analyst_is_read_only_and_only_owner_and_dpo_handle_privacy() -> None:
    assert PERMISSIONS[R.ANALYST] == {Action.READ}
    assert {r for r, acts in PERMISSIONS.items() if Action.PRIVACY in acts} == {R.OWNER, R.DPO}


def test_unscoped_principal_sees_every_location() -> None:
    p = Principal(tenant_id=TENANT, role=R.MANAGER)
    assert p.sees(LOC_A) and p.sees(LOC_B) and p.scope() is None


def test_scoped_manager_sees_only_their_locations_and_others_look_missing() -> None:
    p = Principal(tenant_id=TENANT, role=R.MANAGER, location_ids=frozenset({LOC_A}))
    assert p.sees(LOC_A) and not p.sees(LOC_B) and not p.sees(None)
    p.require_location(LOC_A)
    with pytest.raises(NotFoundError):
        p.require_location(LOC_B)


def test_requested_scope_is_intersected_with_the_principal_scope() -> None:
    p = Principal(tenant_id=TENANT, role=R.MANAGER, location_ids=frozenset({LOC_A}))
    assert p.scope([LOC_A, LOC_B]) == frozenset({LOC_A})
    assert Principal(tenant_id=TENANT, role=R.OWNER).scope([LOC_B]) == frozenset({LOC_B})


def test_only_the_dpo_may_erase_personal_data() -> None:
    assert {r for r, acts in PERMISSIONS.items() if Action.ERASE in acts} == {R.DPO}


def test_every_action_has_words_and_a_refusal_says_them() -> None:
    assert set(DOING) == set(Action)
    analyst = Principal(tenant_id=TENANT, role=R.ANALYST)
    with pytest.raises(PermissionDeniedError) as info:
        analyst.require(Action.ERASE)
    assert info.value.message == "role analyst may not erase personal data"
    with pytest.raises(PermissionDeniedError) as info:
        analyst.require(Action.WRITE_BOOKINGS)
    assert info.value.message == "role analyst may not change bookings"
    for action in Action:  # never the enum's code name
        if action not in PERMISSIONS[R.ANALYST]:
            with pytest.raises(PermissionDeniedError) as info:
                analyst.require(action)
            assert info.value.message == f"role analyst may not {DOING[action]}"
            assert DOING[action] != action.value
