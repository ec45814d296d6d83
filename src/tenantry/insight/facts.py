"""Value types of the visibility check, shared by collectors, analysers and the ledger.

A collector turns one retrieval (the bytes of one HTTP response, or the reason there were
none) into facts: each fact states one thing (`key`, `value`) in one sentence (`claim`), with
the excerpt of the content it rests on. An analyser reads the evidence the ledger made of those
facts and returns statements, each citing the evidence ids it rests on. Pure data, no I/O.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from tenantry.models.enums import ConnectionProvider, EvidenceSource

__all__ = [
    "Analyser",
    "AnalysisInput",
    "AnalysisOutput",
    "Collected",
    "Collector",
    "ConnectionInfo",
    "ConnectionUpdate",
    "EvidenceItem",
    "Fact",
    "FactValue",
    "Fetcher",
    "Rejection",
    "Retrieval",
    "Statement",
    "StatementKind",
    "Target",
    "cited_only",
]

FactValue = str | int | float | bool | None

StatementKind = Literal[
    "strength", "weakness", "opportunity", "threat", "persona", "recommendation", "summary"
]


@dataclass(frozen=True)
class ConnectionInfo:
    """A location's connection to a platform, tokens opened (never logged or returned)."""

    id: uuid.UUID
    provider: ConnectionProvider
    external_account_id: str | None
    external_location_id: str | None
    access_token: str | None
    refresh_token: str | None
    token_expires_at: datetime | None


@dataclass(frozen=True)
class Target:
    """What a check looks at: the location's public attributes and its connections."""

    tenant_id: uuid.UUID
    location_id: uuid.UUID
    name: str
    vertical: str
    city: str | None
    categories: tuple[str, ...]
    website: str | None
    google_place_id: str | None
    latitude: float | None
    longitude: float | None
    location_count: int  # locations of the tenant (a chain has several)
    connections: tuple[ConnectionInfo, ...] = ()

    def connection(self, provider: ConnectionProvider) -> ConnectionInfo | None:
        return next((c for c in self.connections if c.provider is provider), None)


@dataclass(frozen=True)
class Retrieval:
    """One fetch: what was asked, when, and the bytes that came back (or why none did)."""

    collector: str
    source: EvidenceSource
    uri: str  # never carries a token or key
    retrieved_at: datetime
    body: bytes = b""
    status_code: int | None = None
    content_type: str | None = None
    truncated: bool = False
    error: str | None = None  # no personal data: a reason such as "timed out after 5 s"
    elapsed_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True)
class Fact:
    """One thing a retrieval states. `excerpt` may hold personal data (a sole trader's name):
    then `personal` is true, `value` holds none of it, and the ledger seals the excerpt."""

    key: str  # dotted, e.g. "web.https", "gbp.rating", "facebook.followers"
    value: FactValue
    claim: str  # one sentence, no personal data
    extractor: str
    extractor_version: str
    excerpt: str | None = None
    personal: bool = False


@dataclass(frozen=True)
class ConnectionUpdate:
    """What a collector learnt about a connection: new tokens, and whether the sync worked."""

    connection_id: uuid.UUID
    ok: bool
    error: str | None = None  # no token, no personal data
    access_token: str | None = None  # set when refreshed
    refresh_token: str | None = None
    token_expires_at: datetime | None = None


@dataclass(frozen=True)
class Collected:
    """A collector's result: each retrieval with the facts drawn from it."""

    retrievals: list[tuple[Retrieval, list[Fact]]] = field(default_factory=list)
    connection_updates: list[ConnectionUpdate] = field(default_factory=list)


class Fetcher(Protocol):
    """The guarded HTTP client collectors use (see `tenantry.insight.http`)."""

    def get(
        self,
        url: str,
        *,
        collector: str,
        source: EvidenceSource,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        shown_uri: str | None = None,
    ) -> Retrieval: ...

    def post_form(
        self,
        url: str,
        data: dict[str, str],
        *,
        collector: str,
        source: EvidenceSource,
        shown_uri: str | None = None,
    ) -> Retrieval: ...

    def post_json(
        self,
        url: str,
        body: dict[str, Any],
        *,
        collector: str,
        source: EvidenceSource,
        headers: dict[str, str] | None = None,
        shown_uri: str | None = None,
    ) -> Retrieval: ...


class Collector(Protocol):
    """One kind of source. `collect` never raises for a failing source: it returns a
    retrieval with its `error` set, so the check completes with what it could collect."""

    name: str

    def applies_to(self, target: Target) -> bool: ...

    def collect(self, target: Target, fetch: Fetcher) -> Collected: ...


@dataclass(frozen=True)
class EvidenceItem:
    """A ledger row as analysers see it: no personal data (sealed excerpts are left out)."""

    id: uuid.UUID
    key: str
    value: FactValue
    claim: str
    source: EvidenceSource
    confidence: float
    retrieved_at: datetime


@dataclass(frozen=True)
class AnalysisInput:
    check_id: uuid.UUID
    location_name: str
    vertical: str
    city: str | None
    categories: tuple[str, ...]
    location_count: int
    evidence: tuple[EvidenceItem, ...]
    scores: dict[str, int]  # from the rubric: overall, gbp, social, web, competitors
    failures: tuple[str, ...] = ()  # sources that could not be collected


@dataclass(frozen=True)
class Statement:
    """A conclusion, citing the evidence it rests on. `data` carries kind-specific fields:
    a recommendation's `title`, `priority` (1..5), `expected_impact`, `category`; a persona's
    `persona`."""

    kind: StatementKind
    text: str
    evidence_ids: tuple[uuid.UUID, ...]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejection:
    """A statement an analyser produced that was not published, and why."""

    text: str
    reason: str


@dataclass
class AnalysisOutput:
    provider: str
    model: str
    prompt_version: str | None  # SHA-256 of the prompt template, None for rule-based
    statements: list[Statement]
    rejections: list[Rejection] = field(default_factory=list)
    raw_output: Any = None  # what the provider returned, as JSON
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: int = 0
    error: str | None = None  # the provider failed; statements may then be empty


class Analyser(Protocol):
    name: str

    def analyse(self, inp: AnalysisInput) -> AnalysisOutput: ...


def cited_only(
    statements: Sequence[Statement], allowed: set[uuid.UUID]
) -> tuple[list[Statement], list[Rejection]]:
    """Split statements into those citing only evidence of the check (at least one) and the
    rest, with the reason each was rejected."""
    kept: list[Statement] = []
    rejected: list[Rejection] = []
    for s in statements:
        if not s.evidence_ids:
            rejected.append(Rejection(s.text[:200], "cites no evidence"))
        elif not set(s.evidence_ids) <= allowed:
            rejected.append(Rejection(s.text[:200], "cites evidence that is not part of the check"))
        else:
            kept.append(s)
    return kept, rejected
