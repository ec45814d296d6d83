"""The check worker: claims queued checks of every tenant and runs them.

A claim takes the oldest queued check with `FOR UPDATE SKIP LOCKED` and marks it `running`
in its own short transaction, so any number of workers (threads of `tenantry serve`, or
`tenantry vc work` processes on other machines) share the queue without running a check twice.
A check left `running` by a worker that died is queued again after `stale_after` (at most
`MAX_ATTEMPTS` runs, then it fails). The worker also refreshes the k-anonymous benchmarks of
the last 30 days once a day (one worker of all does it: an advisory lock decides). `build_runner`
assembles the collectors, the guarded
fetcher and the analysers the settings name.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.insight.analysis import make_analyser
from tenantry.insight.analysis.rules import RulesAnalyser
from tenantry.insight.benchmarks import refresh_benchmarks
from tenantry.insight.collectors import default_collectors
from tenantry.insight.http import SafeFetcher
from tenantry.insight.runner import CheckRunner, Outcome
from tenantry.models import VisibilityCheck
from tenantry.models.enums import VisibilityCheckStatus

__all__ = [
    "MAX_ATTEMPTS",
    "CheckWorker",
    "build_runner",
    "claim_next",
    "refresh_daily_benchmarks",
    "requeue_stale",
    "run_pending",
]

log = logging.getLogger("tenantry.insight")

MAX_ATTEMPTS = 3
BENCHMARK_DAYS = 30
_BENCHMARK_LOCK = 0x76635F62656E6368  # pg_try_advisory_xact_lock key: "vc_bench"


def build_runner(db: Database, settings: Settings) -> CheckRunner:
    fallback = RulesAnalyser()
    analyser = make_analyser(settings)
    return CheckRunner(
        db=db,
        collectors=default_collectors(settings),
        fetcher=SafeFetcher.from_settings(settings),
        analyser=analyser,
        fallback=fallback,
    )


def requeue_stale(db: Database, stale_after: timedelta) -> None:
    """Queue again the checks a dead worker left running; fail those run too often."""
    with db.platform_uow(actor="insight:worker") as uow:
        cutoff = uow.clock.now() - stale_after
        running = VisibilityCheck.status == VisibilityCheckStatus.RUNNING
        old = VisibilityCheck.started_at < cutoff
        uow.session.execute(
            sa.update(VisibilityCheck)
            .where(running, old, VisibilityCheck.attempts >= MAX_ATTEMPTS)
            .values(
                status=VisibilityCheckStatus.FAILED,
                error="the check did not finish after several attempts",
                completed_at=uow.clock.now(),
            )
        )
        uow.session.execute(
            sa.update(VisibilityCheck)
            .where(running, old, VisibilityCheck.attempts < MAX_ATTEMPTS)
            .values(status=VisibilityCheckStatus.QUEUED)
        )
        uow.commit()


def refresh_daily_benchmarks(db: Database, min_tenants: int) -> bool:
    """Recompute the last 30 days' benchmarks unless another worker is doing it right now."""
    with db.platform_uow(actor="insight:worker") as uow:
        if not uow.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(_BENCHMARK_LOCK))):
            return False
        today = uow.clock.now().date()
        refresh_benchmarks(
            uow,
            period_start=today - timedelta(days=BENCHMARK_DAYS),
            period_end=today,
            min_tenants=min_tenants,
        )
        uow.commit()
    return True


def claim_next(
    db: Database, *, tenant_id: uuid.UUID | None = None, check_id: uuid.UUID | None = None
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Mark the oldest queued check (of a tenant, or that one check) running; its keys."""
    with db.platform_uow(actor="insight:worker") as uow:
        query = sa.select(VisibilityCheck).where(
            VisibilityCheck.status == VisibilityCheckStatus.QUEUED
        )
        if tenant_id is not None:
            query = query.where(VisibilityCheck.tenant_id == tenant_id)
        if check_id is not None:
            query = query.where(VisibilityCheck.id == check_id)
        check = uow.session.scalar(
            query.order_by(VisibilityCheck.requested_at).limit(1).with_for_update(skip_locked=True)
        )
        if check is None:
            return None
        check.status = VisibilityCheckStatus.RUNNING
        check.started_at = uow.clock.now()
        check.attempts = check.attempts + 1
        keys = (check.tenant_id, check.id)
        uow.commit()
    return keys


def run_pending(
    runner: CheckRunner,
    *,
    tenant_id: uuid.UUID | None = None,
    check_id: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[Outcome]:
    """Run queued checks until none is left (or `limit` ran)."""
    outcomes: list[Outcome] = []
    while limit is None or len(outcomes) < limit:
        claimed = claim_next(runner.db, tenant_id=tenant_id, check_id=check_id)
        if claimed is None:
            break
        outcomes.append(runner.run(*claimed))
    return outcomes


class CheckWorker:
    """Threads that poll the queue until stopped (used by `tenantry serve` and `vc work`)."""

    def __init__(
        self,
        runner: CheckRunner,
        *,
        threads: int = 1,
        poll_seconds: float = 1.0,
        stale_after: timedelta = timedelta(minutes=10),
        benchmark_min_tenants: int | None = None,  # None: the worker leaves benchmarks alone
    ) -> None:
        self.runner = runner
        self.benchmark_min_tenants = benchmark_min_tenants
        self._benchmarks_due = 0.0
        self._requeue_due = 0.0
        self.threads = threads
        self.poll_seconds = poll_seconds
        self.stale_after = stale_after
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self.threads):
            thread = threading.Thread(target=self._loop, name=f"vc-worker-{n}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout)
        self._workers.clear()

    def _benchmarks(self) -> None:
        if self.benchmark_min_tenants is None or time.monotonic() < self._benchmarks_due:
            return
        self._benchmarks_due = time.monotonic() + 86_400
        refresh_daily_benchmarks(self.runner.db, self.benchmark_min_tenants)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._benchmarks()
                if time.monotonic() >= self._requeue_due:  # a scan of running checks: rarely
                    self._requeue_due = time.monotonic() + 60
                    requeue_stale(self.runner.db, self.stale_after)
                if not run_pending(self.runner, limit=1):
                    self._stop.wait(self.poll_seconds)
            except Exception as exc:  # the database went away: wait and try again
                log.warning("visibility check worker: %s", type(exc).__name__)
                self._stop.wait(self.poll_seconds * 5)
