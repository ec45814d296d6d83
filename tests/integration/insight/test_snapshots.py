"""Daily snapshots from the numeric facts of a check, one per location, source, metric and day
(the day's later value wins), and the trends read back from them."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.insight.snapshots import SNAPSHOT_SOURCE, record_snapshots, trends
from tenantry.models import AnalyticsSnapshot
from tenantry.models.enums import EvidenceSource, SnapshotSource
from tests.conftest import TenantFixture, make_tenant
from tests.integration.insight.reports_data import (
    FACEBOOK,
    WEBSITE,
    FactRow,
    Fetch,
    seed_check,
)

DAY = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def gbp(rating: float, reviews: int) -> Fetch:
    body = f'{{"rating": {rating}, "reviewCount": {reviews}}}'.encode()
    return Fetch(
        EvidenceSource.GBP,
        "gbp",
        "https://mybusinessbusinessinformation.googleapis.com/v1/locations/123",
        body,
        (
            FactRow(
                "gbp.rating", rating, f"The Google profile is rated {rating}.", "0.900", "gbp-api"
            ),
            FactRow(
                "gbp.review_count",
                reviews,
                f"The profile has {reviews} reviews.",
                "0.900",
                "gbp-api",
            ),
        ),
    )


def snapshots(db: Database, tenant: TenantFixture) -> dict[tuple[str, str, date], Decimal]:
    with db.tenant_uow(tenant.id) as uow:
        rows = uow.session.scalars(
            select(AnalyticsSnapshot).where(AnalyticsSnapshot.tenant_id == tenant.id)
        )
        return {(r.source.value, r.metric, r.captured_on): r.value for r in rows}


def record(db: Database, tenant: TenantFixture, check_id: uuid.UUID) -> int:
    with db.tenant_uow(tenant.id) as uow:
        written = record_snapshots(uow, check_id)
        uow.commit()
    return written


def test_numeric_facts_become_the_days_snapshots_and_other_facts_do_not(db: Database) -> None:
    tenant = make_tenant(db)
    odd = Fetch(
        EvidenceSource.REVIEW_PLATFORM,
        "reviews",
        "https://reviews.example.org/trattoria-example",
        b'{"average": 4.2, "label": "4.5"}',
        (
            FactRow("reviews.average", 4.2, "Rated 4.2 on a review site.", "0.700", "reviews"),
            FactRow("reviews.label", "4.5", "The site shows a label.", "0.700", "reviews"),
            FactRow("reviews.absurd", 10**20, "A count no business has.", "0.100", "reviews"),
        ),
    )
    check = seed_check(
        db, tenant.id, tenant.locations[0], DAY, (WEBSITE, gbp(4.6, 128), FACEBOOK, odd)
    )
    assert record(db, tenant, check.check_id) == 4
    day = DAY.date()
    assert snapshots(db, tenant) == {
        ("gbp", "gbp.rating", day): Decimal("4.6000"),
        ("gbp", "gbp.review_count", day): Decimal("128.0000"),
        ("facebook", "facebook.followers", day): Decimal("2300.0000"),
        ("internal", "reviews.average", day): Decimal("4.2000"),  # booleans and text left out
    }


def test_a_later_check_of_the_same_day_replaces_the_days_value(db: Database) -> None:
    tenant = make_tenant(db)
    loc = tenant.locations[0]
    first = seed_check(db, tenant.id, loc, DAY, (gbp(4.4, 100),))
    second = seed_check(db, tenant.id, loc, DAY + timedelta(hours=3), (gbp(4.5, 104),))
    assert record(db, tenant, first.check_id) == 2
    assert record(db, tenant, first.check_id) == 2  # again: nothing new
    assert record(db, tenant, second.check_id) == 2
    assert snapshots(db, tenant) == {
        ("gbp", "gbp.rating", DAY.date()): Decimal("4.5000"),
        ("gbp", "gbp.review_count", DAY.date()): Decimal("104.0000"),
    }
    with db.tenant_uow(tenant.id) as uow:
        linked = set(uow.session.scalars(select(AnalyticsSnapshot.evidence_id)))
    assert linked == set(second.evidence)


def test_the_day_is_the_utc_day_of_the_retrieval(db: Database) -> None:
    tenant = make_tenant(db)
    just_after_midnight = datetime(
        2026, 11, 3, 0, 30, tzinfo=UTC
    )  # fetched at 23:30 the day before
    check = seed_check(db, tenant.id, tenant.locations[0], just_after_midnight, (gbp(4.1, 7),))
    record(db, tenant, check.check_id)
    assert {d for _s, _m, d in snapshots(db, tenant)} == {date(2026, 11, 2)}


def test_superseded_evidence_is_not_snapshotted(db: Database) -> None:
    tenant = make_tenant(db)
    check = seed_check(db, tenant.id, tenant.locations[0], DAY, (gbp(4.0, 50),))
    with db.tenant_uow(tenant.id) as uow:
        uow.session.execute(
            text(
                "UPDATE insight.evidence SET superseded_at = :at WHERE tenant_id = :t AND id = :e"
            ),
            {"at": DAY, "t": tenant.id, "e": check.evidence[0]},
        )
        uow.commit()
    assert record(db, tenant, check.check_id) == 1
    assert set(snapshots(db, tenant)) == {("gbp", "gbp.review_count", DAY.date())}


def test_trends_give_each_series_with_its_change_overall_and_over_seven_days(
    db: Database,
) -> None:
    tenant = make_tenant(db)
    loc = tenant.locations[0]
    history = [(0, 4.0, 100), (3, 4.2, 110), (8, 4.5, 125), (10, 4.6, 131)]
    for offset, rating, reviews in history:
        check = seed_check(
            db, tenant.id, loc, DAY + timedelta(days=offset), (gbp(rating, reviews),)
        )
        record(db, tenant, check.check_id)
    facebook = seed_check(db, tenant.id, loc, DAY + timedelta(days=10), (FACEBOOK,))
    record(db, tenant, facebook.check_id)
    today = (DAY + timedelta(days=10)).date()
    with db.tenant_uow(tenant.id) as uow:
        series = trends(uow, loc, today=today)
        rating_only = trends(uow, loc, "gbp.rating", today=today)
        short = trends(uow, loc, "gbp.rating", days=5, today=today)
        elsewhere = trends(uow, tenant.locations[1], today=today)
    assert [(s.source, s.metric) for s in series] == [
        (SnapshotSource.FACEBOOK, "facebook.followers"),
        (SnapshotSource.GBP, "gbp.rating"),
        (SnapshotSource.GBP, "gbp.review_count"),
    ]
    rating = series[1]
    assert [(p.date, p.value) for p in rating.points] == [
        (DAY.date() + timedelta(days=o), r) for o, r, _n in history
    ]
    assert rating.change == 0.6  # 4.6 - 4.0
    assert rating.change_7d == 0.4  # 4.6 - 4.2, the last value a week or more before
    assert series[2].as_dict()["change"] == 31.0
    assert series[0].change == 0.0 and series[0].change_7d is None  # one point only
    assert rating_only == [rating]
    assert [p.value for p in short[0].points] == [4.5, 4.6] and short[0].change_7d is None
    assert elsewhere == []


def test_trends_refuse_an_impossible_range_and_sources_map_onto_snapshot_sources(
    db: Database,
) -> None:
    tenant = make_tenant(db)
    with db.tenant_uow(tenant.id) as uow:
        for days in (0, 10_000):
            with pytest.raises(ValidationError):
                trends(uow, tenant.locations[0], days=days)
    assert SNAPSHOT_SOURCE[EvidenceSource.WEBSITE] is SnapshotSource.WEBSITE
    assert SNAPSHOT_SOURCE[EvidenceSource.PLACES] is SnapshotSource.PLACES
    assert SNAPSHOT_SOURCE[EvidenceSource.MANUAL] is SnapshotSource.INTERNAL
    assert SNAPSHOT_SOURCE[EvidenceSource.SEARCH] is SnapshotSource.INTERNAL
