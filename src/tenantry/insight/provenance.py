"""The provenance of a visibility check as a W3C PROV-JSON document, for auditors.

Entities: every retrieval (URI, SHA-256 and size of the bytes), every piece of evidence drawn
from one (claim, fact, confidence, hash, extractor), every statement and recommendation
published. Activities: the check, each retrieval (`retrieve`) and each analysis run (provider,
model, prompt version, tokens, latency). Agents: each collector, each extractor (name and
version), the analyser (provider and model) and the actor that requested the check. The
relations say what generated, used, was derived from and was attributed to what.

Reads only, in the caller's tenant unit of work. No personal data leaves through it: sealed
columns (retrieved bytes, excerpts) are never read, and an actor that is not a plain
reference (a role or `kind:id`) is shown as redacted.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import load_only

from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError
from tenantry.models import (
    AnalysisRun,
    Evidence,
    Recommendation,
    RecommendationEvidence,
    Retrieval,
    Statement,
    StatementEvidence,
    VisibilityCheck,
)

__all__ = ["NAMESPACE", "RELATIONS", "export_prov"]

NAMESPACE = "urn:tenantry:"
PREFIXES = {
    "tenantry": NAMESPACE,
    "prov": "http://www.w3.org/ns/prov#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
# Each relation kind of the document and the attributes that name its two ends.
RELATIONS: dict[str, tuple[str, str]] = {
    "wasGeneratedBy": ("prov:entity", "prov:activity"),
    "used": ("prov:activity", "prov:entity"),
    "wasDerivedFrom": ("prov:generatedEntity", "prov:usedEntity"),
    "wasAssociatedWith": ("prov:activity", "prov:agent"),
    "wasAttributedTo": ("prov:entity", "prov:agent"),
    "actedOnBehalfOf": ("prov:delegate", "prov:responsible"),
}
# The blank-node names of relation records: `_:wgb1`, `_:u2`, ...
_SHORT = {
    "wasGeneratedBy": "wgb",
    "used": "u",
    "wasDerivedFrom": "wdf",
    "wasAssociatedWith": "waw",
    "wasAttributedTo": "wat",
    "actedOnBehalfOf": "aobo",
}
# An actor reference as the system writes them: `platform`, `role:owner`, `user:<uuid>`,
# `apikey:<uuid>`, `jwt:<hex digest>`. Anything else (it could be a name) is not shown.
_ACTOR = re.compile(r"[a-z_]{1,40}(:([0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,64}|[a-z_]{1,40}))?")
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def _qname(kind: str, *parts: object) -> str:
    local = "-".join(_NAME.sub("_", str(p)) for p in parts)
    return f"tenantry:{kind}-{local}"


def _type(name: str) -> dict[str, str]:
    return {"$": name, "type": "prov:QUALIFIED_NAME"}


def _iso(value: datetime | None) -> str | None:
    """An xsd:dateTime in UTC, as PROV-JSON writes the times of activities and relations."""
    return None if value is None else value.astimezone(UTC).isoformat()


def _time(value: datetime | None) -> dict[str, str] | None:
    """A typed xsd:dateTime literal, for a time that is an ordinary attribute."""
    iso = _iso(value)
    return None if iso is None else {"$": iso, "type": "xsd:dateTime"}


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    """PROV-JSON has no null: an attribute without a value is left out."""
    return {k: v for k, v in attributes.items() if v is not None}


class _Document:
    def __init__(self) -> None:
        self.doc: dict[str, Any] = {"prefix": dict(PREFIXES)}
        self._counter = 0

    def node(self, kind: str, ident: str, attributes: dict[str, Any]) -> str:
        self.doc.setdefault(kind, {})[ident] = _clean(attributes)
        return ident

    def relate(self, kind: str, a: str, b: str, **extra: Any) -> None:
        self._counter += 1
        first, second = RELATIONS[kind]
        record = {first: a, second: b} | _clean(extra)
        self.doc.setdefault(kind, {})[f"_:{_SHORT[kind]}{self._counter}"] = record


def _actor(requested_by: str | None) -> str:
    """The requesting actor as a reference, never as anything that could name a person."""
    if requested_by is None:
        return "unknown"
    return requested_by if _ACTOR.fullmatch(requested_by) else "redacted"


def _rows(uow: UnitOfWork, model: Any, *where: Any, columns: Iterable[Any]) -> list[Any]:
    stmt = sa.select(model).options(load_only(*columns)).where(*where)
    return list(uow.session.scalars(stmt.order_by(model.id)))


def export_prov(uow: UnitOfWork, check_id: uuid.UUID) -> dict[str, Any]:
    """The check's provenance as a PROV-JSON document (a dict ready for `json.dumps`)."""
    tenant = uow.require_tenant()
    check = uow.session.get(VisibilityCheck, (tenant, check_id))
    if check is None:
        raise NotFoundError("visibility check not found")
    d = _Document()
    requester = d.node(
        "agent",
        _qname("actor", _actor(check.requested_by)),
        {"prov:type": _type("prov:Agent"), "tenantry:actor": _actor(check.requested_by)},
    )
    check_activity = d.node(
        "activity",
        _qname("check", check.id),
        {
            "prov:type": _type("tenantry:VisibilityCheck"),
            "prov:startTime": _iso(check.started_at or check.requested_at),
            "prov:endTime": _iso(check.completed_at),
            "tenantry:status": check.status.value,
            "tenantry:location": str(check.location_id),
            "tenantry:rubricVersion": check.rubric_version,
            "tenantry:overallScore": check.overall_score,
            "tenantry:gbpScore": check.gbp_score,
            "tenantry:socialScore": check.social_score,
            "tenantry:webScore": check.web_score,
        },
    )
    d.relate("wasAssociatedWith", check_activity, requester, **{"prov:role": "requester"})

    evidence = _rows(
        uow,
        Evidence,
        Evidence.tenant_id == tenant,
        Evidence.visibility_check_id == check_id,
        columns=(
            Evidence.retrieval_id,
            Evidence.fact_key,
            Evidence.value,
            Evidence.claim,
            Evidence.source,
            Evidence.source_url,
            Evidence.retrieved_at,
            Evidence.confidence,
            Evidence.content_hash,
            Evidence.extractor,
            Evidence.extractor_version,
            Evidence.model_version,
            Evidence.superseded_at,
            Evidence.superseded_by,
        ),
    )
    retrieval_ids = {e.retrieval_id for e in evidence if e.retrieval_id is not None}
    retrievals = _rows(
        uow,
        Retrieval,
        Retrieval.tenant_id == tenant,
        sa.or_(Retrieval.visibility_check_id == check_id, Retrieval.id.in_(retrieval_ids)),
        columns=(
            Retrieval.collector,
            Retrieval.source,
            Retrieval.uri,
            Retrieval.status_code,
            Retrieval.content_type,
            Retrieval.error,
            Retrieval.content_hash,
            Retrieval.body_bytes,
            Retrieval.truncated,
            Retrieval.retrieved_at,
            Retrieval.elapsed_ms,
        ),
    )
    activity_of: dict[uuid.UUID, str] = {}
    for r in retrievals:
        collector = d.node(
            "agent",
            _qname("collector", r.collector),
            {"prov:type": _type("prov:SoftwareAgent"), "tenantry:collector": r.collector},
        )
        act = d.node(
            "activity",
            _qname("retrieve", r.id),
            {
                "prov:type": _type("tenantry:retrieve"),
                "prov:startTime": _iso(r.retrieved_at),
                "tenantry:elapsedMs": r.elapsed_ms,
                "tenantry:check": _type(check_activity),
            },
        )
        ent = d.node(
            "entity",
            _qname("retrieval", r.id),
            {
                "prov:type": _type("tenantry:Retrieval"),
                "prov:location": r.uri,
                "tenantry:source": r.source.value,
                "tenantry:contentHash": r.content_hash,
                "tenantry:bytes": r.body_bytes,
                "tenantry:truncated": r.truncated,
                "tenantry:statusCode": r.status_code,
                "tenantry:contentType": r.content_type,
                "tenantry:error": r.error,
            },
        )
        activity_of[r.id] = act
        d.relate("wasGeneratedBy", ent, act, **{"prov:time": _iso(r.retrieved_at)})
        d.relate("wasAssociatedWith", act, collector)
        d.relate("actedOnBehalfOf", collector, requester, **{"prov:activity": act})
        d.relate("wasAttributedTo", ent, collector)

    evidence_ids = {e.id for e in evidence}
    for e in evidence:
        extractor = None
        if e.extractor:
            extractor = d.node(
                "agent",
                _qname("extractor", e.extractor, e.extractor_version or "unversioned"),
                {
                    "prov:type": _type("prov:SoftwareAgent"),
                    "tenantry:extractor": e.extractor,
                    "tenantry:version": e.extractor_version,
                },
            )
        ent = d.node(
            "entity",
            _qname("evidence", e.id),
            {
                "prov:type": _type("tenantry:Evidence"),
                "tenantry:claim": e.claim,
                "tenantry:factKey": e.fact_key,
                "tenantry:factValue": e.value if isinstance(e.value, str | int | float) else None,
                "tenantry:source": e.source.value,
                "tenantry:sourceUrl": e.source_url,
                "tenantry:confidence": _number(e.confidence),
                "tenantry:confidenceModel": e.model_version,
                "tenantry:contentHash": e.content_hash,
                "tenantry:extractor": e.extractor,
                "tenantry:extractorVersion": e.extractor_version,
                "tenantry:retrievedAt": _time(e.retrieved_at),
                "tenantry:supersededAt": _time(e.superseded_at),
            },
        )
        if e.retrieval_id in activity_of:
            d.relate("wasGeneratedBy", ent, activity_of[e.retrieval_id])
            d.relate(
                "wasDerivedFrom",
                ent,
                _qname("retrieval", e.retrieval_id),
                **{"prov:activity": activity_of[e.retrieval_id]},
            )
        if extractor is not None:
            d.relate("wasAttributedTo", ent, extractor)
    for e in evidence:
        if e.superseded_by in evidence_ids:
            d.relate(
                "wasDerivedFrom",
                _qname("evidence", e.superseded_by),
                _qname("evidence", e.id),
                **{"prov:type": _type("prov:Revision")},
            )

    runs = _rows(
        uow,
        AnalysisRun,
        AnalysisRun.tenant_id == tenant,
        AnalysisRun.visibility_check_id == check_id,
        columns=(
            AnalysisRun.provider,
            AnalysisRun.model,
            AnalysisRun.prompt_version,
            AnalysisRun.input_evidence_ids,
            AnalysisRun.tokens_in,
            AnalysisRun.tokens_out,
            AnalysisRun.latency_ms,
            AnalysisRun.published,
            AnalysisRun.rejected,
            AnalysisRun.error,
            AnalysisRun.started_at,
            AnalysisRun.finished_at,
        ),
    )
    run_activity: dict[uuid.UUID, tuple[str, str]] = {}
    for run in runs:
        analyser = d.node(
            "agent",
            _qname("analyser", run.provider, run.model),
            {
                "prov:type": _type("prov:SoftwareAgent"),
                "tenantry:provider": run.provider,
                "tenantry:model": run.model,
            },
        )
        act = d.node(
            "activity",
            _qname("analysis", run.id),
            {
                "prov:type": _type("tenantry:analyse"),
                "prov:startTime": _iso(run.started_at),
                "prov:endTime": _iso(run.finished_at),
                "tenantry:provider": run.provider,
                "tenantry:model": run.model,
                "tenantry:promptVersion": run.prompt_version,
                "tenantry:tokensIn": run.tokens_in,
                "tenantry:tokensOut": run.tokens_out,
                "tenantry:latencyMs": run.latency_ms,
                "tenantry:published": run.published,
                "tenantry:rejected": run.rejected,
                "tenantry:error": run.error,
                "tenantry:check": _type(check_activity),
            },
        )
        run_activity[run.id] = (act, analyser)
        d.relate("wasAssociatedWith", act, analyser)
        d.relate("actedOnBehalfOf", analyser, requester, **{"prov:activity": act})
        for used in sorted(set(run.input_evidence_ids) & evidence_ids):
            d.relate("used", act, _qname("evidence", used))

    _statements(uow, d, tenant, check_id, run_activity, evidence_ids)
    _recommendations(uow, d, tenant, check_id, run_activity, evidence_ids)
    return d.doc


def _links(
    uow: UnitOfWork, link: Any, owner: Any, tenant: uuid.UUID, ids: list[uuid.UUID]
) -> dict[Any, list[Any]]:
    """The evidence each of `ids` cites, through the link table `link`."""
    cited: dict[Any, list[Any]] = {}
    if ids:
        rows = uow.session.execute(
            sa.select(owner, link.evidence_id)
            .where(link.tenant_id == tenant, owner.in_(ids))
            .order_by(owner, link.evidence_id)
        )
        for o, ev in rows:
            cited.setdefault(o, []).append(ev)
    return cited


def _statements(
    uow: UnitOfWork,
    d: _Document,
    tenant: uuid.UUID,
    check_id: uuid.UUID,
    runs: dict[uuid.UUID, tuple[str, str]],
    evidence_ids: set[uuid.UUID],
) -> None:
    statements = _rows(
        uow,
        Statement,
        Statement.tenant_id == tenant,
        Statement.visibility_check_id == check_id,
        columns=(
            Statement.analysis_run_id,
            Statement.kind,
            Statement.text,
            Statement.status,
            Statement.published_at,
            Statement.stale_at,
        ),
    )
    cited = _links(
        uow, StatementEvidence, StatementEvidence.statement_id, tenant, [s.id for s in statements]
    )
    for s in statements:
        ent = d.node(
            "entity",
            _qname("statement", s.id),
            {
                "prov:type": _type("tenantry:Statement"),
                "prov:value": s.text,
                "tenantry:kind": s.kind.value,
                "tenantry:status": s.status.value,
                "tenantry:publishedAt": _time(s.published_at),
                "tenantry:staleAt": _time(s.stale_at),
            },
        )
        if s.analysis_run_id in runs:
            act, analyser = runs[s.analysis_run_id]
            d.relate("wasGeneratedBy", ent, act, **{"prov:time": _iso(s.published_at)})
            d.relate("wasAttributedTo", ent, analyser)
        for ev in cited.get(s.id, []):
            if ev in evidence_ids:
                d.relate("wasDerivedFrom", ent, _qname("evidence", ev))


def _recommendations(
    uow: UnitOfWork,
    d: _Document,
    tenant: uuid.UUID,
    check_id: uuid.UUID,
    runs: dict[uuid.UUID, tuple[str, str]],
    evidence_ids: set[uuid.UUID],
) -> None:
    recommendations = _rows(
        uow,
        Recommendation,
        Recommendation.tenant_id == tenant,
        Recommendation.visibility_check_id == check_id,
        columns=(
            Recommendation.title,
            Recommendation.category,
            Recommendation.priority,
            Recommendation.status,
            Recommendation.expected_impact,
            Recommendation.created_at,
        ),
    )
    cited = _links(
        uow,
        RecommendationEvidence,
        RecommendationEvidence.recommendation_id,
        tenant,
        [r.id for r in recommendations],
    )
    # A recommendation records no run of its own: the check's last run stands behind it.
    last_run = list(runs.values())[-1] if runs else None
    for r in recommendations:
        ent = d.node(
            "entity",
            _qname("recommendation", r.id),
            {
                "prov:type": _type("tenantry:Recommendation"),
                "prov:label": r.title,
                "tenantry:category": r.category,
                "tenantry:priority": r.priority,
                "tenantry:status": r.status.value,
                "tenantry:expectedImpact": r.expected_impact,
            },
        )
        if last_run is not None:
            d.relate("wasGeneratedBy", ent, last_run[0], **{"prov:time": _iso(r.created_at)})
            d.relate("wasAttributedTo", ent, last_run[1])
        for ev in cited.get(r.id, []):
            if ev in evidence_ids:
                d.relate("wasDerivedFrom", ent, _qname("evidence", ev))
