"""`tenantry audit ...`: sign checkpoints, verify the trail, show a row's history, prune.

Entry point only: the work is done by `tenantry.audit`. `verify` exits 0 when every chain is
intact and 1 (one line on stderr, via the `main()` wrapper) naming the first broken entry.
No command prints personal data: the trail holds none in plain text.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import psycopg
import typer
from rich.text import Text

from tenantry.audit.checkpoints import create_checkpoint
from tenantry.audit.history import row_history
from tenantry.audit.maintenance import drop_partitions_before, ensure_partitions, retention_cutoff
from tenantry.audit.verify import verify_trail
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import OutputFormat, format_option, tenant_option
from tenantry.config import get_settings
from tenantry.db.engine import Database
from tenantry.errors import AuditTrailBrokenError
from tenantry.ids import uuid7
from tenantry.models import tenant_tables
from tenantry.models.enums import KeyPurpose
from tenantry.services.privacy.retention import DATASETS

__all__ = ["app"]

app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


def _audited_table(value: str) -> str:
    audited = [t for t in tenant_tables() if not t.startswith("audit.")]
    if value not in audited:
        raise typer.BadParameter("must be an audited table (schema.table), such as crm.leads")
    return value


# Rows are keyed by a UUID; a few by several columns (joined with commas) that can also be a
# version number or a name (a retention dataset, a key purpose).
_KEY_NAMES = frozenset(DATASETS) | {p.value for p in KeyPurpose}
_NUMBER = re.compile(r"[0-9]{1,18}")


def _key_part(part: str) -> str | None:
    try:
        return str(uuid.UUID(part))
    except ValueError:
        return part if _NUMBER.fullmatch(part) or part in _KEY_NAMES else None


def _row_key(value: str) -> str:
    parts = [_key_part(p) for p in value.split(",")]
    if None in parts:
        raise typer.BadParameter(
            "must be the row's id (a UUID; a composite key's parts joined with commas)"
        )
    return ",".join(p for p in parts if p is not None)


def _owner(db: Database) -> psycopg.Connection:
    return psycopg.connect(db.target.libpq(db.target.owner_url))


@app.command("checkpoint")
def checkpoint() -> None:
    """Sign the head of every chain; store it in the database and under $TENANTRY_HOME."""
    settings = get_settings()
    with database(migrate=False) as db, _owner(db) as conn:
        now = datetime.now(UTC)
        ensure_partitions(conn, today=now.date())
        signed = create_checkpoint(conn, settings, now=now, checkpoint_id=uuid7())
        conn.commit()
    print(f"checkpoint {signed.id}: {len(signed.heads())} chains signed at {now.isoformat()}")


@app.command("verify")
def verify(
    tenant: str | None = tenant_option("Only this tenant (UUID or slug).", required=False),
) -> None:
    """Recompute every chain and check it against the latest checkpoint; exit 1 if broken."""
    settings = get_settings()
    with database(migrate=False) as db:
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
    bulk = (
        f", {report.batches} bulk batches covering {report.bulk_rows} rows"
        if report.batches
        else ""
    )
    print(f"audit trail intact: {report.entries} entries in {report.chains} chains{bulk}; {anchor}")


@app.command("log")
def log(
    tenant: str = tenant_option(),
    table_name: str | None = typer.Option(
        None, "--table", parser=_audited_table, metavar="SCHEMA.TABLE", help="e.g. crm.leads."
    ),
    row: str | None = typer.Option(
        None, "--row", parser=_row_key, metavar="ID", help="The row's id (a UUID)."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="Newest entries shown."),
    fmt: OutputFormat = format_option(),
) -> None:
    """Show the history of a tenant, a table or one row (personal data shows as [redacted])."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            lines = row_history(uow, table=table_name, row_id=row, limit=limit)
    if fmt is OutputFormat.JSON:
        print_json(
            [
                {
                    "seq": line.seq,
                    "recorded_at": line.recorded_at.astimezone(UTC).isoformat(),
                    "actor": line.actor,
                    "operation": line.operation,
                    "table": line.table,
                    "row": line.row_id,
                    "changes": [
                        {"column": c.column, "old": c.old or None, "new": c.new or None}
                        for c in line.changes
                    ],
                }
                for line in lines
            ]
        )
        return
    if not lines:
        print("no entries")
        return
    columns = ["seq", "recorded at (UTC)", "actor", "operation"]
    columns += ["table"] if table_name is None else []
    columns += ["row"] if row is None else []
    out = table(*columns, "changes")
    out.show_lines = True
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
        cells += [line.table] if table_name is None else []
        cells += [line.row_id] if row is None else []
        # Text, not markup: "[redacted]" must print as written.
        out.add_row(*(Text(c) for c in [*cells, changes]))
    show(out)


@app.command("prune")
def prune(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, change nothing."),
) -> None:
    """Drop the months of the trail older than TENANTRY_AUDIT_RETENTION_MONTHS (whole months).

    Each chain remembers its last dropped entry, so `verify` keeps passing afterwards.
    """
    settings = get_settings()
    with database() as db, _owner(db) as conn:
        cutoff = retention_cutoff(datetime.now(UTC).date(), settings.audit_retention_months)
        found = conn.execute(
            "SELECT count(*) FROM audit.log WHERE recorded_at < %s", (cutoff,)
        ).fetchone()
        expired = int(found[0]) if found else 0
        dropped = 0 if dry_run else drop_partitions_before(conn, cutoff)
        conn.commit()
    verb = "would remove" if dry_run else f"removed ({dropped} monthly partitions dropped)"
    print(f"entries recorded before {cutoff.isoformat()}: {expired}; {verb}")
