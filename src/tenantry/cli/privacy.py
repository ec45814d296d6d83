"""`tenantry privacy`, `tenantry keys`, `tenantry retention` and `tenantry consent` commands."""

from __future__ import annotations

import json
import uuid

import typer
from rich.table import Table

from tenantry.cli.common import console, open_db, resolve_tenant
from tenantry.config import get_settings
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models.enums import ConsentPurpose, HoldScope
from tenantry.privacy import catalog as register
from tenantry.privacy.consent import consent_status
from tenantry.privacy.keys import KeyRing, rotate_tenant_key
from tenantry.privacy.master import master_key_provider
from tenantry.privacy.retention import (
    DATASETS,
    effective_policies,
    place_hold,
    release_hold,
    run_retention,
)
from tenantry.privacy.subjects import find_subject

privacy_app = typer.Typer(help="The processing register.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention policies and legal holds.", no_args_is_help=True)
consent_app = typer.Typer(help="Consent of data subjects.", no_args_is_help=True)


@privacy_app.command("catalog")
def catalog(
    fmt: str = typer.Option("table", "--format", help="table | json"),
    personal_only: bool = typer.Option(False, "--personal-only", help="Only personal data."),
) -> None:
    """Print the record of processing activities: every column, classified."""
    if fmt not in ("table", "json"):
        raise ValidationError("--format must be table or json")
    entries = [e for e in register.register() if e.personal or not personal_only]
    if fmt == "json":
        print(
            json.dumps(
                {"record_of_processing_activities": [e.__dict__ for e in entries]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    t = Table(title="Record of processing activities (GDPR Art. 30)")
    for col in ("table.column", "category", "purpose", "legal basis", "retention"):
        t.add_column(col)
    for e in entries:
        t.add_row(f"{e.table}.{e.column}", e.category, e.purpose, e.legal_basis, e.retention)
    console().print(t)


@keys_app.command("rotate")
def rotate(tenant: str = typer.Option(..., help="Tenant id or slug.")) -> None:
    """Rotate the tenant's wrapping key: re-wrap subject keys, rewrite no data row.

    An interrupted rotation is resumed by running the command again.
    """
    db = open_db()
    try:
        report = rotate_tenant_key(
            db, master_key_provider(get_settings()), resolve_tenant(db, tenant)
        )
    finally:
        db.dispose()
    verb = "resumed rotation to" if report.resumed else "rotated to"
    print(
        f"{verb} key version {report.new_version}: {report.rewrapped} subject keys re-wrapped "
        f"in {report.seconds:.2f}s"
    )


@retention_app.command("run")
def run(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count, change nothing."),
    tenant: str | None = typer.Option(None, help="Only this tenant (id or slug)."),
) -> None:
    """Apply every retention policy (idempotent) and print what was done."""
    db = open_db()
    try:
        tenants = [resolve_tenant(db, tenant)] if tenant else None
        outcomes = run_retention(db, tenant_ids=tenants, dry_run=dry_run)
    finally:
        db.dispose()
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
    console().print(t)
    total, tenants_seen = sum(o.affected for o in outcomes), len({o.tenant for o in outcomes})
    print(f"{'would affect' if dry_run else 'affected'} {total} rows in {tenants_seen} tenants")


@retention_app.command("policies")
def policies(tenant: str = typer.Option(..., help="Tenant id or slug.")) -> None:
    """Show the tenant's effective retention policies."""
    db = open_db()
    try:
        with db.tenant_uow(resolve_tenant(db, tenant)) as uow:
            rows = effective_policies(uow)
    finally:
        db.dispose()
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
    console().print(t)


@retention_app.command("hold")
def hold(
    tenant: str = typer.Option(..., help="Tenant id or slug."),
    scope: HoldScope = typer.Option(..., help="dataset | row | customer"),
    reason: str = typer.Option(..., help="Why (e.g. the case or audit reference)."),
    dataset: str | None = typer.Option(None, help=f"One of: {', '.join(sorted(DATASETS))}"),
    target: str | None = typer.Option(None, help="Row id (scope row) or customer id."),
) -> None:
    """Place a legal hold: retention will not delete or anonymise what it covers."""
    try:
        target_id = uuid.UUID(target) if target else None
    except ValueError:
        raise ValidationError("--target must be a UUID") from None
    db = open_db()
    try:
        with db.tenant_uow(resolve_tenant(db, tenant), actor="cli") as uow:
            placed = place_hold(
                uow,
                scope=scope,
                reason=reason,
                placed_by="cli",
                dataset=dataset,
                target_id=target_id,
            )
            uow.commit()
    finally:
        db.dispose()
    print(f"legal hold {placed.id} placed")


@retention_app.command("release")
def release(
    tenant: str = typer.Option(..., help="Tenant id or slug."),
    hold_id: str = typer.Option(..., "--hold", help="Id of the hold."),
) -> None:
    """Release a legal hold."""
    try:
        parsed = uuid.UUID(hold_id)
    except ValueError:
        raise ValidationError("--hold must be a UUID") from None
    db = open_db()
    try:
        with db.tenant_uow(resolve_tenant(db, tenant), actor="cli") as uow:
            release_hold(uow, parsed)
            uow.commit()
    finally:
        db.dispose()
    print(f"legal hold {parsed} released")


@consent_app.command("status")
def status(
    tenant: str = typer.Option(..., help="Tenant id or slug."),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
) -> None:
    """Show the subject's current consent per purpose (the e-mail is used only to look up)."""
    db = open_db()
    try:
        with db.tenant_uow(resolve_tenant(db, tenant)) as uow:
            ring = KeyRing(uow, master_key_provider(get_settings()))
            subject = find_subject(uow, ring, email=email)
            if subject is None:
                raise NotFoundError("no data subject with this e-mail in this tenant")
            states = [consent_status(uow, subject.id, p) for p in ConsentPurpose]
    finally:
        db.dispose()
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
    console().print(t)
