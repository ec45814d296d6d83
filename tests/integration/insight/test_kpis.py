"""The seed 000 KPIs over real ledger rows: coverage of analysers' statements, confidence,
source diversity and freshness of current evidence, and the completion rate of checks in the
window; per tenant (row level security), per location scope, and over the platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import mean

import pytest
from sqlalchemy import text

from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.insight.kpis import Kpis, platform_kpis, tenant_kpis
from tenantry.models.enums import VisibilityCheckStatus
from tests.conftest import TenantFixture, make_tenant
from tests.integration.insight.reports_data import (
    FACEBOOK,
    GBP,
    WEBSITE,
    Fetch,
    Seeded,
    seed_check,
)

# Far from the other tests' data, so that the platform's window holds only this module's checks.
NOW = datetime(2031, 7, 1, 12, 0, tzinfo=UTC)
STALE_WEBSITE = Fetch(
    WEBSITE.source, WEBSITE.collector, WEBSITE.uri, WEBSITE.body, WEBSITE.facts, timedelta(hours=30)
)


def confidences(*fetches: Fetch) -> list[float]:
    return [float(f.confidence) for fetch in fetches for f in fetch.facts]


@pytest.fixture(scope="module")
def world(db: Database) -> tuple[TenantFixture, dict[str, Seeded]]:
    """Four checks in the window, one outside it; one piece of evidence superseded."""
    t = make_tenant(db)
    main, second = t.locations
    checks = {
        "complete": seed_check(db, t.id, main, NOW - timedelta(days=2)),
        "failed": seed_check(
            db,
            t.id,
            second,
            NOW,
            (STALE_WEBSITE,),
            status=VisibilityCheckStatus.FAILED,
            analyse=False,
        ),
        "waiting": seed_check(
            db, t.id, second, NOW, (), status=VisibilityCheckStatus.AWAITING_CONFIRMATION
        ),
        "llm": seed_check(db, t.id, main, NOW, (GBP, FACEBOOK), published=2, rejected=1),
        "old": seed_check(db, t.id, main, NOW - timedelta(days=45), (), analyse=False),
    }
    with db.tenant_uow(t.id) as uow:  # the recheck's rating supersedes the first one
        uow.session.execute(
            text(
                "UPDATE insight.evidence SET superseded_at = :at, superseded_by = :new"
                " WHERE tenant_id = :t AND id = :old"
            ),
            {
                "at": NOW - timedelta(hours=2),
                "new": checks["llm"].evidence[0],
                "t": t.id,
                "old": checks["complete"].evidence[3],  # gbp.rating of the first check
            },
        )
        uow.commit()
    return t, checks


def kpis_of(db: Database, tenant: TenantFixture, **kwargs: object) -> Kpis:
    with db.tenant_uow(tenant.id) as uow:
        return tenant_kpis(uow, NOW, **kwargs)  # type: ignore[arg-type]


def test_each_kpi_follows_its_definition(
    db: Database, world: tuple[TenantFixture, dict[str, Seeded]]
) -> None:
    tenant, _checks = world
    k = kpis_of(db, tenant)
    # Requested in the last 30 days: complete, failed, waiting, llm; completed: two.
    assert (k.checks_requested, k.checks_completed, k.completion_rate) == (4, 2, 0.5)
    # Published / (published + rejected) over the runs: (3 + 2) / (3 + 2 + 1).
    assert (k.statements_published, k.statements_rejected) == (5, 1)
    assert k.evidence_coverage == round(5 / 6, 4)
    # Current evidence: all but the superseded rating.
    current = confidences(WEBSITE, GBP, FACEBOOK, STALE_WEBSITE, GBP, FACEBOOK)
    current.remove(0.9)
    assert k.evidence_current == len(current) == 11
    assert k.avg_confidence == round(mean(current), 4)
    # Fresh: everything but the website fetched 30 hours ago, and the first check's (2 days).
    fresh = len(confidences(GBP, FACEBOOK))
    assert k.fresh_share == round(fresh / 11, 4)
    # Main location: website, gbp, facebook; the second one: website only.
    assert (k.source_diversity, k.locations_with_three_sources) == (2.0, 0.5)
    assert k.locations_with_evidence == 2
    assert all(isinstance(v, float) for v in (k.evidence_coverage, k.avg_confidence))


def test_targets_say_which_kpis_are_met(
    db: Database, world: tuple[TenantFixture, dict[str, Seeded]]
) -> None:
    tenant, _checks = world
    k = kpis_of(db, tenant)
    met = {name: t.met for name, t in k.targets.items()}
    assert met == {
        "evidence_coverage": False,  # 0.8333 < 0.95
        "avg_confidence": True,  # 0.8818 > 0.8
        "source_diversity": False,  # the second location has one source
        "fresh_share": False,  # 0.2727 < 0.9
        "completion_rate": False,  # 0.5 < 0.85
    }
    assert k.targets["evidence_coverage"].target == 0.95
    one_location = kpis_of(db, tenant, locations=frozenset({tenant.locations[0]}))
    assert one_location.targets["source_diversity"].met is True


def test_a_location_scope_limits_every_figure(
    db: Database, world: tuple[TenantFixture, dict[str, Seeded]]
) -> None:
    tenant, _checks = world
    k = kpis_of(db, tenant, locations=frozenset({tenant.locations[1]}))
    assert (k.checks_requested, k.checks_completed, k.completion_rate) == (2, 0, 0.0)
    assert k.evidence_coverage is None  # no analysis ran there
    assert (k.evidence_current, k.fresh_share, k.source_diversity) == (3, 0.0, 1.0)


def test_a_narrower_window_counts_fewer_checks(
    db: Database, world: tuple[TenantFixture, dict[str, Seeded]]
) -> None:
    tenant, _checks = world
    k = kpis_of(db, tenant, window_days=1)
    assert (k.checks_requested, k.checks_completed, k.window_days) == (3, 1, 1)
    assert k.evidence_coverage == round(2 / 3, 4)


def test_a_tenant_without_checks_has_no_figures_rather_than_zeros(db: Database) -> None:
    k = kpis_of(db, make_tenant(db))
    assert (k.checks_requested, k.checks_completed, k.evidence_current) == (0, 0, 0)
    assert k.evidence_coverage is k.avg_confidence is k.completion_rate is k.fresh_share is None
    assert all(t.met is None for t in k.targets.values())
    assert k.as_dict()["targets"]["fresh_share"] == {"target": 0.9, "met": None}


def test_the_platform_adds_every_tenant_and_a_tenant_sees_only_its_own(
    db: Database, world: tuple[TenantFixture, dict[str, Seeded]]
) -> None:
    tenant, _checks = world
    other = make_tenant(db)
    seed_check(db, other.id, other.locations[0], NOW - timedelta(days=1), (WEBSITE,))
    mine = kpis_of(db, tenant)
    with db.platform_uow() as uow:
        everyone = platform_kpis(uow, NOW)
    assert everyone.scope == "platform" and mine.scope == "tenant"
    assert (everyone.checks_requested, everyone.checks_completed) == (5, 3)
    assert everyone.statements_published == mine.statements_published + 1
    assert everyone.evidence_current >= mine.evidence_current + 3
    assert kpis_of(db, tenant).checks_requested == 4  # the other tenant's check stays out


def test_a_window_outside_its_range_is_refused(
    db: Database, world: tuple[TenantFixture, dict[str, Seeded]]
) -> None:
    tenant, _checks = world
    for days in (0, 100_000):
        with pytest.raises(ValidationError):
            kpis_of(db, tenant, window_days=days)
