"""A completed check reaches the lake the way a user's data does: its outbox event is relayed
into `raw/domain_events` and the pipeline builds `fact_visibility_check` from it (a database of
its own, so the relay and the pipeline see only this test's rows)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import sqlalchemy as sa

from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget
from tenantry.events.relay import relay_once
from tenantry.insight import checks
from tenantry.insight.worker import build_runner, run_pending
from tenantry.models import Lead, Subject, VisibilityCheck
from tenantry.pipeline.catalog import MODELS, model_path
from tenantry.pipeline.lakeio import register
from tenantry.pipeline.runner import run_pipeline
from tenantry.services.privacy.consent import append_consent
from tests.conftest import make_tenant
from tests.factories import NOTICE
from tests.insight_support.internet import local_internet
from tests.private_db import private_database


def test_completed_checks_are_rows_of_fact_visibility_check(
    server: DatabaseTarget, settings: Settings, tmp_path: Path
) -> None:
    with private_database(server, settings, "vc_lake") as db, local_internet() as internet:
        tenant = make_tenant(db, locations=1)
        internet.provision(db, tenant.id, tenant.locations[0])
        with db.tenant_uow(tenant.id) as uow:
            operator = checks.request_check(uow, tenant.principal(), "loc-0").id
            asked = checks.request_lead_check(
                uow,
                tenant.principal(),
                business_name="Trattoria Esempio",
                email="visitor@example.org",
                website=internet.website,
                notice=NOTICE,
            )
            uow.commit()
        with db.tenant_uow(tenant.id) as uow:
            checks.confirm_lead_check(uow, tenant.principal(), asked.token, notice=NOTICE)
            quiet = checks.request_lead_check(
                uow,
                tenant.principal(),
                business_name="Imbiss Beispiel",
                email="quiet@example.org",
                notice=NOTICE,
            )
            uow.flush()
            checks.confirm_lead_check(uow, tenant.principal(), quiet.token, notice=NOTICE)
            subject = uow.session.scalar(sa.select(Lead.subject_id).where(Lead.id == asked.lead_id))
            assert subject is not None
            append_consent(
                uow, subject, "analytics", "granted", source="web_form", notice=NOTICE
            )  # the first visitor lets analytics name them; the second does not
            uow.commit()
        run_pending(build_runner(db, internet.settings(settings)), tenant_id=tenant.id)
        with db.tenant_uow(tenant.id) as uow:
            done = {
                c.id: c
                for c in uow.session.scalars(
                    sa.select(VisibilityCheck).where(VisibilityCheck.tenant_id == tenant.id)
                )
            }
            visitor = uow.session.scalar(
                sa.select(Subject.pseudonym)
                .join(Lead, (Lead.tenant_id == Subject.tenant_id) & (Lead.subject_id == Subject.id))
                .where(Lead.id == asked.lead_id)
            )
        relay_once(db, tmp_path)
    run = run_pipeline(tmp_path)
    assert run.status == "ok", [r for r in run.dq if not r.passed]
    fact = next(m for m in MODELS if m.name == "fact_visibility_check")
    con = duckdb.connect()
    register(con, "f", model_path(tmp_path, fact), fact.schema, partition_by=fact.partition_by)
    rows = con.sql(
        "SELECT check_id, location_id, overall_score, web_score, competitor_count, user_key"
        " FROM f ORDER BY check_id"
    ).fetchall()
    expected = [
        (
            str(c.id),
            str(c.location_id),
            c.overall_score,
            c.web_score,
            c.competitor_count,
            visitor if c.id == asked.check.id else None,  # the operator's, the quiet visitor's
        )
        for c in sorted(done.values(), key=lambda c: str(c.id))
    ]
    assert {operator, asked.check.id, quiet.check.id} == set(done)
    assert visitor is not None and rows == expected
    assert "@example.org" not in str(rows)
