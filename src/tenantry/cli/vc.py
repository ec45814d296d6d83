"""`tenantry vc`: start visibility checks, run the worker, show a check's report.

`vc run` queues a check and, unless `--no-wait`, works it off in this process (a worker claims
it exactly as `vc work` and `tenantry serve` do); `vc request` and `vc confirm` are the
anonymous lead flow from the command line.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import typer

from tenantry.cli import vc_reports
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import console, print_json, show, table
from tenantry.cli.params import (
    OutputFormat,
    format_option,
    location_ref,
    tenant_option,
    uuid_value,
    web_url,
)
from tenantry.config import get_settings
from tenantry.db.engine import Database
from tenantry.errors import ValidationError
from tenantry.insight import checks
from tenantry.insight.worker import CheckWorker, build_runner, run_pending
from tenantry.models.enums import MembershipRole, Vertical, VisibilityCheckStatus
from tenantry.services.principal import Principal
from tenantry.services.privacy.consent import Notice

__all__ = ["app"]

app = typer.Typer(help="Visibility checks (seed 000/001).", no_args_is_help=True)
app.command("kpis")(vc_reports.kpis)
app.command("benchmarks")(vc_reports.benchmarks)
app.command("refresh-benchmarks")(vc_reports.refresh_benchmarks)
app.command("trends")(vc_reports.trends)


def _principal(tenant_id: uuid.UUID) -> Principal:
    return Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)


def _summary(report: checks.Report) -> dict[str, Any]:
    check = report.check
    return {
        "id": str(check.id),
        "location_id": str(check.location_id),
        "status": check.status.value,
        "overall_score": check.overall_score,
        "gbp_score": check.gbp_score,
        "social_score": check.social_score,
        "web_score": check.web_score,
        "competitor_count": check.competitor_count,
        "persona": check.persona.value if check.persona else None,
        "processing_time_ms": check.processing_time_ms,
        "failures": check.failures,
        "error": check.error,
        "statements": [
            {
                "kind": s.kind.value,
                "status": s.status.value,
                "text": s.text,
                "evidence": [str(e.id) for e in cited],
            }
            for s, cited in report.statements
        ],
        "recommendations": [
            {
                "title": r.title,
                "priority": r.priority,
                "expected_impact": r.expected_impact,
                "evidence": [str(e.id) for e in cited],
            }
            for r, cited in report.recommendations
        ],
        "evidence": len(report.evidence),
    }


def _print(summary: dict[str, Any], fmt: OutputFormat) -> None:
    if fmt is OutputFormat.JSON:
        print_json(summary)
        return
    scores = table("check", "status", "overall", "gbp", "social", "web", "competitors", "persona",
                   right=("overall", "gbp", "social", "web", "competitors"))  # fmt: skip
    scores.add_row(
        summary["id"],
        summary["status"],
        *(str(summary[k]) if summary[k] is not None else "-"
          for k in ("overall_score", "gbp_score", "social_score", "web_score",
                    "competitor_count", "persona")),
    )  # fmt: skip
    said = table("kind", "statement", "evidence", right=("evidence",))
    for s in summary["statements"]:
        said.add_row(s["kind"], s["text"], str(len(s["evidence"])))
    show(scores, said)
    for failure in summary["failures"]:
        console().print(f"[yellow]not collected[/] {failure['source']}: {failure['error']}")


def _report(db: Database, tenant_id: uuid.UUID, check_id: uuid.UUID) -> dict[str, Any]:
    with db.tenant_uow(tenant_id) as uow:
        return _summary(checks.report(uow, _principal(tenant_id), check_id))


def _finish(
    db: Database, tenant_id: uuid.UUID, check_id: uuid.UUID, *, wait: bool, fmt: OutputFormat
) -> None:
    """Run the queued check here (as a worker would claim it) if asked to, then print it."""
    if wait:
        run_pending(build_runner(db, get_settings()), tenant_id=tenant_id, check_id=check_id)
    _print(_report(db, tenant_id, check_id), fmt)


@app.command("run")
def run(
    tenant: str = tenant_option(),
    location: str = typer.Option(
        ..., "--location", parser=location_ref, help="The location's UUID or slug."
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Run it here, or only queue it."),
    fmt: OutputFormat = format_option(),
) -> None:
    """Start a visibility check of a location and (by default) run it to the end."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            check_id = checks.request_check(uow, _principal(tenant_id), location).id
            uow.commit()
        _finish(db, tenant_id, check_id, wait=wait, fmt=fmt)


@app.command("show")
def show_check(
    tenant: str = tenant_option(),
    check: uuid.UUID = typer.Option(..., "--check", parser=uuid_value, help="The check's id."),
    fmt: OutputFormat = format_option(),
) -> None:
    """A check's scores, statements (with their evidence), recommendations and failures."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        _print(_report(db, tenant_id, check), fmt)


def _notice(version: str, path: Path) -> Notice:
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"cannot read the notice file: {type(exc).__name__}") from None
    return Notice(version, text)


@app.command("request")
def request(
    tenant: str = tenant_option(),
    business_name: str = typer.Option(..., "--business-name", help="The visitor's business."),
    email: str = typer.Option(..., "--email", help="Where the confirmation link goes."),
    notice_version: str = typer.Option(..., "--notice-version", help="Privacy notice version."),
    notice_file: Path = typer.Option(
        ..., "--notice-file", exists=True, dir_okay=False, help="The notice text shown."
    ),
    website: str | None = typer.Option(None, "--website", parser=web_url, help="http(s) URL."),
    city: str | None = typer.Option(None, "--city", help="The business's city."),
    vertical: Vertical = typer.Option(Vertical.RESTAURANT, "--vertical"),
    fmt: OutputFormat = format_option(),
) -> None:
    """The anonymous flow: a visitor asks for a check (it waits for their confirmation)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            started = checks.request_lead_check(
                uow,
                _principal(tenant_id),
                business_name=business_name,
                email=email,
                notice=_notice(notice_version, notice_file),
                website=website,
                city=city,
                vertical=vertical,
            )
            out = {
                "check_id": str(started.check.id),
                "lead_id": str(started.lead_id),
                "status": started.check.status.value,
                "token": started.token,
            }
            uow.commit()
    if fmt is OutputFormat.JSON:
        print_json(out)
    else:
        console().print(
            f"check {out['check_id']} waits for confirmation; send this token in the "
            f"confirmation link (shown once): {out['token']}"
        )


@app.command("confirm")
def confirm(
    tenant: str = tenant_option(),
    token: str = typer.Option(..., "--token", help="The token from the confirmation link."),
    notice_version: str = typer.Option(..., "--notice-version", help="Privacy notice version."),
    notice_file: Path = typer.Option(
        ..., "--notice-file", exists=True, dir_okay=False, help="The notice text shown."
    ),
    wait: bool = typer.Option(False, "--wait/--no-wait", help="Run the check here too."),
    fmt: OutputFormat = format_option(),
) -> None:
    """The visitor confirmed their address: queue their check."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            notice = _notice(notice_version, notice_file)
            check_id = checks.confirm_lead_check(
                uow, _principal(tenant_id), token, notice=notice
            ).id
            uow.commit()
        _finish(db, tenant_id, check_id, wait=wait, fmt=fmt)


@app.command("work")
def work(
    threads: int = typer.Option(1, "--threads", min=1, max=32, help="Checks run at once."),
    once: bool = typer.Option(False, "--once", help="Run what is queued, then stop."),
) -> None:
    """Run queued checks of every tenant until stopped (Ctrl-C)."""
    with database() as db:
        runner = build_runner(db, get_settings())
        if once:
            outcomes = run_pending(runner)
            done = sum(o.status is VisibilityCheckStatus.COMPLETED for o in outcomes)
            console().print(f"{len(outcomes)} check(s) run, {done} completed")
            return
        worker = CheckWorker(
            runner, threads=threads, benchmark_min_tenants=get_settings().benchmark_min_tenants
        )
        worker.start()
        console().print(f"visibility check worker running ({threads} thread(s)); Ctrl-C stops")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            worker.stop()
