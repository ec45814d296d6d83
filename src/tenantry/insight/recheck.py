"""Freshness: fetch a location's sources again; changed content makes statements stale.

Each source fetched anew is recorded as a new retrieval with its facts, and succeeds the
source's earlier evidence (`tenantry.insight.succession`): compared with the newest earlier
retrieval, the same SHA-256 means the old statements still hold; another one marks every
statement and recommendation resting on the superseded evidence stale, and their checks too.
A source that cannot be fetched now supersedes nothing: a failure is not a change of content.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.insight import ledger
from tenantry.insight.runner import CheckRunner, target_of
from tenantry.insight.snapshots import record_snapshots
from tenantry.insight.succession import current_sources, succeed
from tenantry.models import (
    Evidence,
    Location,
    VisibilityCheck,
)

__all__ = ["RecheckReport", "recheck"]


@dataclass
class RecheckReport:
    locations: int = 0
    fetched: int = 0
    unchanged: int = 0
    changed: int = 0
    superseded: int = 0
    statements_stale: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def _locations(
    db: Database, tenant_id: uuid.UUID, location_id: uuid.UUID | None, check_id: uuid.UUID | None
) -> list[uuid.UUID]:
    with db.tenant_uow(tenant_id) as uow:
        if check_id is not None:
            check = uow.session.get(VisibilityCheck, (tenant_id, check_id))
            return [check.location_id] if check is not None else []
        if location_id is not None:
            return [location_id]
        return list(
            uow.session.scalars(
                sa.select(sa.distinct(Evidence.location_id)).where(
                    Evidence.tenant_id == tenant_id,
                    Evidence.superseded_at.is_(None),
                    Evidence.location_id.is_not(None),
                )
            )
        )


def recheck(
    db: Database,
    runner: CheckRunner,
    tenant_id: uuid.UUID,
    *,
    location_id: uuid.UUID | None = None,
    check_id: uuid.UUID | None = None,
) -> RecheckReport:
    """Recheck one location, the location of one check, or every location with evidence."""
    report = RecheckReport()
    for loc in _locations(db, tenant_id, location_id, check_id):
        with db.tenant_uow(tenant_id, actor="insight:recheck") as uow:
            location = uow.session.get(Location, (tenant_id, loc))
            if location is None:
                continue
            target = target_of(uow, location)
        report.locations += 1
        collected, failures = runner.collect(target)
        report.failures += failures
        with db.tenant_uow(tenant_id, actor="insight:recheck") as uow:
            current = current_sources(uow, loc)
            fetched = [(r, facts) for c in collected for r, facts in c.retrievals if r.ok]
            recorded = ledger.record(uow, location_id=loc, check_id=None, retrievals=fetched)
            done = succeed(uow, loc, recorded.retrievals, current)
            report.fetched += len(fetched)
            report.changed += done.changed
            report.unchanged += done.unchanged
            report.superseded += done.superseded
            report.statements_stale += done.statements_stale
            record_snapshots(uow, location_id=loc)  # the day's figures, as after a check
            ledger.apply_connection_updates(
                uow, [u for c in collected for u in c.connection_updates], uow.clock.now()
            )
            uow.commit()
    return report
