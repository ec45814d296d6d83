"""The seed 000 KPIs of the evidence ledger, for one tenant or the whole platform.

Each figure is one aggregate over the ledger, read in one SQL statement (definitions in
docs/insight.md, "KPIs"): evidence coverage of analysers' statements, average confidence,
source diversity and freshness of current evidence, and the completion rate of checks. A
tenant's figures are read through its unit of work (row level security confines them); the
platform's through the owner's, over every tenant. Reads only; never writes or commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError

__all__ = ["TARGETS", "KpiTarget", "Kpis", "platform_kpis", "tenant_kpis"]

MAX_WINDOW_DAYS = 3660
FRESH_HOURS = 24

# Seed 000: 95 % of AI statements with evidence, average confidence above 0.8, at least three
# independent sources per business, 90 % of data younger than 24 h; and a completion target.
TARGETS: Mapping[str, float] = {
    "evidence_coverage": 0.95,
    "avg_confidence": 0.8,
    "source_diversity": 3.0,
    "fresh_share": 0.9,
    "completion_rate": 0.85,
}


@dataclass(frozen=True)
class KpiTarget:
    """A figure's target and whether it is met (None: no data to judge by)."""

    target: float
    met: bool | None


@dataclass(frozen=True)
class Kpis:
    """The KPIs over a window; a share or mean is None when there is nothing to measure."""

    scope: str  # "tenant" or "platform"
    as_of: datetime
    window_days: int
    evidence_coverage: float | None
    avg_confidence: float | None
    source_diversity: float | None
    locations_with_three_sources: float | None
    fresh_share: float | None
    completion_rate: float | None
    checks_completed: int
    checks_requested: int
    statements_published: int
    statements_rejected: int
    evidence_current: int
    locations_with_evidence: int
    targets: dict[str, KpiTarget]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the field names of the issue, targets as {target, met}."""
        return {
            "scope": self.scope,
            "as_of": self.as_of.isoformat(),
            "window_days": self.window_days,
            "evidence_coverage": self.evidence_coverage,
            "avg_confidence": self.avg_confidence,
            "source_diversity": self.source_diversity,
            "locations_with_three_sources": self.locations_with_three_sources,
            "fresh_share": self.fresh_share,
            "completion_rate": self.completion_rate,
            "checks_completed": self.checks_completed,
            "checks_requested": self.checks_requested,
            "statements_published": self.statements_published,
            "statements_rejected": self.statements_rejected,
            "evidence_current": self.evidence_current,
            "locations_with_evidence": self.locations_with_evidence,
            "targets": {k: {"target": t.target, "met": t.met} for k, t in self.targets.items()},
        }


# `{tenant}` and `{scope}` are filled with fixed SQL fragments below, never with input.
_SQL = """
WITH checks AS (
    SELECT c.status
      FROM insight.visibility_checks c
     WHERE {tenant_c} {scope_c}
       AND c.requested_at > :since AND c.requested_at <= :now
), runs AS (
    SELECT r.published, r.rejected
      FROM insight.analysis_runs r
      JOIN insight.visibility_checks c
        ON c.tenant_id = r.tenant_id AND c.id = r.visibility_check_id
     WHERE {tenant_r} {scope_c}
       AND r.started_at > :since AND r.started_at <= :now
), current_evidence AS (
    SELECT e.location_id, e.source, e.confidence, e.retrieved_at
      FROM insight.evidence e
     WHERE {tenant_e} {scope_e}
       AND e.retrieved_at <= :now
       AND (e.superseded_at IS NULL OR e.superseded_at > :now)
), per_location AS (
    SELECT count(DISTINCT source) AS sources
      FROM current_evidence WHERE location_id IS NOT NULL GROUP BY location_id
)
SELECT
    (SELECT count(*) FROM checks) AS requested,
    (SELECT count(*) FILTER (WHERE status = 'completed') FROM checks) AS completed,
    (SELECT count(*) FROM runs) AS runs,
    (SELECT coalesce(sum(published), 0) FROM runs) AS published,
    (SELECT coalesce(sum(rejected), 0) FROM runs) AS rejected,
    (SELECT count(*) FROM current_evidence) AS evidence,
    (SELECT avg(confidence) FROM current_evidence) AS avg_confidence,
    (SELECT count(*) FILTER (WHERE retrieved_at >= :fresh_since) FROM current_evidence)
        AS fresh,
    (SELECT count(*) FROM per_location) AS locations,
    (SELECT avg(sources) FROM per_location) AS avg_sources,
    (SELECT count(*) FILTER (WHERE sources >= 3) FROM per_location) AS three_sources
"""


def _statement(*, tenant: bool, scoped: bool) -> sa.TextClause:
    def t(alias: str) -> str:
        return f"{alias}.tenant_id = :tenant" if tenant else "TRUE"

    return sa.text(
        _SQL.format(
            tenant_c=t("c"),
            tenant_r=t("r"),
            tenant_e=t("e"),
            scope_c="AND c.location_id = ANY(:locations)" if scoped else "",
            scope_e="AND e.location_id = ANY(:locations)" if scoped else "",
        )
    )


def _ratio(part: int | Decimal, whole: int | Decimal) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


def _mean(value: Decimal | float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _met(name: str, value: float | None) -> KpiTarget:
    target = TARGETS[name]
    if value is None:
        return KpiTarget(target, None)
    # "Average confidence > 0.8" is the one strict target of seed 000; the rest are minimums.
    return KpiTarget(target, value > target if name == "avg_confidence" else value >= target)


def _kpis(
    uow: UnitOfWork,
    now: datetime,
    window_days: int,
    *,
    tenant: uuid.UUID | None,
    locations: frozenset[uuid.UUID] | None,
) -> Kpis:
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ValidationError(f"window_days must lie between 1 and {MAX_WINDOW_DAYS}")
    if now.tzinfo is None:
        raise ValidationError("now must carry a time zone")
    params: dict[str, Any] = {
        "now": now,
        "since": now - timedelta(days=window_days),
        "fresh_since": now - timedelta(hours=FRESH_HOURS),
        "tenant": tenant,
        "locations": sorted(locations) if locations is not None else None,
    }
    stmt = _statement(tenant=tenant is not None, scoped=locations is not None)
    row = uow.session.execute(stmt, params).mappings().one()
    three = _ratio(row["three_sources"], row["locations"])
    figures = {
        "evidence_coverage": _ratio(row["published"], row["published"] + row["rejected"]),
        "avg_confidence": _mean(row["avg_confidence"]),
        "source_diversity": _mean(row["avg_sources"]),
        "fresh_share": _ratio(row["fresh"], row["evidence"]),
        "completion_rate": _ratio(row["completed"], row["requested"]),
    }
    targets = {name: _met(name, value) for name, value in figures.items()}
    # "At least three independent sources per business": every one, not on average.
    targets["source_diversity"] = KpiTarget(
        TARGETS["source_diversity"], None if three is None else three >= 1.0
    )
    return Kpis(
        scope="tenant" if tenant is not None else "platform",
        as_of=now,
        window_days=window_days,
        locations_with_three_sources=three,
        checks_completed=row["completed"],
        checks_requested=row["requested"],
        statements_published=int(row["published"]),
        statements_rejected=int(row["rejected"]),
        evidence_current=row["evidence"],
        locations_with_evidence=row["locations"],
        targets=targets,
        evidence_coverage=figures["evidence_coverage"],
        avg_confidence=figures["avg_confidence"],
        source_diversity=figures["source_diversity"],
        fresh_share=figures["fresh_share"],
        completion_rate=figures["completion_rate"],
    )


def tenant_kpis(
    uow: UnitOfWork,
    now: datetime,
    window_days: int = 30,
    *,
    locations: frozenset[uuid.UUID] | None = None,
) -> Kpis:
    """The KPIs of the unit of work's tenant; `locations` limits them to a principal's scope."""
    return _kpis(uow, now, window_days, tenant=uow.require_tenant(), locations=locations)


def platform_kpis(platform_uow: UnitOfWork, now: datetime, window_days: int = 30) -> Kpis:
    """The KPIs over every tenant (an owner unit of work: it sees every tenant's rows)."""
    return _kpis(platform_uow, now, window_days, tenant=None, locations=None)
