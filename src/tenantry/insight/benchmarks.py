"""The benchmark database: percentiles of snapshot metrics across tenants, k-anonymous.

`refresh_benchmarks` reads every tenant's analytics snapshots (an owner unit of work, which
sees past row level security) and publishes, per vertical, category ('' for all), city and
metric, the 25th, 50th and 75th percentile of each location's latest value in a period, but
only where at least k distinct tenants contribute (k from `benchmark_min_tenants`, never
below 5): a figure can then not be traced back to one tenant, however many locations a
single tenant adds. A figure that no longer qualifies is withdrawn. One SQL statement does it
all, set-based. `list_benchmarks` reads the published figures, which every tenant may see.
Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.errors import ValidationError
from tenantry.models.enums import Vertical

__all__ = [
    "MIN_TENANTS",
    "BenchmarkFigure",
    "RefreshReport",
    "list_benchmarks",
    "refresh_benchmarks",
]

MIN_TENANTS = 5  # the floor of k; the database refuses a benchmark from fewer tenants
MAX_PERIOD_DAYS = 3660

# A UUIDv7 in SQL (PostgreSQL 16 has no uuidv7()): the 48-bit Unix time in milliseconds over
# the first six bytes of a random UUID, whose version nibble 4 (0100) becomes 7 (0111).
_UUID7 = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing"
    " substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)"
    " FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"
)

_REFRESH = sa.text(
    f"""
WITH latest AS (
    -- Each location's latest value of each metric in the period (any source).
    SELECT DISTINCT ON (s.tenant_id, s.location_id, s.metric)
           s.tenant_id, s.location_id, s.metric, s.value
      FROM insight.analytics_snapshots s
     WHERE s.captured_on BETWEEN :period_start AND :period_end
     ORDER BY s.tenant_id, s.location_id, s.metric, s.captured_on DESC, s.updated_at DESC
), contributions AS (
    SELECT l.vertical, c.category, lower(btrim(l.city)) AS region_key, btrim(l.city) AS city,
           v.metric, v.tenant_id, v.value
      FROM latest v
      JOIN identity.locations l ON l.tenant_id = v.tenant_id AND l.id = v.location_id
      JOIN identity.tenants t ON t.id = v.tenant_id
     CROSS JOIN LATERAL (
           SELECT ''::text AS category
           UNION
           SELECT left(lower(btrim(x)), 80) FROM unnest(l.categories) x WHERE btrim(x) <> ''
     ) c
     WHERE l.deleted_at IS NULL AND t.deleted_at IS NULL
       AND l.city IS NOT NULL AND btrim(l.city) <> ''
), figures AS (
    SELECT vertical, category, left(min(city), 100) AS region, metric,
           percentile_cont(0.25) WITHIN GROUP (ORDER BY value) AS p25,
           percentile_cont(0.50) WITHIN GROUP (ORDER BY value) AS p50,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY value) AS p75,
           count(*) AS sample_size,
           count(DISTINCT tenant_id) AS tenant_count
      FROM contributions
     GROUP BY vertical, category, region_key, metric
    -- k-anonymity: the number of tenants decides, never the number of locations.
    HAVING count(DISTINCT tenant_id) >= :min_tenants
), published AS (
    INSERT INTO insight.benchmarks AS b
           (id, vertical, category, region, metric, period_start, period_end,
            p25, p50, p75, sample_size, tenant_count)
    SELECT {_UUID7}, f.vertical, f.category, f.region, f.metric, :period_start, :period_end,
           round(f.p25::numeric, 4), round(f.p50::numeric, 4), round(f.p75::numeric, 4),
           f.sample_size, f.tenant_count
      FROM figures f
    ON CONFLICT (vertical, category, region, metric, period_start) DO UPDATE
       SET period_end = EXCLUDED.period_end, p25 = EXCLUDED.p25, p50 = EXCLUDED.p50,
           p75 = EXCLUDED.p75, sample_size = EXCLUDED.sample_size,
           tenant_count = EXCLUDED.tenant_count, updated_at = now()
    RETURNING 1
), withdrawn AS (
    DELETE FROM insight.benchmarks b
     WHERE b.period_start = :period_start
       AND NOT EXISTS (
           SELECT 1 FROM figures f
            WHERE f.vertical = b.vertical AND f.category = b.category
              AND f.region = b.region AND f.metric = b.metric)
    RETURNING 1
)
SELECT (SELECT count(*) FROM published) AS published,
       (SELECT count(*) FROM withdrawn) AS withdrawn
"""
)


@dataclass(frozen=True)
class RefreshReport:
    period_start: date
    period_end: date
    min_tenants: int
    published: int  # figures written or updated
    withdrawn: int  # figures of the period that no longer have enough tenants


def refresh_benchmarks(
    platform_uow: UnitOfWork, *, period_start: date, period_end: date, min_tenants: int
) -> RefreshReport:
    """Recompute the period's figures across every tenant (see the module docstring)."""
    if min_tenants < MIN_TENANTS:
        raise ValidationError(f"a benchmark needs at least {MIN_TENANTS} tenants")
    if period_end < period_start:
        raise ValidationError("the period ends before it starts")
    if (period_end - period_start).days > MAX_PERIOD_DAYS:
        raise ValidationError(f"a period spans at most {MAX_PERIOD_DAYS} days")
    row = (
        platform_uow.session.execute(
            _REFRESH,
            {"period_start": period_start, "period_end": period_end, "min_tenants": min_tenants},
        )
        .mappings()
        .one()
    )
    return RefreshReport(period_start, period_end, min_tenants, row["published"], row["withdrawn"])


_LIST = sa.text(
    """
SELECT DISTINCT ON (b.vertical, b.category, b.region, b.metric)
       b.vertical, b.category, b.region, b.metric, b.period_start, b.period_end,
       b.p25, b.p50, b.p75, b.sample_size, b.tenant_count
  FROM insight.benchmarks b
 WHERE (CAST(:vertical AS text) IS NULL OR b.vertical = :vertical)
   AND (CAST(:category AS text) IS NULL OR b.category = :category)
   AND (CAST(:region AS text) IS NULL OR lower(b.region) = :region)
   AND (CAST(:metric AS text) IS NULL OR b.metric = :metric)
 ORDER BY b.vertical, b.category, b.region, b.metric, b.period_start DESC
 LIMIT :limit
"""
)


@dataclass(frozen=True)
class BenchmarkFigure:
    vertical: Vertical
    category: str
    region: str
    metric: str
    period_start: date
    period_end: date
    p25: Decimal
    p50: Decimal
    p75: Decimal
    sample_size: int
    tenant_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "vertical": self.vertical.value,
            "category": self.category,
            "region": self.region,
            "metric": self.metric,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "p25": float(self.p25),
            "p50": float(self.p50),
            "p75": float(self.p75),
            "sample_size": self.sample_size,
            "tenant_count": self.tenant_count,
        }


def list_benchmarks(
    uow: UnitOfWork,
    vertical: Vertical | None = None,
    category: str | None = None,
    region: str | None = None,
    metric: str | None = None,
    *,
    limit: int = 500,
) -> list[BenchmarkFigure]:
    """The latest published period of each figure that matches (None: any). Category and
    region compare without regard to case or surrounding blanks; '' is the all-categories
    figure. Readable in any unit of work: benchmarks belong to no tenant."""
    rows = uow.session.execute(
        _LIST,
        {
            "vertical": vertical.value if vertical is not None else None,
            "category": category.strip().lower() if category is not None else None,
            "region": region.strip().lower() if region is not None else None,
            "metric": metric,
            "limit": limit,
        },
    )
    return [
        BenchmarkFigure(
            Vertical(r.vertical),
            r.category,
            r.region,
            r.metric,
            r.period_start,
            r.period_end,
            r.p25,
            r.p50,
            r.p75,
            r.sample_size,
            r.tenant_count,
        )
        for r in rows
    ]
