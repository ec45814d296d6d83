"""Who is acting: the principal, its role's permissions and its location scope.

Row level security confines a principal to its tenant; inside a tenant, roles and location
scopes are enforced here. A principal scoped to locations (a station or workshop manager)
cannot see or touch a record of another location: such records are reported as not found, so
their existence does not leak.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from tenantry.errors import NotFoundError, PermissionDeniedError
from tenantry.models.enums import MembershipRole

__all__ = ["DOING", "PERMISSIONS", "Action", "Principal"]


class Action(StrEnum):
    READ = "read"
    WRITE_CRM = "write_crm"
    WRITE_BOOKINGS = "write_bookings"
    WRITE_PAYMENTS = "write_payments"
    MANAGE_LOCATIONS = "manage_locations"
    MANAGE_MEMBERS = "manage_members"
    PRIVACY = "privacy"
    ERASE = "erase"  # personal data of a data subject (GDPR Art. 17): the dpo alone
    INGEST_EVENTS = "ingest_events"
    MANAGE_EXPERIMENTS = "manage_experiments"


_R = MembershipRole
_A = Action

# What each action is, as the end of "role analyst may not ...".
DOING: dict[Action, str] = {
    _A.READ: "read this tenant's records",
    _A.WRITE_CRM: "change leads, customers, vehicles or consents",
    _A.WRITE_BOOKINGS: "change bookings",
    _A.WRITE_PAYMENTS: "record payments",
    _A.MANAGE_LOCATIONS: "manage locations",
    _A.MANAGE_MEMBERS: "manage members",
    _A.PRIVACY: "handle data-subject requests (access to and export of personal data)",
    _A.ERASE: "erase personal data",
    _A.INGEST_EVENTS: "send events",
    _A.MANAGE_EXPERIMENTS: "create, pause, resume or stop experiments",
}

PERMISSIONS: dict[MembershipRole, frozenset[Action]] = {
    _R.OWNER: frozenset(Action) - {_A.ERASE},
    _R.ADMIN: frozenset(Action) - {_A.PRIVACY, _A.ERASE},
    _R.MANAGER: frozenset(
        {_A.READ, _A.WRITE_CRM, _A.WRITE_BOOKINGS, _A.WRITE_PAYMENTS, _A.INGEST_EVENTS}
    ),
    _R.STAFF: frozenset({_A.READ, _A.WRITE_CRM, _A.WRITE_BOOKINGS, _A.INGEST_EVENTS}),
    _R.ANALYST: frozenset({_A.READ}),
    _R.DPO: frozenset({_A.READ, _A.PRIVACY, _A.ERASE}),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated actor inside one tenant."""

    tenant_id: uuid.UUID
    role: MembershipRole
    user_id: uuid.UUID | None = None
    location_ids: frozenset[uuid.UUID] | None = None  # None: every location of the tenant

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}" if self.user_id else f"role:{self.role.value}"

    def require(self, action: Action, doing: str | None = None) -> None:
        """Refuse unless the role may take `action`; `doing` names the act more precisely."""
        if action not in PERMISSIONS[self.role]:
            raise PermissionDeniedError(
                f"role {self.role.value} may not {doing or DOING[action]}",
                role=self.role.value,
                action=action.value,
            )

    def sees(self, location_id: uuid.UUID | None) -> bool:
        if self.location_ids is None:
            return True
        return location_id is not None and location_id in self.location_ids

    def require_location(self, location_id: uuid.UUID | None, what: str = "record") -> None:
        """Out-of-scope records are reported as missing, never as forbidden."""
        if not self.sees(location_id):
            raise NotFoundError(f"{what} not found")

    def scope(self, requested: Iterable[uuid.UUID] | None = None) -> frozenset[uuid.UUID] | None:
        """The location filter to apply: the requested ones, limited to the principal's scope."""
        if requested is None:
            return self.location_ids
        wanted = frozenset(requested)
        return wanted if self.location_ids is None else wanted & self.location_ids
