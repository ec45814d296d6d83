"""`tenantry privacy`, `tenantry keys`, `tenantry retention` and `tenantry consent` commands."""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import replace
from pathlib import Path

import typer
from rich.table import Table

from tenantry.cli.common import console, database, resolve_tenant
from tenantry.cli.output import print_json, show
from tenantry.cli.params import OutputFormat, format_option, tenant_option, uuid_value
from tenantry.config import get_settings
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models.enums import HoldScope, MembershipRole
from tenantry.privacy import catalog as register
from tenantry.privacy.crypto import DecryptionError
from tenantry.privacy.keys import rotate_tenant_key
from tenantry.privacy.master import master_key_provider
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Action, Principal
from tenantry.services.privacy.consent import read_consent
from tenantry.services.privacy.dsar import list_requests
from tenantry.services.privacy.erasure import erase_subject, shorten_wal_retention
from tenantry.services.privacy.export import (
    export_subject,
    open_bundle,
    seal_bundle,
    sealed_name,
    write_private,
)
from tenantry.services.privacy.retention import (
    DATASETS,
    effective_policies,
    every_tenant,
    place_hold,
    release_hold,
    run_retention,
)
from tenantry.services.privacy.scan import Hit, scan_subject

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


# The CLI's operator holds the master key and acts for the tenant's data protection officer
# unless told otherwise; the services check the role's permissions as they do for the API
# (dsar, privacy scan, retention and consent commands alike).
_AS_ROLE = typer.Option(
    MembershipRole.DPO,
    "--as-role",
    help="The tenant role to act as (its permissions are checked); default dpo.",
)


def _principal(tenant_id: uuid.UUID, role: MembershipRole) -> Principal:
    return Principal(tenant_id=tenant_id, role=role)


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
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Apply every retention policy (idempotent) and print what was done."""
    with database() as db:
        tenants = [resolve_tenant(db, tenant)] if tenant else every_tenant(db)
        outcomes = [
            outcome
            for tenant_id in tenants  # one transaction per tenant
            for outcome in run_retention(db, _principal(tenant_id, as_role), dry_run=dry_run)
        ]
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
def policies(
    tenant: str = tenant_option(),
    fmt: OutputFormat = format_option(),
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Show the tenant's effective retention policies."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            rows = effective_policies(uow, _principal(tenant_id, as_role))
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
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Place a legal hold: retention will not delete or anonymise what it covers."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            placed = place_hold(
                uow,
                _principal(tenant_id, as_role),
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
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Release a legal hold."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            release_hold(uow, _principal(tenant_id, as_role), hold_id)
            uow.commit()
    print(f"legal hold {hold_id} released")


@consent_app.command("status")
def status(
    tenant: str = tenant_option(),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
    fmt: OutputFormat = format_option(),
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Show the subject's current consent per purpose (the e-mail is used only to look up)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            consent = read_consent(uow, _principal(tenant_id, as_role), email=email)
    if consent.pseudonym is None:
        raise NotFoundError("no data subject with this e-mail in this tenant")
    pseudonym, states = consent.pseudonym, consent.states
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "subject": pseudonym[:12],
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
    t = Table(title=f"Consent of subject {pseudonym[:12]}")
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


@dsar_app.command("export")
def dsar_export(
    tenant: str = tenant_option(),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
    out: str | None = typer.Option(
        None,
        help="Also write the decrypted bundle here (FILE.zip, or - for stdout); it then"
        " leaves tenantry's custody and an erasure cannot reach it.",
    ),
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Export everything the tenant holds about the subject (GDPR Art. 15, 20).

    The bundle is kept sealed under the subject's key in $TENANTRY_HOME/exports (an erasure
    shreds it); `--out` also writes it decrypted.
    """
    target = _plain_target(out)
    home = get_settings().home
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli:dsar") as uow:
            result = export_subject(uow, _principal(tenant_id, as_role), email, lake_home=home)
            sealed = seal_bundle(keyring(uow), result)
            uow.commit()
    exports = home / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    kept = write_private(sealed, exports / sealed_name(result.request_id))
    if target == "-":
        sys.stdout.buffer.write(result.bundle)
        sys.stdout.buffer.flush()
    elif isinstance(target, Path):
        write_private(result.bundle, target)
    print(
        f"request {result.request_id}: {result.rows} records from {result.tables} places;"
        f" kept sealed in {kept}" + (f"; decrypted copy in {target}" if target else ""),
        file=sys.stderr if target == "-" else sys.stdout,
    )


def _plain_target(out: str | None) -> Path | str | None:
    if out is None or out == "-":
        return out
    path = Path(out)
    if path.suffix != ".zip":
        raise ValidationError("the export file must end in .zip")
    if not path.parent.is_dir():
        raise ValidationError("the export file's folder does not exist")
    return path


@dsar_app.command("open")
def dsar_open(
    tenant: str = tenant_option(),
    sealed: Path = typer.Option(..., "--file", help="A kept bundle (dsar-<id>.zip.sealed)."),
    out: str = typer.Option(..., help="Where to write the decrypted bundle (FILE.zip or -)."),
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Decrypt a kept export bundle, while the subject's key exists (not after an erasure)."""
    target = _plain_target(out)
    try:
        data = sealed.read_bytes()
    except OSError:
        raise ValidationError("the sealed export cannot be read") from None
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        _principal(tenant_id, as_role).require(Action.PRIVACY)
        with db.tenant_uow(tenant_id, actor="cli:dsar") as uow:
            try:
                bundle = open_bundle(keyring(uow), data)
            except DecryptionError:
                raise ValidationError(
                    "the subject has been erased: the bundle is shredded"
                ) from None
    if target == "-":
        sys.stdout.buffer.write(bundle)
        sys.stdout.buffer.flush()
    else:
        assert isinstance(target, Path)
        print(f"decrypted bundle written to {write_private(bundle, target)}")


@dsar_app.command("erase")
def dsar_erase(
    tenant: str = tenant_option(),
    email: str = typer.Option(..., help="The subject's e-mail address (not printed)."),
    as_json: bool = typer.Option(False, "--json", help="Print the receipt as JSON."),
    checkpoint: bool = typer.Option(
        False,
        "--checkpoint",
        help="Then switch the WAL and checkpoint, so old segments are recycled sooner.",
    ),
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Erase the subject (GDPR Art. 17), destroy their keys, scan, and print the receipt.

    Exits 1 if the scan still finds any of the subject's values.
    """
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        principal = _principal(tenant_id, as_role)
        with db.tenant_uow(tenant_id, actor="cli:dsar") as uow:
            result = erase_subject(uow, principal, email, lake_home=get_settings().home)
            uow.commit()
        if checkpoint:
            result = replace(result, wal=shorten_wal_retention(db))
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
        if result.wal:
            print(result.wal)
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
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """List data-subject requests with their deadlines."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            requests = list_requests(uow, _principal(tenant_id, as_role), only_overdue=only_overdue)
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
    as_role: MembershipRole = _AS_ROLE,
) -> None:
    """Search every column of every table, sealed values opened, every byte of the lake and
    every file in the exports folder for the subject's values; exit 1 on any hit."""
    home = get_settings().home
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            report = scan_subject(uow, _principal(tenant_id, as_role), email, home=home)
    print(
        f"scanned every column of {report.tables} tables, {report.lake_tables} lake tables"
        f" and the exports folder {home / 'exports'}: {len(report.hits)} hit(s)"
    )
    _report_hits(report.hits)
