"""The embedded server is attached to without pgserver's machine-wide lock when it already runs.

`pgserver.get_server` takes one lock for every embedded server of the machine's user, and holds
it while any of them runs initdb; every `tenantry` start used to wait for it. A server that runs
and is ready is now used as it is; only one that is not (first start, stopped) goes through
`get_server`.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pgserver
import psycopg
import pytest

from tenantry.config import Settings
from tenantry.db.provider import DatabaseTarget, _embedded_server


def test_a_running_server_is_used_without_get_server(
    settings: Settings, server: DatabaseTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    if settings.database_url is not None or not (settings.pgdata / "PG_VERSION").exists():
        pytest.skip("the session runs on an external server")

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("get_server called for a running server")

    monkeypatch.setattr(pgserver, "get_server", refuse)
    with psycopg.connect(_embedded_server(settings.pgdata)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_server_that_does_not_run_is_started_by_get_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Path] = []

    def fake(pgdata: Path, cleanup_mode: str | None = "stop") -> SimpleNamespace:
        started.append(pgdata)
        return SimpleNamespace(get_uri=lambda: "postgresql://postgres:@/postgres?host=/x")

    monkeypatch.setattr(pgserver, "get_server", fake)
    assert _embedded_server(tmp_path / "pg") == "postgresql://postgres:@/postgres?host=/x"
    assert started == [(tmp_path / "pg").resolve()]
