"""The report commands of `tenantry vc`: `kpis`, `benchmarks`, `refresh-benchmarks`, `trends`.

Plain command functions; `tenantry.cli.main` registers them in the `vc` group. Entry point
only: the figures come from `tenantry.insight` (kpis, benchmarks, snapshots). A value of the
wrong shape is a usage error (exit 2) before any database is opened; nothing printed holds
personal data.
"""

from __future__ import annotations

import re
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import (
    EARLIEST_DATE,
    OutputFormat,
    format_option,
    tenant_option,
    uuid_value,
)
from tenantry.config import get_settings
from tenantry.errors import NotFoundError
from tenantry.insight.benchmarks import MAX_PERIOD_DAYS, list_benchmarks
from tenantry.insight.benchmarks import refresh_benchmarks as publish_benchmarks
from tenantry.insight.kpis import MAX_WINDOW_DAYS, Kpis, platform_kpis, tenant_kpis
from tenantry.insight.snapshots import MAX_DAYS
from tenantry.insight.snapshots import trends as read_trends
from tenantry.models import Location
from tenantry.models.enums import Vertical

__all__ = ["benchmarks", "kpis", "refresh_benchmarks", "trends"]

_METRIC = re.compile(r"[a-z0-9_]{1,40}(\.[a-z0-9_]{1,40}){0,3}")
# A category or a city: letters of any script, digits, blanks and the punctuation names use.
_NAME = re.compile(r"[\w &'()./-]*", re.UNICODE)
DEFAULT_PERIOD_DAYS = 30


def _metric(value: str) -> str:
    if not _METRIC.fullmatch(value) or len(value) > 80:
        raise typer.BadParameter("must be a metric (a fact key such as gbp.rating)")
    return value


def _name(limit: int) -> Any:
    def parse(value: str) -> str:
        if len(value) > limit or not _NAME.fullmatch(value):
            raise typer.BadParameter(
                f"must be a name of at most {limit} letters, digits, blanks and - . ' & ( ) /"
            )
        return value

    return parse


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("must be a date (YYYY-MM-DD)") from None
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    if not EARLIEST_DATE <= day <= tomorrow:
        raise typer.BadParameter(
            f"must lie between {EARLIEST_DATE.isoformat()} and {tomorrow.isoformat()}"
        )
    return day


def _figure(value: float | None, as_share: bool) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if as_share else f"{value:.4g}"


_SHARES = {"evidence_coverage", "fresh_share", "completion_rate", "locations_with_three_sources"}


def _kpi_table(k: Kpis) -> None:
    title = f"KPIs of the {k.scope}, last {k.window_days} days (as of {k.as_of:%Y-%m-%d %H:%M} UTC)"
    t = table("kpi", "value", "target", "met", title=title, right=("value", "target"))
    figures: dict[str, float | None] = {
        "evidence_coverage": k.evidence_coverage,
        "avg_confidence": k.avg_confidence,
        "source_diversity": k.source_diversity,
        "locations_with_three_sources": k.locations_with_three_sources,
        "fresh_share": k.fresh_share,
        "completion_rate": k.completion_rate,
    }
    for name, value in figures.items():
        target = k.targets.get(name)
        met = "-" if target is None or target.met is None else ("yes" if target.met else "no")
        goal = "-" if target is None else _figure(target.target, name in _SHARES)
        t.add_row(name, _figure(value, name in _SHARES), goal, met)
    for name, count in (
        ("checks_completed", k.checks_completed),
        ("checks_requested", k.checks_requested),
        ("statements_published", k.statements_published),
        ("statements_rejected", k.statements_rejected),
        ("evidence_current", k.evidence_current),
    ):
        t.add_row(name, str(count), "", "")
    show(t)


def kpis(
    tenant: str | None = tenant_option("The tenant's UUID or slug.", required=False),
    platform: bool = typer.Option(False, "--platform", help="Over every tenant instead."),
    as_json: bool = typer.Option(False, "--json", help="JSON (for scripts) instead of a table."),
    window_days: int = typer.Option(
        30, "--window-days", min=1, max=MAX_WINDOW_DAYS, help="Days the window looks back."
    ),
) -> None:
    """The seed 000 KPIs: evidence coverage, average confidence, source diversity, freshness
    and the completion rate of checks, with their targets."""
    if (tenant is None) == (not platform):
        raise typer.BadParameter("give either --tenant or --platform", param_hint="--tenant")
    with database(migrate=False) as db:
        now = db.clock.now()
        if tenant is not None:
            tenant_id = resolve_tenant(db, tenant)
            with db.tenant_uow(tenant_id) as uow:
                figures = tenant_kpis(uow, now, window_days)
        else:
            with db.platform_uow() as uow:
                figures = platform_kpis(uow, now, window_days)
    if as_json:
        print_json(figures.as_dict())
    else:
        _kpi_table(figures)


def benchmarks(
    vertical: Vertical | None = typer.Option(None, "--vertical", help="restaurant, workshop, ..."),
    category: str | None = typer.Option(
        None, "--category", parser=_name(80), help="A location category ('' for all)."
    ),
    region: str | None = typer.Option(None, "--region", parser=_name(100), help="A city."),
    metric: str | None = typer.Option(
        None, "--metric", parser=_metric, help="A metric, e.g. gbp.rating."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """The published benchmarks: percentiles per vertical, category, city and metric, each
    from at least k tenants."""
    with database(migrate=False) as db, db.unbound_uow() as uow:
        figures = list_benchmarks(uow, vertical, category, region, metric)
    if fmt is OutputFormat.JSON:
        print_json([f.as_dict() for f in figures])
        return
    t = table(
        "vertical", "category", "region", "metric", "period", "p25", "p50", "p75",
        "locations", "tenants",
        title="Benchmarks",
        right=("p25", "p50", "p75", "locations", "tenants"),
    )  # fmt: skip
    for f in figures:
        t.add_row(
            f.vertical.value,
            f.category or "(all)",
            f.region,
            f.metric,
            f"{f.period_start}..{f.period_end}",
            f"{f.p25:.4g}",
            f"{f.p50:.4g}",
            f"{f.p75:.4g}",
            str(f.sample_size),
            str(f.tenant_count),
        )
    show(t)


def refresh_benchmarks(
    period_start: date | None = typer.Option(
        None, "--period-start", parser=_day, metavar="YYYY-MM-DD", help="Default: 30 days ago."
    ),
    period_end: date | None = typer.Option(
        None, "--period-end", parser=_day, metavar="YYYY-MM-DD", help="Default: today (UTC)."
    ),
) -> None:
    """Recompute the period's benchmarks across every tenant; a figure is published only where
    at least k tenants contribute (`TENANTRY_BENCHMARK_MIN_TENANTS`, at least 5)."""
    end = period_end or datetime.now(UTC).date()
    start = period_start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise typer.BadParameter("the period ends before it starts", param_hint="--period-end")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise typer.BadParameter(
            f"a period spans at most {MAX_PERIOD_DAYS} days", param_hint="--period-start"
        )
    k = get_settings().benchmark_min_tenants
    with database(migrate=False) as db, db.platform_uow(actor="cli:benchmarks") as uow:
        report = publish_benchmarks(uow, period_start=start, period_end=end, min_tenants=k)
        uow.commit()
    print(
        f"benchmarks {start}..{end}: {report.published} published, {report.withdrawn} withdrawn"
        f" (k = {k} tenants)",
        file=sys.stderr,
    )


def trends(
    tenant: str = tenant_option(),
    location: uuid.UUID = typer.Option(
        ..., "--location", parser=uuid_value, metavar="ID", help="The location (UUID)."
    ),
    metric: str | None = typer.Option(
        None, "--metric", parser=_metric, help="Only this metric, e.g. gbp.rating."
    ),
    days: int = typer.Option(90, "--days", min=1, max=MAX_DAYS, help="Days back from today."),
    fmt: OutputFormat = format_option(),
) -> None:
    """A location's daily snapshots as series, with the change overall and over 7 days."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            found = uow.session.get(Location, (tenant_id, location))
            if found is None or found.deleted_at is not None:
                raise NotFoundError("location not found in this tenant")
            series = read_trends(uow, location, metric, days)
    if fmt is OutputFormat.JSON:
        print_json([s.as_dict() for s in series])
        return
    t = table(
        "source", "metric", "first", "last", "points", "change", "change 7d",
        title=f"Trends of location {location}, last {days} days",
        right=("points", "change", "change 7d"),
    )  # fmt: skip
    for s in series:
        t.add_row(
            s.source.value,
            s.metric,
            f"{s.points[0].date} {s.points[0].value:g}",
            f"{s.points[-1].date} {s.points[-1].value:g}",
            str(len(s.points)),
            f"{s.change:+g}",
            "-" if s.change_7d is None else f"{s.change_7d:+g}",
        )
    show(t)
