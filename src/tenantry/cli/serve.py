"""`tenantry serve`: run the HTTP API with uvicorn on the configured database.

Migrations are applied once before the workers start; each worker builds its own app (and
connection pool) through the factory `tenantry.api.app:create_app`. With several workers each
listens on a socket of its own (`tenantry.api.workers`), so connections spread evenly.
"""

from __future__ import annotations

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
from tenantry.errors import ConfigurationError, ValidationError

__all__ = ["serve"]


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, help="Worker processes (each with its own pool)."),
    log_level: str = typer.Option("warning", help="uvicorn's own log level."),
) -> None:
    """Serve the HTTP API (uvicorn)."""
    import uvicorn

    if not 1 <= port <= 65535:
        raise ValidationError("--port must be between 1 and 65535")
    if not 1 <= workers <= 64:
        raise ValidationError("--workers must be between 1 and 64")
    settings = get_settings()
    upgrade(ensure_database(settings))
    if workers > 1 and reuse_port_supported():
        try:
            check_port(host, port)
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        try:
            options = WorkerOptions(host, port, log_level, settings.api_gc_threshold)
            run_workers(options, workers)
        except WorkersFailedError as exc:
            raise ConfigurationError(str(exc)) from None
        return
    tune_gc(settings.api_gc_threshold)  # this process serves (uvicorn's own workers do not)
    uvicorn.run(
        "tenantry.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,  # the app logs one JSON line per request itself
        proxy_headers=True,
    )
