"""`tenantry events ...`: bulk ingest a file, relay inbox and outbox to the lake, project links,
prune consumed rows.

Entry point only: the work is done by `tenantry.events`. Output holds counts, never payloads.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer

from tenantry.cli.common import console, database, resolve_tenant
from tenantry.cli.params import tenant_option
from tenantry.config import get_settings
from tenantry.errors import TenantryError
from tenantry.events.identity import project_identity_links
from tenantry.events.ingest import ingest_bulk
from tenantry.events.relay import RelayReport, relay_forever, relay_once
from tenantry.events.retention import prune_events
from tenantry.events.schemas import PayloadError
from tenantry.privacy.master import master_key_provider

__all__ = ["app"]

app = typer.Typer(help="Event ingestion, the outbox relay and projections.", no_args_is_help=True)


def _lines(path: Path, numbers: array[int]) -> Iterator[Any]:
    """Each non-blank line's event, or a `PayloadError` saying why the line is no event (the
    ingestion rejects it with the others); `numbers` collects the line number of each."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            numbers.append(number)
            try:
                yield json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield PayloadError("the line is not UTF-8 text")
            except json.JSONDecodeError:
                yield PayloadError("the line is not valid JSON")
            except RecursionError:
                yield PayloadError("the line nests too deeply")


# Rejected lines listed by `events ingest`; the count says how many more there are.
_SHOWN_REJECTS = 20


@app.command("ingest")
def ingest(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        exists=True,
        dir_okay=False,
        readable=True,
        help="JSON Lines file, one seed-001 event per line.",
    ),
    tenant: str = tenant_option(),
    chunk_size: int = typer.Option(20_000, "--chunk-size", min=1, max=1_000_000),
) -> None:
    """Bulk-load events (same validation, consent and idempotency rules as the API).

    A line that is not an event is rejected with its reason and the others still go in; the
    command then exits 1.
    """
    numbers: array[int] = array("Q")
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        result = ingest_bulk(
            db,
            master_key_provider(get_settings()),
            tenant_id,
            _lines(file, numbers),
            chunk_size=chunk_size,
        )
    print(
        f"accepted {result.accepted}, duplicate {result.duplicate},"
        f" suppressed {result.suppressed}, rejected {result.rejected}"
    )
    rejected = [o for o in result.outcomes if o.status == "rejected"]
    for outcome in rejected[:_SHOWN_REJECTS]:
        print(f"  line {numbers[outcome.index]}: {outcome.reason}")
    if len(rejected) > _SHOWN_REJECTS:
        print(f"  ... and {len(rejected) - _SHOWN_REJECTS} more rejected lines")
    if result.rejected:
        raise TenantryError(f"{result.rejected} of {len(numbers)} lines rejected")


def _print(report: RelayReport) -> None:
    moved = ", ".join(f"{k} {v}" for k, v in report.rows.items())
    recovered = sum(report.recovered.values())
    extra = f", recovered {recovered} batch(es)" if recovered else ""
    console().print(f"relayed {moved} in {report.seconds:.2f} s{extra}")


@app.command("relay")
def relay(
    once: bool = typer.Option(False, "--once", help="Move what is there, then exit."),
    batch_size: int = typer.Option(50_000, "--batch-size", min=1, max=10_000_000),
    interval: float = typer.Option(
        1.0, "--interval", min=0.01, max=3600, help="Idle wait in seconds."
    ),
) -> None:
    """Move the inbox and the outbox into $TENANTRY_HOME/lake/raw, in order, exactly once."""
    settings = get_settings()
    with database() as db:
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
    tenant: str | None = tenant_option("Only this tenant (UUID or slug).", required=False),
) -> None:
    """Bring identity links up to date with the ingested events."""
    with database() as db:
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
        30,
        "--keep-days",
        min=0,
        max=36_500,
        help="Deduplication window: consumed rows younger than this stay.",
    ),
) -> None:
    """Delete inbox and outbox rows already relayed (and projected) and older than the window."""
    with database() as db:
        counts = prune_events(db, keep_days=keep_days)
    print(", ".join(f"{table}: {n} deleted" for table, n in counts.items()))
