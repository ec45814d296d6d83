"""`tenantry events ...`: bulk ingest a file, relay inbox and outbox to the lake, project links,
prune consumed rows.

Entry point only: the work is done by `tenantry.events`. Output holds counts, never payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer

from tenantry.cli.common import console, open_db, resolve_tenant
from tenantry.config import get_settings
from tenantry.errors import ValidationError
from tenantry.events.identity import project_identity_links
from tenantry.events.ingest import ingest_bulk
from tenantry.events.relay import RelayReport, relay_forever, relay_once
from tenantry.events.retention import prune_events
from tenantry.privacy.master import master_key_provider

__all__ = ["app"]

app = typer.Typer(help="Event ingestion, the outbox relay and projections.", no_args_is_help=True)


def _lines(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise ValidationError(f"line {number} is not valid JSON") from None


@app.command("ingest")
def ingest(
    file: Path = typer.Argument(..., help="JSON Lines file, one seed-001 event per line."),
    tenant: str = typer.Option(..., "--tenant", help="The tenant's UUID or slug."),
    chunk_size: int = typer.Option(20_000, "--chunk-size", min=1),
) -> None:
    """Bulk-load events (same validation, consent and idempotency rules as the API)."""
    if not file.is_file():
        raise ValidationError("the events file does not exist")
    with open_db() as db:
        tenant_id = resolve_tenant(db, tenant)
        result = ingest_bulk(
            db, master_key_provider(get_settings()), tenant_id, _lines(file), chunk_size=chunk_size
        )
    print(
        f"accepted {result.accepted}, duplicate {result.duplicate},"
        f" suppressed {result.suppressed}, rejected {result.rejected}"
    )
    for outcome in result.outcomes[:20]:
        if outcome.status == "rejected":
            print(f"  line {outcome.index + 1}: {outcome.reason}")


def _print(report: RelayReport) -> None:
    moved = ", ".join(f"{k} {v}" for k, v in report.rows.items())
    recovered = sum(report.recovered.values())
    extra = f", recovered {recovered} batch(es)" if recovered else ""
    console().print(f"relayed {moved} in {report.seconds:.2f} s{extra}")


@app.command("relay")
def relay(
    once: bool = typer.Option(False, "--once", help="Move what is there, then exit."),
    batch_size: int = typer.Option(50_000, "--batch-size", min=1),
    interval: float = typer.Option(1.0, "--interval", min=0.01, help="Idle wait in seconds."),
) -> None:
    """Move the inbox and the outbox into $TENANTRY_HOME/lake/raw, in order, exactly once."""
    settings = get_settings()
    with open_db() as db:
        if once:
            _print(relay_once(db, settings.home, batch_size=batch_size))
        else:
            relay_forever(
                db,
                settings.home,
                batch_size=batch_size,
                interval=interval,
                on_report=lambda r: _print(r) if any(r.rows.values()) else None,
            )


@app.command("project")
def project(
    tenant: str | None = typer.Option(None, "--tenant", help="Only this tenant (UUID or slug)."),
) -> None:
    """Bring identity links up to date with the ingested events."""
    with open_db() as db:
        if tenant is not None:
            tenants = [resolve_tenant(db, tenant)]
        else:
            with db.platform_uow() as uow:
                tenants = list(
                    uow.session.scalars(
                        sa.text("SELECT DISTINCT tenant_id FROM events.inbox ORDER BY 1")
                    )
                )
        linked = events = 0
        for tenant_id in tenants:
            report = project_identity_links(db, tenant_id)
            linked, events = linked + report.linked, events + report.events
    print(f"{events} events read, {linked} links made, {len(tenants)} tenant(s)")


@app.command("prune")
def prune(
    keep_days: int = typer.Option(
        30, "--keep-days", help="Deduplication window: consumed rows younger than this stay."
    ),
) -> None:
    """Delete inbox and outbox rows already relayed (and projected) and older than the window."""
    with open_db() as db:
        counts = prune_events(db, keep_days=keep_days)
    print(", ".join(f"{table}: {n} deleted" for table, n in counts.items()))
