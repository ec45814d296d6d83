"""Benchmarks across tenants are k-anonymous: a figure is published only where at least k
tenants contribute, whatever the number of locations, and withdrawn when that stops being so.

Each test works in a city and a period of its own: the benchmark database is shared by every
tenant, and so by every test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import quantiles

import pytest
from sqlalchemy import select, text

from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.insight.benchmarks import BenchmarkFigure, list_benchmarks, refresh_benchmarks
from tenantry.models import AnalyticsSnapshot, Benchmark
from tenantry.models.enums import SnapshotSource, Vertical
from tests.conftest import TenantFixture, make_tenant

START = date(2026, 10, 1)
END = date(2026, 10, 31)


@dataclass
class City:
    name: str
    period_start: date
    period_end: date


@pytest.fixture
def city() -> City:
    """A city no other test uses, and a period of its own (its first day is unique)."""
    offset = uuid.uuid4().int % 20_000
    start = date(2030, 1, 1) + timedelta(days=offset)
    return City(f"Teststadt {uuid.uuid4().hex[:8]}", start, start + timedelta(days=29))


def tenant_in(
    db: Database, city: City, locations: int = 1, categories: tuple[str, ...] = ("Italian",)
) -> TenantFixture:
    t = make_tenant(db, locations=locations)
    with db.platform_uow() as uow:
        uow.session.execute(
            text(
                "UPDATE identity.locations SET city = :city, categories = :cats"
                " WHERE tenant_id = :t"
            ),
            {"city": city.name, "cats": list(categories), "t": t.id},
        )
        uow.commit()
    return t


def rate(db: Database, t: TenantFixture, day: date, *values: float) -> None:
    """A Google rating snapshot of each of the tenant's locations on `day`."""
    with db.tenant_uow(t.id) as uow:
        for loc, value in zip(t.locations, values, strict=True):
            uow.session.add(
                AnalyticsSnapshot(
                    tenant_id=t.id,
                    id=uow.ids(),
                    location_id=loc,
                    source=SnapshotSource.GBP,
                    metric="gbp.rating",
                    value=Decimal(str(value)),
                    captured_on=day,
                )
            )
        uow.commit()


def refresh(db: Database, city: City, min_tenants: int = 5) -> tuple[int, int]:
    with db.platform_uow() as uow:
        report = refresh_benchmarks(
            uow, period_start=city.period_start, period_end=city.period_end, min_tenants=min_tenants
        )
        uow.commit()
    return report.published, report.withdrawn


def published(db: Database, city: City) -> dict[str, Benchmark]:
    with db.platform_uow() as uow:
        rows = uow.session.scalars(select(Benchmark).where(Benchmark.region == city.name))
        return {r.category: r for r in rows}


def test_four_tenants_publish_nothing_however_many_locations_one_of_them_has(
    db: Database, city: City
) -> None:
    day = city.period_start + timedelta(days=3)
    big = tenant_in(db, city, locations=6)
    rate(db, big, day, 4.1, 4.2, 4.3, 4.4, 4.5, 4.6)
    for value in (3.9, 4.0, 4.7):
        rate(db, tenant_in(db, city), day, value)
    refresh(db, city)
    assert published(db, city) == {}  # 9 locations, but only 4 tenants
    rate(db, tenant_in(db, city), day, 3.5)
    refresh(db, city)
    figures = published(db, city)
    assert set(figures) == {"", "italian"}
    values = [4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 3.9, 4.0, 4.7, 3.5]
    p25, p50, p75 = quantiles(values, n=4, method="inclusive")  # = percentile_cont
    everyone = figures[""]
    assert (everyone.sample_size, everyone.tenant_count) == (10, 5)
    assert (everyone.p25, everyone.p50, everyone.p75) == tuple(
        Decimal(str(round(p, 4))).quantize(Decimal("0.0001")) for p in (p25, p50, p75)
    )
    assert everyone.vertical is Vertical.RESTAURANT and everyone.metric == "gbp.rating"
    assert (everyone.period_start, everyone.period_end) == (city.period_start, city.period_end)


def test_a_category_is_published_only_where_its_own_tenants_reach_k(
    db: Database, city: City
) -> None:
    day = city.period_start
    for i in range(5):
        cats = ("Italian", "Pizza") if i < 2 else ("Italian",)
        rate(db, tenant_in(db, city, categories=cats), day, 4.0 + i / 10)
    refresh(db, city)
    assert set(published(db, city)) == {"", "italian"}  # pizza: two tenants


def test_each_location_counts_with_its_latest_value_in_the_period(db: Database, city: City) -> None:
    tenants = [tenant_in(db, city) for _ in range(5)]
    for i, t in enumerate(tenants):
        rate(db, t, city.period_start, 1.0)  # superseded by the later value
        rate(db, t, city.period_start + timedelta(days=10), 4.0 + i / 10)
        rate(db, t, city.period_end + timedelta(days=1), 1.0)  # after the period
    refresh(db, city)
    everyone = published(db, city)[""]
    assert everyone.sample_size == 5
    assert everyone.p50 == Decimal("4.2000")
    assert everyone.p25 == Decimal("4.1000") and everyone.p75 == Decimal("4.3000")


def test_a_figure_is_withdrawn_when_a_tenant_leaves_and_k_is_no_longer_reached(
    db: Database, city: City
) -> None:
    tenants = [tenant_in(db, city) for _ in range(5)]
    for t in tenants:
        rate(db, t, city.period_start, 4.5)
    assert refresh(db, city) == (2, 0)
    assert refresh(db, city) == (2, 0)  # again: the same figures, updated in place
    with db.platform_uow() as uow:
        uow.session.execute(
            text("UPDATE identity.locations SET deleted_at = now() WHERE tenant_id = :t"),
            {"t": tenants[0].id},
        )
        uow.commit()
    assert refresh(db, city) == (0, 2)
    assert published(db, city) == {}


def test_k_comes_from_the_caller_and_can_never_be_below_five(db: Database, city: City) -> None:
    for _ in range(5):
        rate(db, tenant_in(db, city), city.period_start, 4.0)
    refresh(db, city, min_tenants=6)
    assert published(db, city) == {}
    with pytest.raises(ValidationError):
        refresh(db, city, min_tenants=4)
    with db.platform_uow() as uow, pytest.raises(ValidationError):
        refresh_benchmarks(uow, period_start=END, period_end=START, min_tenants=5)


def test_every_tenant_reads_the_published_figures(db: Database, city: City) -> None:
    tenants = [tenant_in(db, city) for _ in range(5)]
    for i, t in enumerate(tenants):
        rate(db, t, city.period_start, 4.0 + i / 10)
    refresh(db, city)
    outsider = make_tenant(db)  # contributes nothing, in another city, and still reads them
    with db.tenant_uow(outsider.id) as uow:
        found = list_benchmarks(
            uow, Vertical.RESTAURANT, "", f"  {city.name.upper()} ", "gbp.rating"
        )
        italian = list_benchmarks(uow, region=city.name, category="Italian")
        other_metric = list_benchmarks(uow, region=city.name, metric="gbp.review_count")
    assert len(found) == 1 and isinstance(found[0], BenchmarkFigure)
    figure = found[0]
    assert (figure.region, figure.category, figure.tenant_count) == (city.name, "", 5)
    assert figure.as_dict()["p50"] == 4.2
    assert [f.category for f in italian] == ["italian"]
    assert other_metric == []
