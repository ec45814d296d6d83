"""`tenantry audit ...`: sign checkpoints, verify the trail, show a row's history, prune.

Entry point only: the work is done by `tenantry.audit`. `verify` exits 0 when every chain is
intact and 1 (one line on stderr, via the `main()` wrapper) naming the first broken entry.
No command prints personal data: the trail holds none in plain text.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tenantry.audit.checkpoints import create_checkpoint
from tenantry.audit.history import row_history
from tenantry.audit.maintenance import drop_partitions_before, ensure_partitions, retention_cutoff
from tenantry.audit.verify import verify_trail
from tenantry.cli.common import resolve_tenant
from tenantry.config import get_settings
from tenantry.db.engine import Database, open_database
from tenantry.errors import AuditTrailBrokenError, ValidationError
from tenantry.ids import uuid7
from tenantry.models import tenant_tables

__all__ = ["app"]

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)

TENANT_HELP = "The tenant's UUID or slug."


def _owner(db: Database) -> psycopg.Connection:
    return psycopg.connect(db.target.libpq(db.target.owner_url))


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign the head of every chain; store it in the database and under $TENANTRY_HOME."""
    settings = get_settings()
    with open_database(settings) as db:
        now = datetime.now(UTC)
        with _owner(db) as conn:
            ensure_partitions(conn, today=now.date())
            signed = create_checkpoint(conn, settings, now=now, checkpoint_id=uuid7())
            conn.commit()
    print(f"checkpoint {signed.id}: {len(signed.heads())} chains signed at {now.isoformat()}")


@app.command("verify")
def verify(tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP)) -> None:
    """Recompute every chain and check it against the latest checkpoint; exit 1 if broken."""
    settings = get_settings()
    with open_database(settings) as db:
        tenant_id = resolve_tenant(db, tenant) if tenant is not None else None
        with _owner(db) as conn:
            report = verify_trail(conn, settings, tenant=tenant_id)
    if not report.intact:
        first = report.breaks[0]
        more = len(report.breaks) - 1
        suffix = f"; {more} more broken" if more else ""
        raise AuditTrailBrokenError(f"audit trail broken: {first.describe()}{suffix}")
    anchor = (
        f"checkpoint {report.checkpoint.id} of {report.checkpoint.created_at.isoformat()} matches"
        if report.checkpoint
        else "no checkpoint yet (run `tenantry audit checkpoint`)"
    )
    print(f"audit trail intact: {report.entries} entries in {report.chains} chains; {anchor}")


@app.command("log")
def log(
    tenant: str = typer.Option(..., "--tenant", help=TENANT_HELP),
    table: str | None = typer.Option(None, "--table", help="schema.table, e.g. crm.leads."),
    row: str | None = typer.Option(None, "--row", help="The row's id."),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Newest entries shown."),
) -> None:
    """Show the history of a tenant, a table or one row (personal data shows as [redacted])."""
    audited = [t for t in tenant_tables() if not t.startswith("audit.")]
    if table is not None and table not in audited:
        raise ValidationError("--table must be an audited table such as crm.leads")
    with open_database(get_settings()) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            lines = row_history(uow, table=table, row_id=row, limit=limit)
    if not lines:
        print("no entries")
        return
    out = Table(show_lines=True)
    for column in ("seq", "recorded at (UTC)", "actor", "operation"):
        out.add_column(column, no_wrap=True)
    if table is None:
        out.add_column("table", no_wrap=True)
    if row is None:
        out.add_column("row", overflow="fold")
    out.add_column("changes", overflow="fold")
    for line in lines:
        changes = "\n".join(
            f"{c.column}: {c.old} → {c.new}" if c.old and c.new else f"{c.column}: {c.new or c.old}"
            for c in line.changes
        )
        cells = [
            str(line.seq),
            line.recorded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            line.actor,
            line.operation,
        ]
        cells += [line.table] if table is None else []
        cells += [line.row_id] if row is None else []
        out.add_row(*(Text(c) for c in [*cells, changes]))
    Console().print(out)


@app.command("prune")
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, change nothing."),
) -> None:
    """Drop the months of the trail older than TENANTRY_AUDIT_RETENTION_MONTHS (whole months).

    Each chain remembers its last dropped entry, so `verify` keeps passing afterwards.
    """
    settings = get_settings()
    with open_database(settings, migrate=True) as db:
        cutoff = retention_cutoff(datetime.now(UTC).date(), settings.audit_retention_months)
        with _owner(db) as conn:
            row = conn.execute(
                "SELECT count(*) FROM audit.log WHERE recorded_at < %s", (cutoff,)
            ).fetchone()
            expired = int(row[0]) if row else 0
            dropped = 0 if dry_run else drop_partitions_before(conn, cutoff)
            conn.commit()
    verb = "would remove" if dry_run else f"removed ({dropped} monthly partitions dropped)"
    print(f"entries recorded before {cutoff.isoformat()}: {expired}; {verb}")
