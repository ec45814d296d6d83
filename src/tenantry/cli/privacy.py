"""`tenantry privacy`, `tenantry keys`, `tenantry retention` and `tenantry consent` commands."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.table import Table

from tenantry.cli.common import console, database, open_db, resolve_tenant
from tenantry.cli.output import print_json, show
from tenantry.cli.params import OutputFormat, format_option, tenant_option, uuid_value
from tenantry.config import get_settings
from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError
from tenantry.events.erasure import lake_needles
from tenantry.lake.erasure import lake_scan
from tenantry.models import Base, DsarRequest
from tenantry.models.enums import ConsentPurpose, HoldScope
from tenantry.privacy import catalog as register
from tenantry.privacy.consent import consent_status
from tenantry.privacy.dsar import overdue
from tenantry.privacy.erasure import erase_subject, targets_of
from tenantry.privacy.export import export_subject
from tenantry.privacy.footprint import find_footprint
from tenantry.privacy.keys import KeyRing, rotate_tenant_key
from tenantry.privacy.master import master_key_provider
from tenantry.privacy.retention import (
    DATASETS,
    effective_policies,
    place_hold,
    release_hold,
    run_retention,
)
from tenantry.privacy.scan import Hit, scan
from tenantry.privacy.subjects import email_index, find_subject

privacy_app = typer.Typer(help="The processing register.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention policies and legal holds.", no_args_is_help=True)
consent_app = typer.Typer(help="Consent of data subjects.", no_args_is_help=True)


@privacy_app.command("catalog")
def catalog(
    fmt: OutputFormat = format_option(),
    personal_only: bool = typer.Option(False, "--personal-only", help="Only personal data."),
) -> None:
    """Print the record of processing activities: every column, classified."""
    entries = [e for e in register.register() if e.personal or not personal_only]
    if fmt is OutputFormat.JSON:
        print(
            json.dumps(
                {"record_of_processing_activities": [e.__dict__ for e in entries]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    t = Table(title="Record of processing activities (GDPR Art. 30)")
    for col in ("table.column", "category", "purpose", "legal basis", "retention", "at rest"):
        t.add_column(col)
    for e in entries:
        t.add_row(
            f"{e.table}.{e.column}",
            e.category,
            e.purpose,
            e.legal_basis,
            e.retention,
            e.protection,
        )
    show(t)


@keys_app.command("rotate")
def rotate(
    tenant: str = tenant_option(),
    defer_rewrap: bool = typer.Option(
        False, "--defer-rewrap", help="Only activate the new version; re-wrap later."
    ),
) -> None:
    """Rotate the tenant's wrapping key: re-wrap subject keys, rewrite no data row.

    The new version is active at once; keys still under the old one keep working until they
    are re-wrapped. An interrupted rotation is resumed by `tenantry keys rewrap`.
    """
    with database() as db:
        report = rotate_tenant_key(
            db,
            master_key_provider(get_settings()),
            resolve_tenant(db, tenant),
            rewrap=not defer_rewrap,
        )
    verb = "resumed rotation to" if report.resumed else "rotated to"
    print(
        f"{verb} key version {report.new_version} in {report.rotate_seconds:.3f}s; "
        f"{report.rewrapped} subject keys re-wrapped ({report.seconds:.2f}s in all)"
    )


@keys_app.command("rewrap")
def rewrap(tenant: str = tenant_option()) -> None:
    """Finish (or resume after a crash) re-wrapping subject keys under the active version."""
    with database() as db:
        report = rotate_tenant_key(
            db, master_key_provider(get_settings()), resolve_tenant(db, tenant), resume_only=True
        )
    print(f"{report.rewrapped} subject keys re-wrapped under version {report.new_version}")


@retention_app.command("run")
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, change nothing."),
    tenant: str | None = tenant_option("Only this tenant (UUID or slug).", required=False),
    fmt: OutputFormat = format_option(),
) -> None:
    """Apply every retention policy (idempotent) and print what was done."""
    with database() as db:
        tenants = [resolve_tenant(db, tenant)] if tenant else None
        outcomes = run_retention(db, tenant_ids=tenants, dry_run=dry_run)
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "dry_run": dry_run,
                "outcomes": [
                    {
                        "tenant": o.tenant,
                        "dataset": o.dataset,
                        "action": o.action,
                        "expired_before": o.cutoff.isoformat() if o.cutoff else None,
                        "rows": o.affected,
                        "held": o.held,
                        "note": o.note or None,
                    }
                    for o in outcomes
                ],
            }
        )
        return
    t = Table(title="Retention " + ("(dry run: nothing changed)" if dry_run else "applied"))
    for col in ("tenant", "dataset", "action", "expired before", "rows", "held", "note"):
        t.add_column(col, justify="right" if col in ("rows", "held") else "left")
    for o in outcomes:
        if o.affected or o.held or o.note or tenant:
            t.add_row(
                o.tenant,
                o.dataset,
                o.action,
                o.cutoff.date().isoformat() if o.cutoff else "-",
                str(o.affected),
                str(o.held),
                o.note,
            )
    show(t)
    total, tenants_seen = sum(o.affected for o in outcomes), len({o.tenant for o in outcomes})
    print(f"{'would affect' if dry_run else 'affected'} {total} rows in {tenants_seen} tenants")


@retention_app.command("policies")
def policies(tenant: str = tenant_option(), fmt: OutputFormat = format_option()) -> None:
    """Show the tenant's effective retention policies."""
    with database() as db, db.tenant_uow(resolve_tenant(db, tenant)) as uow:
        rows = effective_policies(uow)
    if fmt is OutputFormat.JSON:
        print_json(
            [
                {
                    "dataset": p.dataset,
                    "period_months": p.period_months or None,
                    "period_days": p.period_days or None,
                    "counted_from": p.start_event,
                    "action": p.action.value,
                    "source": "tenant override" if p.overridden else "default",
                }
                for p in rows
            ]
        )
        return
    t = Table(title="Effective retention policies")
    for col in ("dataset", "period", "counted from", "action", "source"):
        t.add_column(col)
    for p in rows:
        period = f"{p.period_months} months" if p.period_months else f"{p.period_days} days"
        t.add_row(
            p.dataset,
            period,
            p.start_event.replace("_", " "),
            p.action.value,
            "tenant override" if p.overridden else "default",
        )
    show(t)


def _dataset(value: str) -> str:
    if value not in DATASETS:
        raise typer.BadParameter(f"must be one of: {', '.join(sorted(DATASETS))}")
    return value


@retention_app.command("hold")
def hold(
    tenant: str = tenant_option(),
    scope: HoldScope = typer.Option(..., help="What the hold covers."),
    reason: str = typer.Option(..., metavar="TEXT", help="Why (e.g. the case or audit reference)."),
    dataset: str | None = typer.Option(
        None, parser=_dataset, metavar="DATASET", help=f"One of: {', '.join(sorted(DATASETS))}"
    ),
    target: uuid.UUID | None = typer.Option(
        None, parser=uuid_value, metavar="ID", help="Row id (scope row) or customer id."
    ),
) -> None:
    """Place a legal hold: retention will not delete or anonymise what it covers."""
    with database() as db, db.tenant_uow(resolve_tenant(db, tenant), actor="cli") as uow:
        placed = place_hold(
            uow,
            scope=scope,
            reason=reason,
            placed_by="cli",
            dataset=dataset,
            target_id=target,
        )
        uow.commit()
    print(f"legal hold {placed.id} placed")


@retention_app.command("release")
def release(
    tenant: str = tenant_option(),
    hold_id: uuid.UUID = typer.Option(
        ..., "--hold", parser=uuid_value, metavar="ID", help="Id of the hold."
    ),
) -> None:
    """Release a legal hold."""
    with database() as db, db.tenant_uow(resolve_tenant(db, tenant), actor="cli") as uow:
        release_hold(uow, hold_id)
        uow.commit()
    print(f"legal hold {hold_id} released")


@consent_app.command("status")
def status(
    tenant: str = tenant_option(),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
    fmt: OutputFormat = format_option(),
) -> None:
    """Show the subject's current consent per purpose (the e-mail is used only to look up)."""
    with database() as db, db.tenant_uow(resolve_tenant(db, tenant)) as uow:
        ring = uow.keyring
        subject = find_subject(uow, ring, email=email)
        if subject is None:
            raise NotFoundError("no data subject with this e-mail in this tenant")
        states = [consent_status(uow, subject.id, p) for p in ConsentPurpose]
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "subject": subject.pseudonym[:12],
                "purposes": [
                    {
                        "purpose": s.purpose.value,
                        "decision": s.decision.value if s.decision else None,
                        "recorded_at": s.recorded_at.isoformat() if s.recorded_at else None,
                        "expires_at": s.expires_at.isoformat() if s.expires_at else None,
                        "processing_allowed": s.active,
                        "reason": None if s.active else s.reason,
                    }
                    for s in states
                ],
            }
        )
        return
    t = Table(title=f"Consent of subject {subject.pseudonym[:12]}")
    for col in ("purpose", "decision", "recorded", "expires", "processing allowed"):
        t.add_column(col)
    for s in states:
        t.add_row(
            s.purpose.value,
            s.decision.value if s.decision else "-",
            s.recorded_at.isoformat(timespec="seconds") if s.recorded_at else "-",
            s.expires_at.isoformat(timespec="seconds") if s.expires_at else "-",
            "yes" if s.active else f"no ({s.reason})",
        )
    show(t)


dsar_app = typer.Typer(
    help="Data-subject requests: access, erasure, deadlines.", no_args_is_help=True
)


def _ring(uow: UnitOfWork) -> KeyRing:
    return uow.keyring


@dsar_app.command("export")
def dsar_export(
    tenant: str = tenant_option(),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
    out: Path = typer.Option(..., help="Where to write the bundle (.zip)."),
) -> None:
    """Write everything the tenant holds about the subject to a zip (GDPR Art. 15, 20)."""
    db = open_db()
    try:
        with db.tenant_uow(resolve_tenant(db, tenant), actor="cli:dsar") as uow:
            result = export_subject(uow, _ring(uow), email, out)
            uow.commit()
    finally:
        db.dispose()
    print(
        f"request {result.request_id}: {result.rows} records from {result.tables} tables "
        f"written to {result.path}"
    )


@dsar_app.command("erase")
def dsar_erase(
    tenant: str = tenant_option(),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
    as_json: bool = typer.Option(False, "--json", help="Print the receipt as JSON."),
) -> None:
    """Erase the subject (GDPR Art. 17), destroy their keys, scan, and print the receipt.

    Exits 1 if the scan still finds any of the subject's values.
    """
    db = open_db()
    try:
        with db.tenant_uow(resolve_tenant(db, tenant), actor="cli:dsar") as uow:
            result = erase_subject(uow, _ring(uow), email, lake_home=get_settings().home)
            uow.commit()
    finally:
        db.dispose()
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        t = Table(title=f"Erasure receipt {result.receipt.id}")
        t.add_column("table")
        t.add_column("what happened")
        t.add_column("rows", justify="right")
        for table, actions in sorted(result.receipt.summary.items()):
            for action, n in actions.items():
                t.add_row(table, action, str(n))
        console().print(t)
        print(f"keys destroyed: {result.receipt.keys_destroyed}; scan hits: {len(result.hits)}")
    _report_hits(result.hits)


def _report_hits(hits: list[Hit]) -> None:
    for hit in hits:
        print(f"hit: {hit.table}.{hit.column} row {hit.row}", file=sys.stderr)
    if hits:
        raise typer.Exit(1)


@dsar_app.command("list")
def dsar_list(
    tenant: str = tenant_option(),
    only_overdue: bool = typer.Option(False, "--overdue", help="Only open requests past due."),
    fmt: OutputFormat = format_option(),
) -> None:
    """List data-subject requests with their deadlines."""
    with database() as db, db.tenant_uow(resolve_tenant(db, tenant)) as uow:
        if only_overdue:
            requests = overdue(uow)
        else:
            requests = list(
                uow.session.scalars(
                    sa.select(DsarRequest).order_by(DsarRequest.received_at.desc()).limit(200)
                )
            )
        now = uow.clock.now()
    rows = []
    for r in requests:
        due = r.extended_due_at or r.due_at
        rows.append(
            {
                "id": str(r.id),
                "kind": r.kind.value,
                "status": r.status.value,
                "received_at": r.received_at.isoformat(),
                "due_at": due.isoformat(),
                "days_left": (due - now).days if r.closed_at is None else None,
            }
        )
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    t = Table(title="Data-subject requests" + (" (overdue)" if only_overdue else ""))
    for col in ("id", "kind", "status", "received", "due", "days left"):
        t.add_column(col)
    for row in rows:
        left = row["days_left"]
        t.add_row(
            str(row["id"]),
            str(row["kind"]),
            str(row["status"]),
            str(row["received_at"])[:10],
            str(row["due_at"])[:10],
            "-" if left is None else str(left),
        )
    show(t)


@privacy_app.command("scan")
def privacy_scan(
    tenant: str = tenant_option(),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
) -> None:
    """Search every table and the lake for the subject's values; exit 1 on any hit.

    Every column of every table is searched, sealed values opened, and every byte of the lake.
    """
    with database() as db, db.tenant_uow(resolve_tenant(db, tenant)) as uow:
        ring = _ring(uow)
        footprint = find_footprint(uow, ring, email)
        targets = targets_of(uow, ring, footprint)
        targets.add_binary(email_index(ring, email))
        hits = scan(uow, targets, skip=frozenset({"privacy.erasure_receipts"}), ring=ring)
        pseudonym = footprint.subject.pseudonym if footprint.subject else None
        needles = lake_needles(ring, pseudonym=pseudonym, email=footprint.email)
    lake = lake_scan(get_settings().home, needles)
    hits += [Hit("lake", h.path, f"needle {h.needle_index}") for h in lake]
    print(
        f"scanned every column of {len(Base.metadata.tables)} tables and the lake:"
        f" {len(hits)} hit(s)"
    )
    _report_hits(hits)
