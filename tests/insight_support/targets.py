"""Targets and connections for the collector tests (fake business, fake ids), and the check
that no secret reached anything a collector returns as evidence or error."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenantry.insight.facts import Collected, ConnectionInfo, Fact, Target
from tenantry.models.enums import ConnectionProvider

__all__ = ["NOW", "PAGES", "assert_no_secret", "connection", "facts_of", "page", "target"]

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PAGES = Path(__file__).parent / "pages"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def target(**changes: Any) -> Target:
    base = Target(
        tenant_id=uuid.uuid4(),
        location_id=uuid.uuid4(),
        name="Trattoria Esempio",
        vertical="restaurant",
        city="Berlin",
        categories=("italian_restaurant",),
        website=None,
        google_place_id=None,
        latitude=None,
        longitude=None,
        location_count=1,
    )
    return replace(base, **changes)


def connection(provider: ConnectionProvider, **changes: Any) -> ConnectionInfo:
    base = ConnectionInfo(
        id=uuid.uuid4(),
        provider=provider,
        external_account_id=None,
        external_location_id=None,
        access_token=None,
        refresh_token=None,
        token_expires_at=None,
    )
    return replace(base, **changes)


def facts_of(collected: Collected) -> dict[str, Fact]:
    """Every fact by key (a key stated twice keeps the first)."""
    found: dict[str, Fact] = {}
    for _, facts in collected.retrievals:
        for fact in facts:
            found.setdefault(fact.key, fact)
    return found


def assert_no_secret(collected: Collected, *secrets: str) -> None:
    """No secret in a kept retrieval (uri, error, body), a fact, or a connection update's error."""
    for retrieval, facts in collected.retrievals:
        for secret in secrets:
            assert secret not in retrieval.uri
            assert secret not in (retrieval.error or "")
            assert secret.encode() not in retrieval.body
            for fact in facts:
                assert secret not in f"{fact.value} {fact.claim} {fact.excerpt}"
    for update in collected.connection_updates:
        for secret in secrets:
            assert secret not in (update.error or "")
