"""Outcomes of logged decisions: recorded directly, or projected from ingested events.

A decision's outcome is set once (success or failure) and moves its posterior cell's counts;
an outcome after the decision's `expires_at` is refused, so is a second one. Events that carry
`decision_id` in their properties (`events.inbox`) are read in stream order by a projection
whose position lives in `events.projection_positions` and moves in the same transaction as the
outcomes it wrote. Seed 001's signals:

- positive: `step_completed` in under 2 minutes, `onb_complete`, `email_click`,
  `visibility_check_completed` with a positive `score_delta` property;
- negative: `step_abandoned`, a `step_completed` that took over 5 minutes (metric `abandon`),
  `email_bounce`, `email_unsubscribe`, `email_complaint`.

An event about a user (one with a `user_id`, stored as its pseudonym) counts only for that
user's decisions; an event about no user (an e-mail click tracked by campaign) counts for the
decision it names. The first signal decides the outcome; every negative signal is also noted
on the decision (`signals`) for the guardrail metrics. Other events are passed over. After
each batch the guardrails of the experiments it touched are checked. Never commits but in the
projection's own per-batch units of work.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.decisions.guardrails import check_guardrails
from tenantry.errors import ConflictError, NotFoundError
from tenantry.events.stream import advance, locked_position, next_batch
from tenantry.models.experiments import Decision as DecisionRow

__all__ = [
    "PROJECTION",
    "OutcomeWorker",
    "ProjectionReport",
    "Signal",
    "live_tenants",
    "project_outcomes",
    "record_outcome",
    "signal_of",
]

_COLUMNS = (  # what the projection reads of an inbox event
    "event_type, event_ts, user_key, properties->>'decision_id' AS decision_id,"
    " CASE WHEN properties ? 'decision_id' THEN properties END AS properties"
)

log = logging.getLogger(__name__)

PROJECTION = "decision_outcomes"
FAST_STEP_SECONDS = 120
SLOW_STEP_SECONDS = 300


@dataclass(frozen=True)
class Signal:
    success: bool
    metric: str | None = None  # the guardrail metric a negative signal counts for


_FIXED: dict[str, Signal] = {
    "onb_complete": Signal(True),
    "email_click": Signal(True),
    "step_abandoned": Signal(False, "abandon"),
    "email_bounce": Signal(False, "bounce"),
    "email_unsubscribe": Signal(False, "unsubscribe"),
    "email_complaint": Signal(False, "complaint"),
}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def signal_of(event_type: str, properties: dict[str, Any]) -> Signal | None:
    """The outcome signal of one event, or None if it says nothing about the decision."""
    if event_type in _FIXED:
        return _FIXED[event_type]
    if event_type == "step_completed":
        seconds = _number(properties.get("duration_seconds"))
        if seconds is None:
            return None
        if seconds < FAST_STEP_SECONDS:
            return Signal(True)
        if seconds > SLOW_STEP_SECONDS:
            return Signal(False, "abandon")
        return None
    if event_type == "visibility_check_completed":
        delta = _number(properties.get("score_delta"))
        return Signal(True) if delta is not None and delta > 0 else None
    return None


_BUMP = sa.text(
    "INSERT INTO decisions.posteriors (tenant_id, id, experiment_id, arm, cell, successes,"
    " failures) VALUES (:t, :id, :e, :arm, :cell, :s, :f)"
    " ON CONFLICT (tenant_id, experiment_id, cell, arm) DO UPDATE SET"
    " successes = decisions.posteriors.successes + EXCLUDED.successes,"
    " failures = decisions.posteriors.failures + EXCLUDED.failures, updated_at = now()"
)


def _locked(uow: UnitOfWork, decision_id: uuid.UUID) -> DecisionRow:
    row = uow.session.execute(
        sa.select(DecisionRow)
        .where(DecisionRow.tenant_id == uow.require_tenant(), DecisionRow.id == decision_id)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError("decision not found")
    return row


def _apply(uow: UnitOfWork, row: DecisionRow, success: bool, at: datetime, source: str) -> None:
    row.outcome, row.outcome_at, row.outcome_source = success, at, source
    uow.session.execute(
        _BUMP,
        {
            "t": row.tenant_id,
            "id": uow.ids(),
            "e": row.experiment_id,
            "arm": row.arm,
            "cell": row.cell,
            "s": int(success),
            "f": int(not success),
        },
    )


def record_outcome(
    uow: UnitOfWork,
    decision_id: uuid.UUID,
    success: bool,
    *,
    source: str = "api",
    metric: str | None = None,
) -> DecisionRow:
    """Set a decision's outcome: NotFoundError if unknown, ConflictError if it already has one
    or has expired (nothing is written then). Checks the experiment's guardrails after."""
    row = _locked(uow, decision_id)
    now = uow.clock.now()
    if row.outcome is not None:
        raise ConflictError("this decision already has an outcome")
    if now > row.expires_at:
        raise ConflictError("this decision has expired: its outcome can no longer be recorded")
    _apply(uow, row, success, now, source)
    if metric is not None and metric not in row.signals:
        row.signals = [*row.signals, metric]
    uow.flush()
    check_guardrails(uow, row.experiment_id)
    return row


@dataclass
class ProjectionReport:
    events: int = 0
    outcomes: int = 0
    signals: int = 0
    already_decided: int = 0
    expired: int = 0
    unknown: int = 0
    other_user: int = 0
    paused_arms: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return dict(self.__dict__)


def _parse(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _observe(uow: UnitOfWork, report: ProjectionReport, row: Any, touched: set[uuid.UUID]) -> None:
    signal = signal_of(row.event_type, row.properties or {})
    decision_id = _parse(row.decision_id)
    if signal is None or decision_id is None:
        return
    decision = uow.session.execute(
        sa.select(DecisionRow)
        .where(DecisionRow.tenant_id == uow.require_tenant(), DecisionRow.id == decision_id)
        .with_for_update()
    ).scalar_one_or_none()
    if decision is None:
        report.unknown += 1
        return
    if row.user_key is not None and row.user_key != decision.user_key:
        # An event about a user is that user's signal, never another user's outcome.
        report.other_user += 1
        return
    if row.event_ts > decision.expires_at:
        report.expired += 1
        return
    if signal.metric is not None and signal.metric not in decision.signals:
        decision.signals = [*decision.signals, signal.metric]
        report.signals += 1
        touched.add(decision.experiment_id)
    if decision.outcome is None:
        _apply(uow, decision, signal.success, row.event_ts, "event")
        report.outcomes += 1
        touched.add(decision.experiment_id)
    else:
        report.already_decided += 1


def project_outcomes(
    db: Database, tenant_id: uuid.UUID, *, batch_size: int = 5_000
) -> ProjectionReport:
    """Read the tenant's new inbox events and turn decision signals into outcomes."""
    report = ProjectionReport()
    while True:
        with db.tenant_uow(tenant_id, actor="system:outcomes") as uow:
            pos = locked_position(uow.session, tenant_id, PROJECTION)
            rows = next_batch(uow.session, "events.inbox", _COLUMNS, pos, batch_size)
            if not rows:
                return report
            touched: set[uuid.UUID] = set()
            for row in rows:
                if row.decision_id is not None:
                    _observe(uow, report, row, touched)
            uow.flush()
            for experiment_id in sorted(touched):
                report.paused_arms += check_guardrails(uow, experiment_id)
            advance(pos, rows)
            report.events += len(rows)
            uow.commit()
        if len(rows) < batch_size:
            return report


def live_tenants(db: Database) -> list[uuid.UUID]:
    """Tenants with a running or paused experiment (the owner reads across tenants)."""
    with db.platform_uow(actor="system:outcomes") as uow:
        return list(
            uow.session.scalars(
                sa.text(
                    "SELECT DISTINCT tenant_id FROM decisions.experiments"
                    " WHERE status <> 'stopped' ORDER BY tenant_id"
                )
            )
        )


class OutcomeWorker:
    """A thread that projects outcomes for every tenant with a live experiment, every
    `poll_seconds` (started by `tenantry serve` beside the API)."""

    def __init__(self, db: Database, *, poll_seconds: float = 2.0) -> None:
        self.db = db
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="outcome-projection", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> int:
        """One pass over the live tenants; returns the outcomes written."""
        written = 0
        for tenant_id in live_tenants(self.db):
            written += project_outcomes(self.db, tenant_id).outcomes
        return written

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # the database went away: wait and try again
                log.warning("outcome projection: %s", type(exc).__name__)
                self._stop.wait(self.poll_seconds * 5)
                continue
            self._stop.wait(self.poll_seconds)
