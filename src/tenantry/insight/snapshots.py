"""Daily analytics snapshots drawn from the evidence ledger, and the trends they show.

`record_snapshots` turns the numeric facts of a check's current evidence (a rating, a count of
reviews or followers) into one `insight.analytics_snapshots` row per location, source, metric
and day, the day's later value replacing an earlier one. `trends` reads them back as series.
Works inside the caller's tenant unit of work; never commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models.enums import EvidenceSource, SnapshotSource

__all__ = [
    "SNAPSHOT_SOURCE",
    "Point",
    "Series",
    "record_snapshots",
    "trends",
]

MAX_DAYS = 3660
# numeric(18, 4) holds up to 10^14; larger "counts" are not metrics but garbage.
_LIMIT = Decimal(10) ** 14

# Where a snapshot's figure came from, by the source of its evidence.
# The same name where both enumerations have it (gbp, ga4, facebook, instagram, website,
# places); every other source (reviews, search, AI, manual entry) counts as internal.
_SNAPSHOT_NAMES = {s.value for s in SnapshotSource}
SNAPSHOT_SOURCE: dict[EvidenceSource, SnapshotSource] = {
    e: SnapshotSource(e.value) if e.value in _SNAPSHOT_NAMES else SnapshotSource.INTERNAL
    for e in EvidenceSource
}

_SOURCE_SQL = "CASE e.source {whens} ELSE 'internal' END".format(
    whens=" ".join(
        f"WHEN '{e.value}' THEN '{s.value}'"
        for e, s in SNAPSHOT_SOURCE.items()
        if s is not SnapshotSource.INTERNAL
    )
)

# The current numeric facts of a check or of a location, one per location, source, metric and
# day: the latest retrieval of the day wins (then the most confident, then the last written).
_CANDIDATES = sa.text(
    f"""
SELECT DISTINCT ON (e.location_id, 2, e.fact_key, 4)
       e.location_id, {_SOURCE_SQL} AS source, e.fact_key AS metric,
       (e.retrieved_at AT TIME ZONE 'UTC')::date AS captured_on,
       (e.value #>> '{{}}')::numeric AS value, e.id AS evidence_id
  FROM insight.evidence e
 WHERE e.tenant_id = :tenant
   AND (CAST(:check AS uuid) IS NULL OR e.visibility_check_id = :check)
   AND (CAST(:location AS uuid) IS NULL OR e.location_id = :location)
   AND e.superseded_at IS NULL
   AND e.location_id IS NOT NULL AND length(e.fact_key) <= 80
   AND jsonb_typeof(e.value) = 'number'
   AND abs((e.value #>> '{{}}')::numeric) < :limit
 ORDER BY e.location_id, 2, e.fact_key, 4, e.retrieved_at DESC, e.confidence DESC, e.id DESC
"""
)

_UPSERT = sa.text(
    """
INSERT INTO insight.analytics_snapshots
       (tenant_id, id, location_id, evidence_id, source, metric, value, captured_on)
SELECT :tenant, x.id, x.location_id, x.evidence_id, x.source, x.metric, x.value, x.captured_on
  FROM unnest(CAST(:ids AS uuid[]), CAST(:locations AS uuid[]), CAST(:evidence AS uuid[]),
              CAST(:sources AS text[]), CAST(:metrics AS text[]), CAST(:values AS numeric[]),
              CAST(:days AS date[]))
       AS x(id, location_id, evidence_id, source, metric, value, captured_on)
ON CONFLICT (tenant_id, location_id, source, metric, captured_on) DO UPDATE
   SET value = EXCLUDED.value, evidence_id = EXCLUDED.evidence_id, updated_at = now()
"""
)


def record_snapshots(
    uow: UnitOfWork, check_id: uuid.UUID | None = None, *, location_id: uuid.UUID | None = None
) -> int:
    """Write the current numeric facts of a check (or of a location: what a recheck found) as
    the day's snapshots; returns how many were written.

    Booleans and text are not metrics and are left out; so are facts without a location or
    key. One INSERT ... ON CONFLICT for all of them."""
    tenant = uow.require_tenant()
    rows = uow.session.execute(
        _CANDIDATES,
        {"tenant": tenant, "check": check_id, "location": location_id, "limit": _LIMIT},
    ).all()
    if not rows:
        return 0
    uow.session.execute(
        _UPSERT,
        {
            "tenant": tenant,
            "ids": [uow.ids() for _ in rows],
            "locations": [r.location_id for r in rows],
            "evidence": [r.evidence_id for r in rows],
            "sources": [r.source for r in rows],
            "metrics": [r.metric for r in rows],
            "values": [r.value for r in rows],
            "days": [r.captured_on for r in rows],
        },
    )
    return len(rows)


@dataclass(frozen=True)
class Point:
    date: date
    value: float


@dataclass(frozen=True)
class Series:
    """One metric of one source over time; `change` from the first to the last point,
    `change_7d` from the last point on or before seven days before the last one (None when
    the series is not that long)."""

    source: SnapshotSource
    metric: str
    points: list[Point]
    change: float
    change_7d: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.value,
            "metric": self.metric,
            "points": [{"date": p.date.isoformat(), "value": p.value} for p in self.points],
            "change": self.change,
            "change_7d": self.change_7d,
        }


_SERIES = sa.text(
    """
SELECT s.source, s.metric, s.captured_on, s.value
  FROM insight.analytics_snapshots s
 WHERE s.tenant_id = :tenant AND s.location_id = :location
   AND s.captured_on > :since AND s.captured_on <= :until
   AND (CAST(:metric AS text) IS NULL OR s.metric = :metric)
 ORDER BY s.source, s.metric, s.captured_on
"""
)


def _series(source: str, metric: str, points: list[Point]) -> Series:
    last = points[-1]
    week_before = last.date - timedelta(days=7)
    earlier = [p for p in points if p.date <= week_before]
    change_7d = round(last.value - earlier[-1].value, 4) if earlier else None
    return Series(
        SnapshotSource(source), metric, points, round(last.value - points[0].value, 4), change_7d
    )


def trends(
    uow: UnitOfWork,
    location_id: uuid.UUID,
    metric: str | None = None,
    days: int = 90,
    *,
    today: date | None = None,
) -> list[Series]:
    """Each (source, metric) of a location over the last `days` days up to `today` (the unit
    of work's clock by default), ordered by source and metric."""
    if not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"days must lie between 1 and {MAX_DAYS}")
    until = today or uow.clock.now().astimezone(UTC).date()
    rows = uow.session.execute(
        _SERIES,
        {
            "tenant": uow.require_tenant(),
            "location": location_id,
            "since": until - timedelta(days=days),
            "until": until,
            "metric": metric,
        },
    ).all()
    grouped: dict[tuple[str, str], list[Point]] = {}
    for r in rows:
        grouped.setdefault((r.source, r.metric), []).append(Point(r.captured_on, float(r.value)))
    return [_series(source, m, points) for (source, m), points in grouped.items()]
