"""`tenantry evidence ...`: the evidence ledger: recheck its sources (freshness), export a
check's provenance as W3C PROV-JSON, verify that stored evidence is what was written.

Entry point only: the work is done by `tenantry.insight.recheck`, `tenantry.insight.provenance`
and `tenantry.insight.integrity`. `verify` exits 1 (one line on stderr, via the `main()` wrapper)
when it finds a problem. Nothing printed holds personal data.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from enum import StrEnum
from pathlib import Path

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import console, print_json, show, table
from tenantry.cli.params import (
    OutputFormat,
    format_option,
    location_ref,
    tenant_option,
    uuid_value,
)
from tenantry.config import get_settings
from tenantry.insight.checks import find_location
from tenantry.insight.integrity import IntegrityReport, LedgerIntegrityError, verify_ledger
from tenantry.insight.provenance import export_prov
from tenantry.insight.recheck import recheck
from tenantry.insight.worker import build_runner
from tenantry.models.enums import MembershipRole
from tenantry.services.principal import Principal

__all__ = ["app"]

app = typer.Typer(
    help="The evidence ledger: provenance export and verification.", no_args_is_help=True
)


class ExportFormat(StrEnum):
    PROV_JSON = "prov-json"


def _write(path: Path, text: str) -> None:
    """All or nothing: a reader never sees half a document."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@app.command("export")
def export(
    tenant: str = tenant_option(),
    check: uuid.UUID = typer.Option(
        ..., "--check", parser=uuid_value, metavar="ID", help="The visibility check (UUID)."
    ),
    fmt: ExportFormat = typer.Option(
        ExportFormat.PROV_JSON, "--format", help="prov-json: W3C PROV-JSON."
    ),
    output: Path | None = typer.Option(
        None, "--output", metavar="FILE", help="Write here instead of to stdout.", dir_okay=False
    ),
) -> None:
    """Write the provenance of a check (entities, activities, agents) as W3C PROV-JSON."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            doc = export_prov(uow, check)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    _write(output, text)
    print(f"provenance of check {check} written to {output}", file=sys.stderr)


def _problems(report: IntegrityReport) -> None:
    t = table("kind", "table", "row", "detail", title="Evidence ledger problems")
    for p in report.problems:
        t.add_row(p.kind, p.table, p.row_id, p.detail)
    show(t)


@app.command("verify")
def verify(
    tenant: str = tenant_option(),
    check: uuid.UUID | None = typer.Option(
        None, "--check", parser=uuid_value, metavar="ID", help="Only this check (UUID)."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """Check stored bytes against their hashes, evidence against its retrieval and every row
    against the audit trail; exit 1 if anything differs."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            report = verify_ledger(uow, check)
    if fmt is OutputFormat.JSON:
        print_json(report.as_dict())
    elif report.problems:
        _problems(report)
    if report.problems:
        count = len(report.problems)
        raise LedgerIntegrityError(
            f"evidence ledger: {count} problem{'s' if count != 1 else ''} found"
            f" (first: {report.problems[0].kind})"
        )
    if fmt is OutputFormat.TABLE:
        print(
            f"evidence ledger intact: {report.retrievals} retrievals, {report.evidence} pieces"
            f" of evidence, {report.statements} statements, {report.citations} citations"
            f" checked against {report.audit_entries} audit entries"
        )


@app.command("recheck")
def recheck_command(
    tenant: str = tenant_option(),
    location: str | None = typer.Option(
        None, "--location", parser=location_ref, help="Only this location (UUID or slug)."
    ),
    check: uuid.UUID | None = typer.Option(
        None, "--check", parser=uuid_value, help="Only the location of this check."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """Fetch the sources again; changed content supersedes evidence and stales statements."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        location_id = None
        if location is not None:
            with db.tenant_uow(tenant_id) as uow:
                principal = Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)
                location_id = find_location(uow, principal, location).id
        runner = build_runner(db, get_settings())
        report = recheck(db, runner, tenant_id, location_id=location_id, check_id=check)
    figures = {
        "locations": report.locations,
        "fetched": report.fetched,
        "unchanged": report.unchanged,
        "changed": report.changed,
        "superseded": report.superseded,
        "statements_stale": report.statements_stale,
        "failures": report.failures,
    }
    if fmt is OutputFormat.JSON:
        print_json(figures)
        return
    console().print(
        f"{report.locations} location(s): {report.fetched} source(s) fetched, "
        f"{report.unchanged} unchanged, {report.changed} changed; {report.superseded} "
        f"evidence row(s) superseded, {report.statements_stale} statement(s) now stale"
    )
    for failure in report.failures:
        console().print(f"[yellow]not fetched[/] {failure['source']}: {failure['error']}")
