"""One vocabulary: ingestion's validators, the pipeline's SQL, the synthetic generator and the
docs all use the names of `tenantry.lake.vocabulary`, and nothing else."""

from __future__ import annotations

import re
import typing
from datetime import UTC, datetime, timedelta
from enum import Enum
from importlib import resources
from pathlib import Path

import pytest
from pydantic import BaseModel

from tenantry.events import schemas
from tenantry.lake import vocabulary as v
from tenantry.models.enums import Persona
from tenantry.pipeline.catalog import MODELS, render_sql, sql_text
from tenantry.pipeline.synthetic import EventSpec, domain_batches, event_batches

SQL_FILES = sorted(
    p.name
    for p in resources.files("tenantry.pipeline").joinpath("sql").iterdir()
    if p.name.endswith(".sql")
)
DOCS = Path(__file__).resolve().parents[3] / "docs"


def _raw_sql(name: str) -> str:
    return resources.files("tenantry.pipeline").joinpath("sql", name).read_text("utf-8")


def test_ingestion_accepts_exactly_the_client_types_with_their_declared_properties() -> None:
    assert set(schemas.EVENT_TYPES) == set(v.INGESTED)
    assert not set(schemas.EVENT_TYPES) & set(v.OUTBOX)
    for e in v.EVENT_TYPES:
        if e.channel == "ingest":
            assert set(schemas.EVENT_TYPES[e.name].model_fields) == set(e.properties), e.name


def _values(annotation: object) -> set[str]:
    if typing.get_origin(annotation) is typing.Literal:
        return {str(a) for a in typing.get_args(annotation)}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return {str(m.value) for m in annotation}
    return {x for a in typing.get_args(annotation) for x in _values(a)}


def _literal(model: type[BaseModel], field: str) -> set[str]:
    return _values(model.model_fields[field].annotation)


def test_ingestions_value_sets_are_the_vocabularys() -> None:
    assert {p.value for p in Persona} == set(v.PERSONAS)
    assert _literal(schemas.LoginOAuth, "provider") == set(v.PROVIDERS)
    assert _literal(schemas.Login, "method") == set(v.LOGIN_METHODS)
    assert _literal(schemas.EmailEvent, "bounce_type") == set(v.BOUNCE_TYPES)
    assert _literal(schemas.CommPrefs, "tone") == set(v.TONES)
    assert _literal(schemas.CommPrefs, "address") == set(v.ADDRESS_FORMS)
    assert _literal(schemas.CommPrefs, "help_level") == set(v.HELP_LEVELS)


@pytest.mark.parametrize("name", SQL_FILES)
def test_sql_names_no_event_type_of_its_own(name: str) -> None:
    """Event types enter the SQL only through placeholders, so a renamed type cannot leave a
    model reading a name nobody sends."""
    raw = re.sub(r"--[^\n]*", "", _raw_sql(name))  # comments may name types
    quoted = set(re.findall(r"'([a-z_]+)'", raw))
    assert not quoted & {e.name for e in v.EVENT_TYPES}, name
    rendered = sql_text(name)
    assert "{{" not in rendered and "}}" not in rendered


@pytest.mark.parametrize("name", SQL_FILES)
def test_sql_reads_only_declared_property_names(name: str) -> None:
    declared = {p for e in v.EVENT_TYPES for p in e.properties} | {v.EMAIL_KEY}
    declared |= {"tone"}  # a key of comm_prefs
    text = _raw_sql(name)
    keys = set(re.findall(r"->>'([a-z_]+)'", text))
    keys |= {
        k
        for spec in re.findall(r"json_transform\([^']*'(\{[^']*\})'", text)
        for k in re.findall(r'"([a-z_]+)":', spec)
    }
    keys |= set(re.findall(r"'\$\.([a-z_]+)'", text))
    assert keys <= declared, keys - declared


def test_unknown_placeholders_and_names_are_refused() -> None:
    with pytest.raises(KeyError):
        render_sql("{{ name:oauth_login }}")
    with pytest.raises(KeyError):
        render_sql("{{ types:nonsense }}")


def test_every_table_an_event_feeds_is_in_the_catalog() -> None:
    names = {m.name for m in MODELS}
    assert {t for e in v.EVENT_TYPES for t in e.feeds} <= names


def test_the_synthetic_generator_speaks_the_vocabulary() -> None:
    end = datetime(2026, 11, 1, tzinfo=UTC)
    spec = EventSpec(["00000000-0000-8000-8000-000000000001"], 3000, end - timedelta(days=5), end)
    sent = set(event_batches(spec).read_all().column("event_type").to_pylist())
    changed = set(domain_batches(spec).read_all().column("event_type").to_pylist())
    assert sent <= set(v.INGESTED) and changed == set(v.OUTBOX)
    assert len(sent) >= len(v.INGESTED) - 2  # onb_complete and check requests are left out


def test_the_docs_list_exactly_the_vocabulary() -> None:
    events_doc = (DOCS / "events.md").read_text()
    table = events_doc[events_doc.index("### Event types and their properties") :]
    table = table[: table.index("\n\n", table.index("|"))]
    documented = set(
        re.findall(
            r"`([a-z_]+)`",
            "\n".join(r.split("|")[1] for r in table.splitlines() if r.startswith("| `")),
        )
    )
    assert documented == set(v.INGESTED)
    outbox_doc = events_doc[events_doc.index("### Database changes") :]
    assert all(f"`{name}`" in outbox_doc for name in v.OUTBOX)
    pipeline_doc = (DOCS / "pipeline.md").read_text()
    assert all(f"`{name}`" in pipeline_doc for name in v.SOURCES)
