"""Runs one visibility check: collect, record the evidence, score, analyse, publish.

No transaction is held open across the network: the target is read; the collectors fetch
(no transaction); then the retrievals and evidence are appended (succeeding the older evidence
of their sources) and connections updated, the rubric scores, the analyser concludes, and the
run, its statements and recommendations (each linked to the evidence it cites), the check's
scores and the outbox event `visibility_check_completed` are written: in one transaction with
the local analyser, in two around a remote (LLM) one. A source that fails is listed in the
check's `failures` and the check completes with the rest; an analyser that fails is recorded
and the deterministic one concludes instead. Only statements citing evidence of this check are
published (the database refuses the others too).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from tenantry.db.engine import Database
from tenantry.db.uow import UnitOfWork
from tenantry.events.outbox import record_change
from tenantry.insight import ledger
from tenantry.insight.analysis.prompts import load_template
from tenantry.insight.facts import (
    Analyser,
    AnalysisInput,
    AnalysisOutput,
    Collected,
    Collector,
    ConnectionInfo,
    EvidenceItem,
    Fetcher,
    Statement,
    Target,
    cited_only,
)
from tenantry.insight.rubric import RUBRIC_VERSION, RubricResult, score
from tenantry.insight.snapshots import record_snapshots
from tenantry.insight.succession import current_sources, succeed
from tenantry.models import (
    AnalysisRun,
    Connection,
    Lead,
    Location,
    Prompt,
    Recommendation,
    RecommendationEvidence,
    StatementEvidence,
    Subject,
    VisibilityCheck,
)
from tenantry.models import Statement as StatementRow
from tenantry.models.enums import Persona, StatementKind, VisibilityCheckStatus

__all__ = ["CheckRunner", "Outcome", "target_of"]

log = logging.getLogger("tenantry.insight")


@dataclass
class Outcome:
    check_id: uuid.UUID
    status: VisibilityCheckStatus
    published: int = 0
    rejected: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def target_of(uow: UnitOfWork, location: Location) -> Target:
    """What collectors look at: the location, its connections (tokens opened), its chain."""
    tenant = uow.require_tenant()
    prospect = bool((location.external_ids or {}).get("prospect"))
    count = 1
    if not prospect:
        count = int(
            uow.session.scalar(
                sa.select(sa.func.count())
                .select_from(Location)
                .where(
                    Location.tenant_id == tenant,
                    Location.deleted_at.is_(None),
                    Location.external_ids["prospect"].astext.is_distinct_from("true"),
                )
            )
            or 1
        )
    connections = uow.session.scalars(
        sa.select(Connection).where(
            Connection.tenant_id == tenant, Connection.location_id == location.id
        )
    ).all()
    return Target(
        tenant_id=tenant,
        location_id=location.id,
        name=location.name,
        vertical=location.vertical.value,
        city=location.city,
        categories=tuple(location.categories or ()),
        website=location.website,
        google_place_id=location.google_place_id,
        latitude=float(location.latitude) if location.latitude is not None else None,
        longitude=float(location.longitude) if location.longitude is not None else None,
        location_count=count,
        connections=tuple(
            ConnectionInfo(
                id=c.id,
                provider=c.provider,
                external_account_id=c.external_account_id,
                external_location_id=c.external_location_id,
                access_token=c.access_token,
                refresh_token=c.refresh_token,
                token_expires_at=c.token_expires_at,
            )
            for c in connections
        ),
    )


def _failure(source: str, uri: str, error: str) -> dict[str, str]:
    return {"source": source, "uri": uri[:300], "error": error[:300]}


@dataclass
class CheckRunner:
    """Everything a check needs from outside: the database, sources, a fetcher, analysers."""

    db: Database
    collectors: Sequence[Collector]
    fetcher: Fetcher
    analyser: Analyser
    fallback: Analyser  # deterministic, used when `analyser` fails

    def collect(self, target: Target) -> tuple[list[Collected], list[dict[str, str]]]:
        """Every collector that applies, each in a thread of its own (their fetches wait on
        the network, not on each other); failures listed, never raised."""
        applying: list[Collector] = []
        failures: list[dict[str, str]] = []
        for collector in self.collectors:
            try:
                if collector.applies_to(target):
                    applying.append(collector)
            except Exception as exc:  # a collector's bug must not fail the whole check
                failures.append(
                    _failure(collector.name, "", f"collector error: {type(exc).__name__}")
                )
        results: list[Collected] = []
        if applying:
            with ThreadPoolExecutor(len(applying), thread_name_prefix="vc-collect") as pool:
                futures = [pool.submit(c.collect, target, self.fetcher) for c in applying]
            for collector, future in zip(applying, futures, strict=True):
                try:
                    results.append(future.result())
                except Exception as exc:
                    log.warning("collector %s failed: %s", collector.name, type(exc).__name__)
                    error = f"collector error: {type(exc).__name__}"
                    failures.append(_failure(collector.name, "", error))
        for collected in results:
            for retrieval, _facts in collected.retrievals:
                if retrieval.error:
                    failures.append(_failure(retrieval.collector, retrieval.uri, retrieval.error))
            for update in collected.connection_updates:
                if not update.ok:
                    failures.append(
                        _failure("connection", str(update.connection_id), update.error or "")
                    )
        return results, failures

    def run(self, tenant_id: uuid.UUID, check_id: uuid.UUID) -> Outcome:
        """Run a check that a worker claimed (status `running`)."""
        started = time.perf_counter()
        with self.db.tenant_uow(tenant_id, actor="insight:worker") as uow:
            check = uow.session.get(VisibilityCheck, (tenant_id, check_id))
            if check is None:
                return Outcome(check_id, VisibilityCheckStatus.FAILED)
            location = uow.session.get(Location, (tenant_id, check.location_id))
            assert location is not None  # a foreign key holds it
            target = target_of(uow, location)
            previous = ledger.current_items(uow, target.location_id)
        try:
            collected, failures = self.collect(target)
            if self.analyser.name == self.fallback.name:
                # A local analyser takes no time: record, conclude and publish in one go.
                with self.db.tenant_uow(tenant_id, actor="insight:worker") as uow:
                    evidence = self._record(uow, check_id, target, collected, previous)
                    result = score(evidence)
                    outputs = self._analyse(check_id, target, evidence, result, failures)
                    outcome = self._publish(
                        uow, check_id, evidence, result, outputs, failures, started
                    )
                    uow.commit()
                return outcome
            # A remote one may take many seconds: no transaction stays open meanwhile.
            with self.db.tenant_uow(tenant_id, actor="insight:worker") as uow:
                evidence = self._record(uow, check_id, target, collected, previous)
                uow.commit()
            result = score(evidence)
            outputs = self._analyse(check_id, target, evidence, result, failures)
            with self.db.tenant_uow(tenant_id, actor="insight:worker") as uow:
                outcome = self._publish(uow, check_id, evidence, result, outputs, failures, started)
                uow.commit()
            return outcome
        except Exception as exc:
            log.exception("visibility check %s failed", check_id)
            self._fail(tenant_id, check_id, f"internal error: {type(exc).__name__}")
            return Outcome(check_id, VisibilityCheckStatus.FAILED)

    def _record(
        self,
        uow: UnitOfWork,
        check_id: uuid.UUID,
        target: Target,
        collected: list[Collected],
        previous: list[EvidenceItem],
    ) -> list[EvidenceItem]:
        pairs = [pair for c in collected for pair in c.retrievals]
        current = current_sources(uow, target.location_id)
        recorded = ledger.record(
            uow,
            location_id=target.location_id,
            check_id=check_id,
            retrievals=pairs,
            context=previous,
        )
        succeed(uow, target.location_id, recorded.retrievals, current)
        ledger.apply_connection_updates(
            uow, [u for c in collected for u in c.connection_updates], uow.clock.now()
        )
        return [ledger.item_of(e) for e in recorded.evidence]  # excerpts left out

    def _analyse(
        self,
        check_id: uuid.UUID,
        target: Target,
        evidence: list[EvidenceItem],
        result: RubricResult,
        failures: list[dict[str, str]],
    ) -> list[AnalysisOutput]:
        inp = AnalysisInput(
            check_id=check_id,
            location_name=target.name,
            vertical=target.vertical,
            city=target.city,
            categories=target.categories,
            location_count=target.location_count,
            evidence=tuple(evidence),
            scores=result.known,
            failures=tuple(f"{f['source']}: {f['error']}" for f in failures),
        )
        outputs = [_safely(self.analyser, inp)]
        failed = outputs[0].error is not None or not outputs[0].statements
        if failed and self.fallback.name != self.analyser.name:
            outputs.append(_safely(self.fallback, inp))
        return outputs

    def _publish(
        self,
        uow: UnitOfWork,
        check_id: uuid.UUID,
        evidence: list[EvidenceItem],
        result: RubricResult,
        outputs: list[AnalysisOutput],
        failures: list[dict[str, str]],
        started: float,
    ) -> Outcome:
        allowed = {e.id for e in evidence}
        outcome = Outcome(check_id, VisibilityCheckStatus.COMPLETED, failures=failures)
        check = uow.session.get(
            VisibilityCheck, (uow.require_tenant(), check_id), with_for_update=True
        )
        assert check is not None
        now = uow.clock.now()
        persona: Persona | None = None
        swot: dict[str, list[str]] = {}
        for output in outputs:
            kept, rejections = cited_only(output.statements, allowed)
            output.rejections.extend(rejections)
            run = _run_row(uow, check, output, evidence, len(kept), now)
            if output.error:
                failures.append(_failure(f"analyser {output.provider}", "", output.error))
            _publish_statements(uow, check, run, kept, now)
            for statement in kept:
                kind = StatementKind(statement.kind)
                if kind is StatementKind.PERSONA and persona is None:
                    persona = _persona(statement.data.get("persona"))
                if kind.value in ("strength", "weakness", "opportunity", "threat"):
                    swot.setdefault(kind.value, []).append(statement.text)
            outcome.published += len(kept)
            outcome.rejected += len(output.rejections)
        scores = result.values
        check.overall_score = scores.get("overall")
        check.gbp_score = scores.get("gbp")
        check.social_score = scores.get("social")
        check.web_score = scores.get("web")
        check.competitor_count = result.competitor_count
        check.persona = persona
        check.rubric_version = RUBRIC_VERSION
        check.analyser = outputs[-1].provider if outputs else None
        check.failures = failures
        check.results = {
            "scores": scores,
            "rubric": _explained(result),
            "swot": swot,
            "published": outcome.published,
            "rejected": outcome.rejected,
        }
        check.processing_time_ms = int((time.perf_counter() - started) * 1000)
        check.status = VisibilityCheckStatus.COMPLETED
        check.completed_at = now
        check.error = None
        uow.flush()
        record_snapshots(uow, check.id)
        payload = _completed_payload(uow, check)
        record_change(uow, "visibility_check", check.id, "visibility_check_completed", payload)
        return outcome

    def _fail(self, tenant_id: uuid.UUID, check_id: uuid.UUID, error: str) -> None:
        with self.db.tenant_uow(tenant_id, actor="insight:worker") as uow:
            check = uow.session.get(VisibilityCheck, (tenant_id, check_id), with_for_update=True)
            if check is not None and check.status is VisibilityCheckStatus.RUNNING:
                check.status = VisibilityCheckStatus.FAILED
                check.error = error[:500]
                check.completed_at = uow.clock.now()
                uow.commit()


def _explained(result: RubricResult) -> dict[str, Any]:
    """The rubric's verdict on every criterion, for the report (ids as text)."""
    return {
        "version": result.version,
        "hash": result.rubric_hash,
        "scores": {
            name: {
                "value": s.value,
                "evidence_ids": [str(i) for i in s.evidence_ids],
                "criteria": [
                    {
                        "name": c.criterion.name,
                        "label": c.criterion.label,
                        "status": c.status,
                        "points": c.points,
                        "of": c.criterion.points,
                        "evidence_ids": [str(i) for i in c.evidence_ids],
                    }
                    for c in s.criteria
                ],
            }
            for name, s in result.scores.items()
        },
    }


def _safely(analyser: Analyser, inp: AnalysisInput) -> AnalysisOutput:
    started = time.perf_counter()
    try:
        return analyser.analyse(inp)
    except Exception as exc:  # a provider's bug is a failed run, never a failed check
        log.warning("analyser %s failed: %s", analyser.name, type(exc).__name__)
        return AnalysisOutput(
            provider=analyser.name,
            model="unknown",
            prompt_version=None,
            statements=[],
            latency_ms=int((time.perf_counter() - started) * 1000),
            error=f"analyser error: {type(exc).__name__}",
        )


def _persona(value: Any) -> Persona | None:
    try:
        return Persona(value)
    except ValueError:
        return None


def _run_row(
    uow: UnitOfWork,
    check: VisibilityCheck,
    output: AnalysisOutput,
    evidence: Sequence[EvidenceItem],
    published: int,
    now: Any,
) -> AnalysisRun:
    if output.prompt_version is not None:
        template = load_template()
        if template.version == output.prompt_version:
            uow.session.execute(
                postgresql.insert(Prompt)
                .values(version=template.version, name=template.name, body=template.text)
                .on_conflict_do_nothing()
            )
    run = AnalysisRun(
        tenant_id=check.tenant_id,
        id=uow.ids(),
        visibility_check_id=check.id,
        provider=output.provider[:60],
        model=output.model[:200],
        prompt_version=output.prompt_version if output.prompt_version else None,
        input_evidence_ids=[e.id for e in evidence],
        output=output.raw_output,
        tokens_in=output.tokens_in,
        tokens_out=output.tokens_out,
        latency_ms=max(0, output.latency_ms),
        published=published,
        rejected=len(output.rejections),
        rejections=[{"text": r.text[:200], "reason": r.reason} for r in output.rejections],
        error=(output.error or None) and output.error[:500],
        started_at=now,
        finished_at=now,
    )
    uow.session.add(run)
    uow.flush()
    return run


def _publish_statements(
    uow: UnitOfWork, check: VisibilityCheck, run: AnalysisRun, kept: list[Statement], now: Any
) -> None:
    """The statements, then their evidence links and recommendations, then theirs: three
    statements to the server however many there are (parents first, for the foreign keys)."""
    tenant = check.tenant_id
    rows = [
        StatementRow(
            tenant_id=tenant,
            id=uow.ids(),
            visibility_check_id=check.id,
            location_id=check.location_id,
            analysis_run_id=run.id,
            kind=StatementKind(s.kind),
            text=s.text[:2000],
            data=s.data,
            published_at=now,
        )
        for s in kept
    ]
    uow.session.add_all(rows)
    uow.flush()
    recommendations: list[tuple[Recommendation, list[uuid.UUID]]] = []
    for row, s in zip(rows, kept, strict=True):
        cited = list(dict.fromkeys(s.evidence_ids))
        uow.session.add_all(
            StatementEvidence(tenant_id=tenant, statement_id=row.id, evidence_id=e) for e in cited
        )
        if row.kind is StatementKind.RECOMMENDATION:
            recommendations.append((_recommendation(uow, check, s), cited))
    uow.session.add_all(rec for rec, _cited in recommendations)
    uow.flush()
    uow.session.add_all(
        RecommendationEvidence(tenant_id=tenant, recommendation_id=rec.id, evidence_id=e)
        for rec, cited in recommendations
        for e in cited
    )
    uow.flush()


def _recommendation(uow: UnitOfWork, check: VisibilityCheck, s: Statement) -> Recommendation:
    priority = s.data.get("priority", 3)
    impact = s.data.get("expected_impact")
    return Recommendation(
        tenant_id=check.tenant_id,
        id=uow.ids(),
        location_id=check.location_id,
        visibility_check_id=check.id,
        title=str(s.data.get("title") or s.text)[:200],
        body=s.text[:5000],
        category=str(s.data.get("category") or "general")[:60],
        priority=priority if isinstance(priority, int) and 1 <= priority <= 5 else 3,
        expected_impact=str(impact)[:200] if impact else None,
    )


def _completed_payload(uow: UnitOfWork, check: VisibilityCheck) -> dict[str, Any]:
    """The lake's `fact_visibility_check` row: ids and figures only, the subject as pseudonym."""
    user_key = None
    if check.lead_id is not None:
        # As ingestion does: the visitor is named (by pseudonym) only while they consent to
        # analytics.
        user_key = uow.session.scalar(
            sa.select(Subject.pseudonym)
            .join(Lead, (Lead.tenant_id == Subject.tenant_id) & (Lead.subject_id == Subject.id))
            .where(
                Lead.tenant_id == check.tenant_id,
                Lead.id == check.lead_id,
                Subject.erased_at.is_(None),
                sa.text(
                    "EXISTS (SELECT 1 FROM privacy.active_consents a"
                    " WHERE a.tenant_id = privacy.subjects.tenant_id"
                    " AND a.subject_id = privacy.subjects.id AND a.purpose = 'analytics')"
                ),
            )
        )
    seconds = (check.processing_time_ms or 0) // 1000
    return {
        "check_id": str(check.id),
        "location_id": str(check.location_id),
        "user_key": user_key,
        "overall_score": check.overall_score,
        "gbp_score": check.gbp_score,
        "social_score": check.social_score,
        "web_score": check.web_score,
        "competitor_count": check.competitor_count,
        "processing_time_seconds": seconds,
    }
