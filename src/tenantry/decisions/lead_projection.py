"""Rescoring through the outbox: the `lead_scores` projection and its background thread.

Changes that feed a lead's score record outbox entries in their own transaction (ids only):
`lead.created`, `lead.status_changed`, `lead.changed` and `lead.interaction_recorded` name
the lead; `visibility_check_completed` names a location (its payload's `location_id`), whose
open leads are rescored; `lead_model.trained` rescores every open lead of the tenant. The
projection reads the tenant's outbox in stream order below the transaction horizon (see
`tenantry.events.stream`), rescores the affected open leads, and stores its position in
`events.projection_positions` in the same transaction as the scores it wrote, batch by batch.
A request never scores: it only records the change.

`LeadRescorer` runs the projection for every tenant with pending changes every few seconds
beside `tenantry serve`; a failure is logged by its class (never a value) and retried.

Recency features (days open, days quiet) age without events, so the rescorer also rescores
every open lead of each tenant once a day (`rescore_daily`): at most once an hour a process
tries a transaction-scoped advisory lock (one process of all does the round; the others
skip it) and rescores the tenants with open leads whose daily rescoring has not run on the
clock's UTC date yet. Its mark is the row `lead_scores_daily` of
`events.projection_positions` (`updated_at`: when it last ran, by the database's clock
object; `events`: how many daily rounds). A process that dies mid-round leaves the rest due
for the next hourly try. `tenantry leads rescore --all` does the same for one tenant, for
deployments that run it from cron.

Unlike the use cases of this package, this module is a worker: like the identity projection
(`tenantry.events.identity`) it opens its own units of work, one per batch, and commits each
with its position, so a long run never holds one huge transaction.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from tenantry.db.engine import Database
from tenantry.decisions.lead_features import EngagementSource, load_leads
from tenantry.decisions.lead_scoring import DAILY_REASON, current_model, score_leads
from tenantry.errors import TenantryError
from tenantry.events.stream import (
    SAFE_HORIZON,
    advance,
    after_position,
    locked_position,
    next_batch,
)
from tenantry.models.enums import LeadStatus

__all__ = [
    "EVENT_TYPES",
    "PROJECTION",
    "LeadRescorer",
    "RescoreReport",
    "pending_tenants",
    "project_lead_scores",
    "rescore_daily",
    "rescore_open_leads",
]

_COLUMNS = "aggregate_id, event_type, payload->>'location_id' AS location_id"  # of an entry

PROJECTION = "lead_scores"
ACTOR = "system:lead-scoring"
LEAD_EVENTS = ("lead.created", "lead.status_changed", "lead.changed", "lead.interaction_recorded")
LOCATION_EVENTS = ("visibility_check_completed",)
TENANT_EVENTS = ("lead_model.trained",)
EVENT_TYPES = (*LEAD_EVENTS, *LOCATION_EVENTS, *TENANT_EVENTS)
SCORE_BATCH = 1_000
DAILY = "lead_scores_daily"  # the projection_positions row marking the daily rescoring
DAILY_LOCK = 0x6C6561645F646179  # pg_try_advisory_xact_lock key: "lead_day"
DAILY_RETRY = timedelta(hours=1)  # how often a process tries the daily round
log = logging.getLogger("tenantry.decisions")


@dataclass
class RescoreReport:
    events: int = 0
    leads: int = 0  # leads scored
    rescored: int = 0  # score-history rows written

    def add(self, other: RescoreReport) -> None:
        self.events += other.events
        self.leads += other.leads
        self.rescored += other.rescored


def project_lead_scores(
    db: Database,
    tenant_id: uuid.UUID,
    engagement: EngagementSource,
    *,
    batch_size: int = 5_000,
) -> RescoreReport:
    """Read the tenant's new outbox entries and rescore the open leads they affect."""
    report = RescoreReport()
    while True:
        with db.tenant_uow(tenant_id, actor=ACTOR) as uow:
            pos = locked_position(uow.session, tenant_id, PROJECTION)
            rows = next_batch(uow.session, "events.outbox", _COLUMNS, pos, batch_size)
            if not rows:
                return report
            every = any(r.event_type in TENANT_EVENTS for r in rows)
            ids = {r.aggregate_id for r in rows if r.event_type in LEAD_EVENTS}
            places = {
                uuid.UUID(r.location_id)
                for r in rows
                if r.event_type in LOCATION_EVENTS and r.location_id
            }
            if every:
                leads = load_leads(uow, open_only=True)
            else:
                leads = load_leads(uow, ids=sorted(ids), open_only=True) if ids else []
                if places:
                    seen = {lead.id for lead in leads}
                    leads += [
                        lead
                        for lead in load_leads(uow, open_only=True)
                        if lead.location_id in places and lead.id not in seen
                    ]
            current = current_model(uow)
            for start in range(0, len(leads), SCORE_BATCH):
                chunk = leads[start : start + SCORE_BATCH]
                report.rescored += score_leads(uow, chunk, engagement, current=current)
            report.leads += len(leads)
            advance(pos, rows)
            report.events += len(rows)
            uow.commit()
        if len(rows) < batch_size:
            return report


def rescore_open_leads(
    db: Database, tenant_id: uuid.UUID, engagement: EngagementSource, *, reason: str = "rescored"
) -> RescoreReport:
    """Score every open lead of the tenant now, one transaction per batch."""
    report = RescoreReport()
    with db.tenant_uow(tenant_id, actor=ACTOR) as uow:
        ids = [lead.id for lead in load_leads(uow, open_only=True)]
    for start in range(0, len(ids), SCORE_BATCH):
        with db.tenant_uow(tenant_id, actor=ACTOR) as uow:
            leads = load_leads(uow, ids=ids[start : start + SCORE_BATCH], open_only=True)
            report.rescored += score_leads(uow, leads, engagement, reason=reason)
            report.leads += len(leads)
            uow.commit()
    return report


_DUE = sa.text(
    "SELECT t.id FROM identity.tenants t"
    " LEFT JOIN events.projection_positions p"
    " ON p.tenant_id = t.id AND p.projection = :daily"
    " WHERE (p.updated_at IS NULL OR p.updated_at < :day)"
    " AND EXISTS (SELECT 1 FROM crm.leads l WHERE l.tenant_id = t.id"
    " AND l.deleted_at IS NULL AND l.status NOT IN (:won, :lost))"
    " ORDER BY t.id"
)
_MARK_DAILY = sa.text(
    "INSERT INTO events.projection_positions (tenant_id, projection, events, updated_at)"
    " VALUES (:t, :daily, 1, :now) ON CONFLICT (tenant_id, projection) DO UPDATE"
    " SET events = events.projection_positions.events + 1, updated_at = :now"
)


def rescore_daily(
    db: Database, engagement: EngagementSource, *, stop: threading.Event | None = None
) -> RescoreReport | None:
    """Rescore the open leads of every tenant not rescored yet on the clock's UTC date; None
    when another process holds the daily round (the advisory lock) and nothing was done."""
    report = RescoreReport()
    with db.platform_uow(actor=ACTOR) as lock:
        if not lock.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(DAILY_LOCK))):
            return None
        day = datetime.combine(lock.clock.now().date(), time(0), UTC)
        params = {
            "daily": DAILY,
            "day": day,
            "won": LeadStatus.CONVERTED.value,
            "lost": LeadStatus.LOST.value,
        }
        due = list(lock.session.scalars(_DUE, params))
        for tenant_id in due:
            if stop is not None and stop.is_set():
                break
            report.add(rescore_open_leads(db, tenant_id, engagement, reason=DAILY_REASON))
            with db.tenant_uow(tenant_id, actor=ACTOR) as uow:
                uow.session.execute(
                    _MARK_DAILY, {"t": tenant_id, "daily": DAILY, "now": uow.clock.now()}
                )
                uow.commit()
    return report


def pending_tenants(db: Database) -> list[uuid.UUID]:
    """Tenants whose outbox holds scoring changes past the projection's position."""
    types = ", ".join(f"'{t}'" for t in EVENT_TYPES)
    with db.platform_uow(actor=ACTOR) as uow:
        return list(
            uow.session.scalars(
                sa.text(
                    "SELECT t.id FROM identity.tenants t"
                    " LEFT JOIN events.projection_positions p"
                    f" ON p.tenant_id = t.id AND p.projection = '{PROJECTION}'"
                    " WHERE EXISTS (SELECT 1 FROM events.outbox o WHERE o.tenant_id = t.id"
                    " AND (o.txid, o.seq) > (coalesce(p.last_txid, '0'::xid8),"
                    " coalesce(p.last_seq, 0))"
                    f" AND o.event_type IN ({types}) AND o.{SAFE_HORIZON})"
                    " ORDER BY t.id"
                )
            )
        )


_MARK = sa.text(
    "SELECT txid::text AS txid, seq FROM events.outbox"
    f" WHERE {SAFE_HORIZON} ORDER BY txid DESC, seq DESC LIMIT 1"
)
_SINCE = sa.text(
    "SELECT txid::text AS txid, seq, tenant_id, event_type FROM events.outbox"
    f" WHERE {after_position()} ORDER BY txid, seq LIMIT :n"
)


class LeadRescorer:
    """A daemon thread running the projection for every tenant with pending changes.

    The first round asks every tenant (`pending_tenants`); later rounds read only the outbox
    entries written since the previous round (an index range scan in stream order), so an
    idle poll costs one short query however long the outbox is. With `daily`, a round also
    tries the daily rescoring (`rescore_daily`) once `DAILY_RETRY` has passed on the
    database's clock since this process last tried (the first round tries it).
    """

    def __init__(
        self,
        db: Database,
        engagement: EngagementSource,
        every_seconds: float,
        *,
        daily: bool = True,
    ) -> None:
        self.db = db
        self.engagement = engagement
        self.every_seconds = every_seconds
        self.daily = daily
        self.report = RescoreReport()
        self._daily_next: datetime | None = None
        self._mark: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every_seconds <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="lead-rescorer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _changed(self, batch: int = 10_000) -> list[uuid.UUID]:
        with self.db.platform_uow(actor=ACTOR) as uow:
            if self._mark is None:
                last = uow.session.execute(_MARK).first()
                self._mark = (int(last.txid), last.seq) if last else (0, 0)
                return pending_tenants(self.db)
            tenants: set[uuid.UUID] = set()
            while True:
                rows = uow.session.execute(
                    _SINCE, {"last_txid": self._mark[0], "last_seq": self._mark[1], "n": batch}
                ).all()
                if rows:
                    self._mark = (int(rows[-1].txid), rows[-1].seq)
                tenants |= {r.tenant_id for r in rows if r.event_type in EVENT_TYPES}
                if len(rows) < batch:
                    return sorted(tenants)

    def run_once(self) -> RescoreReport:
        """One round: the projection for every tenant with changes since the last round."""
        report = RescoreReport()
        for tenant_id in self._changed():
            if self._stop.is_set():
                break
            report.add(project_lead_scores(self.db, tenant_id, self.engagement))
        now = self.db.clock.now()
        if self.daily and (self._daily_next is None or now >= self._daily_next):
            self._daily_next = now + DAILY_RETRY
            daily = rescore_daily(self.db, self.engagement, stop=self._stop)
            if daily is not None:
                report.leads += daily.leads
                report.rescored += daily.rescored
        self.report.add(report)
        return report

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except (SQLAlchemyError, TenantryError, OSError, ValueError) as exc:
                # The next round asks every tenant again: none of this round's is lost.
                self._mark = None
                log.warning("lead rescoring failed", extra={"error": type(exc).__name__})
            self._stop.wait(self.every_seconds)
