"""A visibility check from start to result on real PostgreSQL against a local website: every
published statement rests on evidence of its check, the ledger is append-only, hostile sources
fail alone, a recheck of changed content marks statements stale."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.errors import TenantryError
from tenantry.insight import checks
from tenantry.insight.recheck import recheck
from tenantry.insight.runner import CheckRunner
from tenantry.insight.worker import (
    MAX_ATTEMPTS,
    build_runner,
    claim_next,
    requeue_stale,
    run_pending,
)
from tenantry.models import (
    AnalysisRun,
    AnalyticsSnapshot,
    Evidence,
    Location,
    OutboxEntry,
    Retrieval,
    Statement,
    StatementEvidence,
    VisibilityCheck,
)
from tenantry.models.enums import StatementStatus, VisibilityCheckStatus
from tests.conftest import TenantFixture, make_tenant
from tests.integration.insight.sites import HOME, Site, serve_site


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as s:
        yield s


@pytest.fixture
def runner(db: Database, settings: Settings) -> CheckRunner:
    local = settings.model_copy(
        update={"collect_allow_private_networks": True, "collect_timeout_seconds": 3.0}
    )
    return build_runner(db, local)


def _located(db: Database, site_url: str | None) -> TenantFixture:
    tenant = make_tenant(db, locations=1)
    with db.platform_uow() as uow:
        loc = uow.session.get(Location, (tenant.id, tenant.locations[0]))
        assert loc is not None
        loc.website = site_url
        uow.commit()
    return tenant


def _run(db: Database, runner: CheckRunner, tenant: TenantFixture) -> uuid.UUID:
    with db.tenant_uow(tenant.id) as uow:
        check = checks.request_check(uow, tenant.principal(), "loc-0")
        check_id = check.id
        uow.commit()
    outcomes = run_pending(runner, tenant_id=tenant.id, check_id=check_id)
    assert [o.check_id for o in outcomes] == [check_id]
    return check_id


def test_a_check_runs_from_request_to_published_result(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    tenant = _located(db, site.url + "/")
    check_id = _run(db, runner, tenant)
    with db.tenant_uow(tenant.id) as uow:
        check = uow.session.get(VisibilityCheck, (tenant.id, check_id))
        assert check is not None
        assert check.status is VisibilityCheckStatus.COMPLETED
        assert check.web_score is not None and check.overall_score is not None
        assert check.persona is not None
        assert check.processing_time_ms is not None and check.completed_at is not None
        retrievals = uow.session.scalars(
            sa.select(Retrieval).where(Retrieval.visibility_check_id == check_id)
        ).all()
        home = next(r for r in retrievals if r.uri.rstrip("/") == site.url)
        assert home.content_hash == hashlib.sha256(HOME).hexdigest()
        assert base64.b64decode(home.body or "") == HOME
        evidence = uow.session.scalars(
            sa.select(Evidence).where(Evidence.visibility_check_id == check_id)
        ).all()
        assert {e.fact_key for e in evidence} >= {"web.reachable", "web.structured_data"}
        for e in evidence:
            assert 0 <= float(e.confidence) <= 1
            assert e.extractor and e.extractor_version
        owner = [e for e in evidence if e.personal]
        assert owner and all("Mustermann" not in f"{e.claim} {e.value}" for e in owner)
        assert any("Mustermann" in (e.excerpt or "") for e in owner)  # sealed, opened here
        statements = uow.session.scalars(
            sa.select(Statement).where(Statement.visibility_check_id == check_id)
        ).all()
        assert statements
        runs = uow.session.scalars(
            sa.select(AnalysisRun).where(AnalysisRun.visibility_check_id == check_id)
        ).all()
        assert [r.provider for r in runs] == ["rules"]
        assert runs[0].published == len(statements)
        events = uow.session.scalars(
            sa.select(OutboxEntry).where(OutboxEntry.aggregate_id == check_id)
        ).all()
        assert [e.event_type for e in events] == ["visibility_check_completed"]
        assert events[0].payload["overall_score"] == check.overall_score
        assert "Mustermann" not in str(events[0].payload)


def test_every_published_statement_cites_evidence_of_its_own_check(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    tenant = _located(db, site.url + "/")
    check_id = _run(db, runner, tenant)
    with db.tenant_uow(tenant.id) as uow:
        rows = uow.session.execute(
            sa.select(Statement.id, sa.func.count(Evidence.id))
            .outerjoin(
                StatementEvidence,
                (StatementEvidence.tenant_id == Statement.tenant_id)
                & (StatementEvidence.statement_id == Statement.id),
            )
            .outerjoin(
                Evidence,
                (Evidence.tenant_id == StatementEvidence.tenant_id)
                & (Evidence.id == StatementEvidence.evidence_id)
                & (Evidence.visibility_check_id == Statement.visibility_check_id),
            )
            .where(
                Statement.visibility_check_id == check_id,
                Statement.status == StatementStatus.PUBLISHED,
            )
            .group_by(Statement.id)
        ).all()
    assert rows
    assert all(cited >= 1 for _sid, cited in rows), rows


def test_the_database_refuses_a_statement_without_evidence(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    tenant = _located(db, site.url + "/")
    check_id = _run(db, runner, tenant)
    with db.tenant_uow(tenant.id) as uow:
        run = uow.session.scalars(
            sa.select(AnalysisRun).where(AnalysisRun.visibility_check_id == check_id)
        ).first()
        assert run is not None
        uow.session.add(
            Statement(
                tenant_id=tenant.id,
                id=uow.ids(),
                visibility_check_id=check_id,
                location_id=tenant.locations[0],
                analysis_run_id=run.id,
                kind="strength",
                text="An unbacked claim",
                published_at=uow.clock.now(),
            )
        )
        uow.flush()
        with pytest.raises(TenantryError):
            uow.commit()


def test_a_statement_may_not_cite_evidence_of_another_check(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    tenant = _located(db, site.url + "/")
    first = _run(db, runner, tenant)
    second = _run(db, runner, tenant)
    with db.tenant_uow(tenant.id) as uow:
        statement = uow.session.scalars(
            sa.select(Statement).where(Statement.visibility_check_id == second)
        ).first()
        foreign = uow.session.scalars(
            sa.select(Evidence).where(Evidence.visibility_check_id == first)
        ).first()
        assert statement is not None and foreign is not None
        uow.session.add(
            StatementEvidence(
                tenant_id=tenant.id, statement_id=statement.id, evidence_id=foreign.id
            )
        )
        with pytest.raises(TenantryError):
            uow.flush()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE insight.evidence SET claim = 'forged'",
        "UPDATE insight.evidence SET confidence = 1",
        "DELETE FROM insight.evidence",
        "UPDATE insight.retrievals SET content_hash = repeat('0', 64)",
        "DELETE FROM insight.retrievals",
    ],
)
def test_the_ledger_is_append_only(
    db: Database, runner: CheckRunner, site: Site, statement: str
) -> None:
    tenant = _located(db, site.url + "/")
    _run(db, runner, tenant)
    for uow_of in (lambda: db.tenant_uow(tenant.id), lambda: db.platform_uow()):
        with pytest.raises(TenantryError), uow_of() as uow:
            uow.session.execute(sa.text(statement + " WHERE tenant_id = :t"), {"t": tenant.id})
            uow.commit()


def test_hostile_and_dead_sources_fail_alone_and_the_check_completes(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    site.redirect("/", "http://169.254.169.254/latest/meta-data/")
    tenant = _located(db, site.url + "/")
    check_id = _run(db, runner, tenant)
    with db.tenant_uow(tenant.id) as uow:
        check = uow.session.get(VisibilityCheck, (tenant.id, check_id))
        assert check is not None and check.status is VisibilityCheckStatus.COMPLETED
        assert check.failures and check.failures[0]["source"] == "website"
        unbacked = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Statement)
            .where(
                Statement.visibility_check_id == check_id,
                ~sa.exists().where(
                    StatementEvidence.tenant_id == Statement.tenant_id,
                    StatementEvidence.statement_id == Statement.id,
                ),
            )
        )
        assert unbacked == 0


def test_a_website_that_never_finishes_does_not_hold_the_check(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    site.slow.add("/")
    tenant = _located(db, site.url + "/")
    check_id = _run(db, runner, tenant)
    with db.tenant_uow(tenant.id) as uow:
        check = uow.session.get(VisibilityCheck, (tenant.id, check_id))
        assert check is not None and check.status is VisibilityCheckStatus.COMPLETED
        assert check.processing_time_ms is not None and check.processing_time_ms < 10_000
        assert any("time" in f["error"] for f in check.failures)


def test_a_recheck_of_changed_content_supersedes_evidence_and_marks_statements_stale(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    tenant = _located(db, site.url + "/")
    check_id = _run(db, runner, tenant)
    same = recheck(db, runner, tenant.id, check_id=check_id)
    assert same.changed == 0 and same.unchanged >= 1 and same.statements_stale == 0
    site.page("/", HOME.replace(b"Speisekarte", b"Menu").replace(b"tel:", b"mailto:"))
    changed = recheck(db, runner, tenant.id, check_id=check_id)
    assert changed.changed >= 1 and changed.superseded >= 1 and changed.statements_stale >= 1
    with db.tenant_uow(tenant.id) as uow:
        check = uow.session.get(VisibilityCheck, (tenant.id, check_id))
        assert check is not None and check.stale_at is not None
        superseded = uow.session.scalars(
            sa.select(Evidence).where(
                Evidence.visibility_check_id == check_id, Evidence.superseded_at.is_not(None)
            )
        ).all()
        assert superseded and any(e.superseded_by is not None for e in superseded)
        stale = uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Statement)
            .where(
                Statement.visibility_check_id == check_id,
                Statement.status == StatementStatus.STALE,
            )
        )
        assert stale == changed.statements_stale
        page_bytes = uow.session.scalar(
            sa.select(AnalyticsSnapshot.value).where(
                AnalyticsSnapshot.location_id == tenant.locations[0],
                AnalyticsSnapshot.metric == "web.page_bytes",
            )
        )
        assert page_bytes == len(site.pages["/"][2])  # the recheck's figure, not the check's


def test_a_new_check_succeeds_the_last_ones_evidence_and_stales_it_only_on_change(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    tenant = _located(db, site.url + "/")
    first = _run(db, runner, tenant)
    second = _run(db, runner, tenant)  # the same bytes
    with db.tenant_uow(tenant.id) as uow:
        current = {
            e.visibility_check_id
            for e in uow.session.scalars(
                sa.select(Evidence).where(
                    Evidence.location_id == tenant.locations[0], Evidence.superseded_at.is_(None)
                )
            )
        }
        assert current == {second}
        statuses = set(
            uow.session.scalars(
                sa.select(Statement.status).where(Statement.visibility_check_id == first)
            )
        )
        assert statuses == {StatementStatus.PUBLISHED}
    site.page("/", HOME.replace(b"Speisekarte", b"Menu"))
    _run(db, runner, tenant)
    with db.tenant_uow(tenant.id) as uow:
        for old in (first, second):
            check = uow.session.get(VisibilityCheck, (tenant.id, old))
            assert check is not None and check.stale_at is not None


def test_a_check_left_running_by_a_dead_worker_is_queued_again_then_given_up(
    db: Database, runner: CheckRunner, site: Site
) -> None:
    tenant = _located(db, site.url + "/")
    with db.tenant_uow(tenant.id) as uow:
        check_id = checks.request_check(uow, tenant.principal(), "loc-0").id
        uow.commit()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert claim_next(db, tenant_id=tenant.id) == (tenant.id, check_id)  # then it "dies"
        requeue_stale(db, timedelta(0))
        with db.tenant_uow(tenant.id) as uow:
            check = uow.session.get(VisibilityCheck, (tenant.id, check_id))
            assert check is not None and check.attempts == attempt
            expected = "queued" if attempt < MAX_ATTEMPTS else "failed"
            assert check.status.value == expected
    assert claim_next(db, tenant_id=tenant.id) is None
