"""`tenantry serve`: run the HTTP API with uvicorn on the configured database.

Migrations are applied once before the workers start; each worker builds its own app (and
connection pool) through the factory `tenantry.api.app:create_app`. With several workers each
listens on a socket of its own (`tenantry.api.workers`), so connections spread evenly.
"""

from __future__ import annotations

import sys
from enum import StrEnum

import typer

from tenantry.api.workers import (
    WorkerOptions,
    WorkersFailedError,
    check_port,
    reuse_port_supported,
    run_workers,
    tune_gc,
)
from tenantry.config import get_settings
from tenantry.db.migrate import upgrade
from tenantry.db.provider import ensure_database
from tenantry.errors import ConfigurationError

__all__ = ["serve"]


def _announce(host: str, port: int, workers: int) -> None:
    """Where the API listens, on stderr (uvicorn's own line is hidden below log level info)."""
    shown = f"[{host}]" if ":" in host else host
    plural = "worker" if workers == 1 else "workers"
    print(f"listening on http://{shown}:{port} ({workers} {plural})", file=sys.stderr, flush=True)


class LogLevel(StrEnum):
    """uvicorn's log levels."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"
    TRACE = "trace"


def serve(
    host: str = typer.Option("127.0.0.1", metavar="ADDRESS", help="Interface to listen on."),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    workers: int = typer.Option(
        1, min=1, max=64, help="Worker processes (each with its own pool)."
    ),
    log_level: LogLevel = typer.Option(LogLevel.WARNING, help="uvicorn's own log level."),
) -> None:
    """Serve the HTTP API (uvicorn)."""
    import uvicorn

    settings = get_settings()
    upgrade(ensure_database(settings))
    if workers > 1 and reuse_port_supported():
        try:
            check_port(host, port)
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        _announce(host, port, workers)
        try:
            options = WorkerOptions(host, port, log_level.value, settings.api_gc_threshold)
            run_workers(options, workers)
        except WorkersFailedError as exc:
            raise ConfigurationError(str(exc)) from None
        return
    _announce(host, port, workers)
    tune_gc(settings.api_gc_threshold)  # this process serves (uvicorn's own workers do not)
    uvicorn.run(
        "tenantry.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level.value,
        access_log=False,  # the app logs one JSON line per request itself
        proxy_headers=True,
    )
