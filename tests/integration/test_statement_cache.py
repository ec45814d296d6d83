"""The engine's use of psycopg's private statement-cache limits is a tuning, never a need."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
import sqlalchemy as sa

from tenantry.config import Settings
from tenantry.db.engine import STATEMENT_CACHE, Database, make_engine


def _long_select(n: int) -> tuple[sa.TextClause, dict[str, int]]:
    """A statement over psycopg's default cache limits (more than 50 parameters)."""
    sql = "SELECT " + ", ".join(f"CAST(:p{i} AS int) + {i}" for i in range(n))
    return sa.text(sql), {f"p{i}": i for i in range(n)}


def test_without_psycopgs_private_limits_the_engine_warns_once_and_answers_the_same(
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="tenantry.fastpath")
    monkeypatch.setattr(STATEMENT_CACHE, "on", True)
    real = importlib.import_module

    def without_queries(name: str, package: str | None = None) -> ModuleType:
        if name == "psycopg._queries":  # as if a psycopg release had moved it
            raise ImportError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_queries)
    engines = [make_engine(db.target.app_url, settings, pool_size=1) for _ in range(2)]
    assert not STATEMENT_CACHE.on
    warnings = [r for r in caplog.records if r.name == "tenantry.fastpath"]
    assert len(warnings) == 1
    stmt, params = _long_select(120)
    with db.app_engine.connect() as conn:
        expected = conn.execute(stmt, params).one()
    for engine in engines:
        with engine.connect() as conn:
            for _ in range(2):  # converted anew each time: still the same answer
                assert conn.execute(stmt, params).one() == expected
        engine.dispose()
