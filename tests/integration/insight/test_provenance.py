"""The PROV-JSON export of a check: the structure of the W3C submission, every relation's ends
present, the ledger's lineage (statement <- evidence <- retrieval <- retrieve <- collector),
and no personal data (sealed excerpts and bytes never leave)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tenantry.db.engine import Database
from tenantry.errors import NotFoundError
from tenantry.ids import uuid7
from tenantry.insight.provenance import RELATIONS, export_prov
from tests.conftest import TenantFixture, make_tenant
from tests.integration.insight.reports_data import Seeded, seed_check

NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
KINDS = {"entity", "activity", "agent"}
QNAME = re.compile(r"(tenantry|prov|xsd):[A-Za-z0-9_.-]+")


@pytest.fixture(scope="module")
def exported(db: Database) -> tuple[TenantFixture, Seeded, dict[str, Any]]:
    tenant = make_tenant(db)
    seeded = seed_check(db, tenant.id, tenant.locations[0], NOW, requested_by="role:owner")
    with db.tenant_uow(tenant.id) as uow:
        doc = export_prov(uow, seeded.check_id)
    return tenant, seeded, doc


def _of_type(doc: dict[str, Any], kind: str, prov_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc.get(kind, {}).items() if v["prov:type"]["$"] == prov_type}


def _pairs(doc: dict[str, Any], relation: str) -> set[tuple[str, str]]:
    first, second = RELATIONS[relation]
    return {(r[first], r[second]) for r in doc.get(relation, {}).values()}


def test_the_document_has_the_prov_json_shape_and_every_relation_end_exists(
    exported: tuple[TenantFixture, Seeded, dict[str, Any]],
) -> None:
    _tenant, _seeded, doc = exported
    json.dumps(doc)  # serialisable as it is
    assert doc["prefix"] == {
        "tenantry": "urn:tenantry:",
        "prov": "http://www.w3.org/ns/prov#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
    }
    assert set(doc) <= {"prefix", *KINDS, *RELATIONS}
    nodes = {kind: set(doc[kind]) for kind in KINDS}
    for kind in KINDS:
        for ident, attributes in doc[kind].items():
            assert QNAME.fullmatch(ident), ident
            assert all(QNAME.fullmatch(k) for k in attributes), attributes
            assert None not in attributes.values()
    ends = {
        "prov:entity": "entity",
        "prov:generatedEntity": "entity",
        "prov:usedEntity": "entity",
        "prov:activity": "activity",
        "prov:agent": "agent",
        "prov:delegate": "agent",
        "prov:responsible": "agent",
    }
    relations = 0
    for relation in RELATIONS:
        for ident, record in doc.get(relation, {}).items():
            assert ident.startswith("_:")
            for attribute, kind in ends.items():
                if attribute in record:
                    assert record[attribute] in nodes[kind], (relation, attribute, record)
            relations += 1
    assert relations > 30
    for activity in doc["activity"].values():
        datetime.fromisoformat(activity["prov:startTime"])


def test_each_retrieval_evidence_statement_and_recommendation_is_an_entity(
    exported: tuple[TenantFixture, Seeded, dict[str, Any]],
) -> None:
    _tenant, seeded, doc = exported
    retrievals = _of_type(doc, "entity", "tenantry:Retrieval")
    evidence = _of_type(doc, "entity", "tenantry:Evidence")
    statements = _of_type(doc, "entity", "tenantry:Statement")
    recommendations = _of_type(doc, "entity", "tenantry:Recommendation")
    assert set(retrievals) == {f"tenantry:retrieval-{r}" for r in seeded.retrievals}
    assert set(evidence) == {f"tenantry:evidence-{e}" for e in seeded.evidence}
    assert set(statements) == {f"tenantry:statement-{s}" for s in seeded.statements}
    assert set(recommendations) == {f"tenantry:recommendation-{r}" for r in seeded.recommendations}
    site = next(v for v in retrievals.values() if v["prov:location"] == "https://www.example.com/")
    assert re.fullmatch(r"[0-9a-f]{64}", site["tenantry:contentHash"])
    assert site["tenantry:bytes"] > 0
    rating = next(v for v in evidence.values() if v["tenantry:factKey"] == "gbp.rating")
    assert rating["tenantry:confidence"] == 0.9
    assert rating["tenantry:factValue"] == 4.6
    assert rating["tenantry:extractor"] == "gbp-api"
    gbp = next(v for v in retrievals.values() if v["tenantry:source"] == "gbp")
    assert rating["tenantry:contentHash"] == gbp["tenantry:contentHash"]


def test_lineage_runs_from_statement_to_evidence_to_retrieval_to_its_collector(
    exported: tuple[TenantFixture, Seeded, dict[str, Any]],
) -> None:
    _tenant, seeded, doc = exported
    derived = _pairs(doc, "wasDerivedFrom")
    generated = _pairs(doc, "wasGeneratedBy")
    associated = _pairs(doc, "wasAssociatedWith")
    for e in seeded.evidence:
        sources = {u for g, u in derived if g == f"tenantry:evidence-{e}"}
        assert len(sources) == 1 and sources.pop().startswith("tenantry:retrieval-")
    for s in seeded.statements:
        cited = {u for g, u in derived if g == f"tenantry:statement-{s}"}
        assert cited and all(c.startswith("tenantry:evidence-") for c in cited)
        assert (f"tenantry:statement-{s}", f"tenantry:analysis-{seeded.run_id}") in generated
    for r in seeded.retrievals:
        activity = f"tenantry:retrieve-{r}"
        assert (f"tenantry:retrieval-{r}", activity) in generated
        agents = {a for act, a in associated if act == activity}
        assert len(agents) == 1 and agents.pop().startswith("tenantry:collector-")
    used = _pairs(doc, "used")
    assert {e for _a, e in used} == {f"tenantry:evidence-{e}" for e in seeded.evidence}


def test_the_analysis_run_and_its_agents_are_described(
    exported: tuple[TenantFixture, Seeded, dict[str, Any]],
) -> None:
    _tenant, seeded, doc = exported
    run = doc["activity"][f"tenantry:analysis-{seeded.run_id}"]
    assert run["tenantry:provider"] == "rules"
    assert run["tenantry:model"] == "rubric-2026-12"
    assert run["tenantry:latencyMs"] == 3
    assert run["tenantry:published"] == len(seeded.statements)
    agents = doc["agent"]
    assert "tenantry:analyser-rules-rubric-2026-12" in agents
    assert "tenantry:actor-role_owner" in agents
    assert {a["tenantry:extractor"] for k, a in agents.items() if "extractor-" in k} == {
        "html-meta",
        "gbp-api",
        "graph-api",
    }
    assert ("tenantry:check-" + str(seeded.check_id), "tenantry:actor-role_owner") in _pairs(
        doc, "wasAssociatedWith"
    )


def test_no_personal_data_leaves_through_the_export(
    db: Database, exported: tuple[TenantFixture, Seeded, dict[str, Any]]
) -> None:
    _tenant, _seeded, doc = exported
    text = json.dumps(doc)
    assert "Mustermann" not in text  # the sealed excerpt of the imprint
    assert "Open daily" not in text and "reviewCount" not in text  # the retrieved bytes
    tenant = make_tenant(db)
    seeded = seed_check(
        db, tenant.id, tenant.locations[0], NOW, requested_by="erika.mustermann@example.org"
    )
    with db.tenant_uow(tenant.id) as uow:
        other = json.dumps(export_prov(uow, seeded.check_id))
    assert "mustermann" not in other and "tenantry:actor-redacted" in other


def test_another_tenants_check_cannot_be_exported(
    db: Database, exported: tuple[TenantFixture, Seeded, dict[str, Any]]
) -> None:
    _tenant, seeded, _doc = exported
    stranger = make_tenant(db)
    with db.tenant_uow(stranger.id) as uow:
        with pytest.raises(NotFoundError):
            export_prov(uow, seeded.check_id)
        with pytest.raises(NotFoundError):
            export_prov(uow, uuid7())
