"""Identity resolution: `identity.identity_links` maintained from events and channel connections.

Rules, applied in stream order, so the same events always give the same links:

- An external id is linked to one target within one tenant: GA4 client and user ids to the
  event's user, GBP place ids, Facebook page ids and Instagram business ids to the event's
  location. Links never cross tenants (every read and write is bound to the tenant).
- Junk ids (empty, "null", "undefined", "anonymous", "0", ...) never link (ingestion drops them).
- Per-source limits per target (`LIMITS`): a user has at most 10 GA4 ids (devices), a location
  one place, one page, one Instagram account. Observations beyond the limit are not linked.
- An id seen with a second target is ambiguous (a shared device, a mistyped id): its link is
  deactivated with `attributes.conflict`, whatever the order, and is never re-activated.
- `unlink` (unmerge) deactivates a link with `attributes.unmerged`; events do not re-create it.

The event projection stores its position in `events.projection_positions` in the same
transaction as the links it wrote.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError
from tenantry.events.schemas import EXTERNAL_ID_KEYS, is_junk_id
from tenantry.events.stream import advance, locked_position, next_batch
from tenantry.models import Connection, IdentityLink
from tenantry.models.enums import ConnectionProvider, ExternalSource

__all__ = [
    "LIMITS",
    "PROJECTION",
    "LinkReport",
    "link_connection",
    "observe",
    "project_identity_links",
    "unlink",
]

_COLUMNS = "user_id, location_id, external_ids, event_ts"  # what links read of an event

PROJECTION = "identity_links"
# (source, target kind) -> most active links one target may have.
LIMITS: dict[tuple[str, str], int] = {
    ("ga4", "user"): 10,
    ("gbp", "location"): 1,
    ("facebook", "location"): 1,
    ("instagram", "location"): 1,
}
_USER_SOURCES = {"ga4"}
_CONNECTIONS = {
    ConnectionProvider.GOOGLE_BUSINESS_PROFILE: ("gbp", "external_location_id"),
    ConnectionProvider.FACEBOOK: ("facebook", "external_account_id"),
    ConnectionProvider.INSTAGRAM: ("instagram", "external_account_id"),
}


@dataclass
class LinkReport:
    linked: int = 0
    seen: int = 0
    conflicts: int = 0
    over_limit: int = 0
    skipped: int = 0
    events: int = 0
    outcomes: list[str] = field(default_factory=list)

    def note(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.outcomes.append(outcome)


def _target(link: IdentityLink) -> tuple[str, uuid.UUID | None]:
    return ("user", link.user_id) if link.user_id is not None else ("location", link.location_id)


def observe(
    uow: UnitOfWork,
    report: LinkReport,
    *,
    source: str,
    external_id: str,
    at: datetime,
    user_id: uuid.UUID | None = None,
    location_id: uuid.UUID | None = None,
) -> str:
    """Apply one observation "this id belongs to this user/location"; returns the outcome."""
    tenant = uow.require_tenant()
    if is_junk_id(external_id) or (user_id is None) == (location_id is None):
        report.note("skipped")
        return "skipped"
    kind, target = ("user", user_id) if user_id is not None else ("location", location_id)
    link = uow.session.scalars(
        sa.select(IdentityLink).where(
            IdentityLink.tenant_id == tenant,
            IdentityLink.source == source,
            IdentityLink.external_id == external_id,
        )
    ).one_or_none()
    if link is not None:
        if _target(link) != (kind, target):
            if link.is_active:
                link.is_active = False
                link.attributes = {**link.attributes, "conflict": True}
            report.note("conflicts")
            return "conflicts"
        link.first_seen_at = min(link.first_seen_at, at)
        link.last_seen_at = max(link.last_seen_at, at)
        report.note("seen")
        return "seen"
    column = IdentityLink.user_id if kind == "user" else IdentityLink.location_id
    active = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(IdentityLink)
        .where(
            IdentityLink.tenant_id == tenant,
            IdentityLink.source == source,
            column == target,
            IdentityLink.is_active,
        )
    )
    if (active or 0) >= LIMITS[(source, kind)]:
        report.note("over_limit")
        return "over_limit"
    uow.session.add(
        IdentityLink(
            tenant_id=tenant,
            id=uow.ids(),
            user_id=user_id,
            location_id=location_id,
            source=ExternalSource(source),
            external_id=external_id,
            first_seen_at=at,
            last_seen_at=at,
        )
    )
    uow.flush()
    report.note("linked")
    return "linked"


def _observe_event(uow: UnitOfWork, report: LinkReport, row: Any, members: set[uuid.UUID]) -> None:
    ids: dict[str, str] = row.external_ids or {}
    for name, value in sorted(ids.items()):
        source = EXTERNAL_ID_KEYS[name]
        if source in _USER_SOURCES:
            if row.user_id is not None and row.user_id in members:
                observe(
                    uow,
                    report,
                    source=source,
                    external_id=value,
                    at=row.event_ts,
                    user_id=row.user_id,
                )
        elif row.location_id is not None:
            observe(
                uow,
                report,
                source=source,
                external_id=value,
                at=row.event_ts,
                location_id=row.location_id,
            )


def project_identity_links(
    db: Database, tenant_id: uuid.UUID, *, batch_size: int = 5_000
) -> LinkReport:
    """Read the tenant's new inbox events and maintain its identity links, batch by batch."""
    report = LinkReport()
    while True:
        with db.tenant_uow(tenant_id, actor="system:identity") as uow:
            pos = locked_position(uow.session, tenant_id, PROJECTION)
            rows = next_batch(uow.session, "events.inbox", _COLUMNS, pos, batch_size)
            if not rows:
                return report
            users = {r.user_id for r in rows if r.user_id is not None and r.external_ids}
            members = (
                set(
                    uow.session.scalars(
                        sa.text(
                            "SELECT user_id FROM identity.memberships"
                            " WHERE tenant_id = :t AND user_id = ANY(:u)"
                        ),
                        {"t": tenant_id, "u": list(users)},
                    )
                )
                if users
                else set()
            )
            for row in rows:
                if row.external_ids:
                    _observe_event(uow, report, row, members)
            advance(pos, rows)
            report.events += len(rows)
            uow.commit()
        if len(rows) < batch_size:
            return report


def link_connection(uow: UnitOfWork, connection_id: uuid.UUID, report: LinkReport) -> str:
    """Link a channel connection's external id (GBP place, Facebook page, Instagram account)."""
    conn = uow.session.get(Connection, (uow.require_tenant(), connection_id))
    if conn is None:
        raise NotFoundError("connection not found")
    mapping = _CONNECTIONS.get(ConnectionProvider(conn.provider))
    value = getattr(conn, mapping[1]) if mapping else None
    if mapping is None or not value:
        report.note("skipped")
        return "skipped"
    return observe(
        uow,
        report,
        source=mapping[0],
        external_id=str(value).strip(),
        at=uow.clock.now(),
        location_id=conn.location_id,
    )


def unlink(uow: UnitOfWork, source: str, external_ids: Iterable[str]) -> int:
    """Unmerge: deactivate these links for good; returns how many changed."""
    changed = 0
    for link in uow.session.scalars(
        sa.select(IdentityLink).where(
            IdentityLink.tenant_id == uow.require_tenant(),
            IdentityLink.source == source,
            IdentityLink.external_id.in_(list(external_ids)),
        )
    ):
        link.is_active = False
        link.attributes = {**link.attributes, "unmerged": True}
        changed += 1
    uow.flush()
    return changed
