"""Lead scoring commands: `tenantry leads model train|report|show` and `tenantry leads rescore`.

Entry point only: the model, its report and the rescoring come from `tenantry.decisions`, run
as the tenant's owner. Output holds model figures, feature names and counts, never personal
data. `model_app` and `rescore_command` join the `leads` group (`tenantry.cli.main`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import console, print_json, show, table
from tenantry.cli.params import instant, tenant_option
from tenantry.config import get_settings
from tenantry.decisions.lead_features import LakeEngagement
from tenantry.decisions.lead_projection import (
    RescoreReport,
    project_lead_scores,
    rescore_open_leads,
)
from tenantry.decisions.lead_scoring import (
    current_model,
    model_report,
    model_summary,
    train_model,
)
from tenantry.models.enums import MembershipRole
from tenantry.services.principal import Principal

__all__ = ["model_app", "rescore_command"]

model_app = typer.Typer(help="The tenant's lead scoring model.", no_args_is_help=True)
_JSON = typer.Option(False, "--json", help="Print JSON.")


def _owner(tenant_id: uuid.UUID) -> Principal:
    return Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)


def _figure(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


@model_app.command("train")
def train_command(tenant: str = tenant_option(), as_json: bool = _JSON) -> None:
    """Learn a new model version from the won and lost leads (rules below the minimum)."""
    settings = get_settings()
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli:leads-model") as uow:
            row = train_model(
                uow,
                _owner(tenant_id),
                LakeEngagement(settings.home),
                min_outcomes=settings.lead_model_min_outcomes,
            )
            uow.commit()
            summary = model_summary(current_model(uow))
    if as_json:
        print_json(summary)
        return
    reason = summary["metrics"].get("reason")
    console().print(
        f"trained {summary['model_version']} from {row.n_outcomes} outcomes ({row.n_won} won)"
        + (f": {reason}" if reason else "")
    )


@model_app.command("show")
def show_command(tenant: str = tenant_option(), as_json: bool = _JSON) -> None:
    """The current model: kind, version, outcomes, coefficients or the points table."""
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            summary = model_summary(current_model(uow))
    if as_json:
        print_json(summary)
        return
    console().print(
        f"model {summary['model_version']}: {summary['n_outcomes']} outcomes,"
        f" {summary['n_won']} won"
    )
    if "coefficients" in summary:
        out = table(
            "feature", "coefficient", title="Coefficients (standardised)", right=("coefficient",)
        )
        ranked = sorted(summary["coefficients"].items(), key=lambda kv: -abs(kv[1]))
        for name, value in ranked:
            out.add_row(name, f"{value:+.4f}")
    else:
        out = table("rule", "points", title=f"Points table (base {summary['base']:g})")
        for rule in summary["rules"]:
            out.add_row(rule["rule"], rule["points"])
    show(out)


@model_app.command("report")
def report_command(
    tenant: str = tenant_option(),
    cut: datetime | None = typer.Option(
        None,
        "--cut",
        parser=instant,
        metavar="TIME",
        help="Backtest split: train on outcomes before this time (default: the 70 % mark).",
    ),
    as_json: bool = _JSON,
) -> None:
    """Calibration (Brier score, reliability table) and a time-split backtest."""
    settings = get_settings()
    with database(migrate=False) as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            report = model_report(uow, _owner(tenant_id), LakeEngagement(settings.home), cut=cut)
    if as_json:
        print_json(report)
        return
    cal, back = report["calibration"], report["backtest"]
    console().print(
        f"model {report['model_version']} on {report['n_outcomes']} outcomes:"
        f" Brier {_figure(cal['brier'])} (constant rate {_figure(cal['brier_baseline'])}),"
        f" AUC {_figure(cal['auc'])}"
    )
    out = table("bin", "n", "predicted", "observed", title="Reliability", right=("n",))
    for b in cal["reliability"]:
        out.add_row(b["bin"], str(b["n"]), _figure(b["predicted"]), _figure(b["observed"]))
    show(out)
    console().print(
        f"backtest ({back.get('model', '-')}), cut {back['cut'] or '-'}: train"
        f" {back['n_train']}, test {back['n_test']}; Brier {_figure(back.get('brier'))}"
        f" vs {_figure(back.get('brier_baseline'))}, AUC {_figure(back.get('auc'))}"
        f" vs {_figure(back.get('auc_baseline'))}"
    )


def rescore_command(
    tenant: str = tenant_option(),
    every: bool = typer.Option(
        False, "--all", help="Rescore every open lead now, not only those whose inputs changed."
    ),
    as_json: bool = _JSON,
) -> None:
    """Rescore the leads whose inputs changed (the outbox projection `lead_scores`)."""
    engagement = LakeEngagement(get_settings().home)
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        report = RescoreReport()
        if every:
            report.add(rescore_open_leads(db, tenant_id, engagement))
        report.add(project_lead_scores(db, tenant_id, engagement))
    if as_json:
        print_json(vars(report))
        return
    console().print(
        f"{report.events} changes read, {report.leads} leads scored, {report.rescored} new scores"
    )
