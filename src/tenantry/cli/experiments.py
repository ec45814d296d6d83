"""`tenantry experiments`: create, list, show, pause, resume and stop experiments, their report
and fairness report, offline replay of a policy, the outcome projection, and recording an
outcome by hand.

Commands act as the tenant's owner; the rules are `tenantry.decisions`'. Reports print a table,
or JSON with `--format json` (`--json` for replay).
"""

from __future__ import annotations

import re
import uuid

import typer

from tenantry.cli import personalize
from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json, show, table
from tenantry.cli.params import (
    ARM_KEY,
    OutputFormat,
    arm_key,
    format_option,
    tenant_option,
    uuid_value,
)
from tenantry.decisions import experiments as ex
from tenantry.decisions.guardrails import experiment_report, fairness
from tenantry.decisions.outcomes import project_outcomes, record_outcome
from tenantry.decisions.replay import replay as replay_policy
from tenantry.errors import ValidationError
from tenantry.models.experiments import ExperimentStatus

__all__ = [
    "app",
    "context_value",
    "eligibility_value",
    "guardrail_value",
    "policy_value",
    "rule_value",
]

app = typer.Typer(
    help="Experiments: the bandit, outcomes, guardrails, replay.", no_args_is_help=True
)


def guardrail_value(value: str) -> str:
    """`METRIC:MAX_INCREASE[:MIN_SAMPLES]`, e.g. `unsubscribe:0.02:200`."""
    metrics = "|".join(ex.GUARDRAIL_METRICS)
    if re.fullmatch(rf"({metrics}):(0(\.\d+)?|1(\.0+)?)(:[1-9]\d{{0,7}})?", value):
        return value
    raise typer.BadParameter(f"expected METRIC:MAX_INCREASE[:MIN_SAMPLES], METRIC one of {metrics}")


def rule_value(value: str) -> str:
    """`RULE=ARM`, RULE one of low_engagement, facts_tone."""
    if re.fullmatch(rf"({'|'.join(ex.RULE_NAMES)})={ARM_KEY}", value):
        return value
    raise typer.BadParameter("expected RULE=ARM, RULE one of " + ", ".join(ex.RULE_NAMES))


def eligibility_value(value: str) -> str:
    """`ATTRIBUTE=VALUE` (persona=solo-sarah); sensitive or unknown attributes are refused."""
    match = re.fullmatch(r"([a-z_]{1,40})=([A-Za-z0-9/+_.-]{1,80})", value)
    if match is None:
        raise typer.BadParameter("expected ATTRIBUTE=VALUE, e.g. persona=solo-sarah")
    context_value(match.group(1))
    return value


def context_value(value: str) -> str:
    """A context attribute (persona, comm_prefs, onb_day); sensitive ones are refused."""
    try:
        ex.check_context_attributes([value])
    except ValidationError as exc:
        raise typer.BadParameter(exc.message) from None
    return value


def policy_value(value: str) -> str:
    """A replay policy: uniform, greedy, thompson or arm:KEY."""
    if value in ("uniform", "greedy", "thompson") or re.fullmatch(rf"arm:{ARM_KEY}", value):
        return value
    raise typer.BadParameter("expected uniform, greedy, thompson or arm:KEY")


_EXPERIMENT = typer.Argument(..., parser=uuid_value, help="The experiment's id.")


@app.command("create")
def create(
    tenant: str = tenant_option(),
    slot: str = typer.Option(..., "--slot", parser=arm_key, help="Where the arms are shown."),
    arms: list[str] = typer.Option(
        ..., "--arm", parser=arm_key, help="An arm's key (repeat; the first is the default)."
    ),
    name: str | None = typer.Option(None, "--name", help="A short name (at most 200 characters)."),
    default_arm: str | None = typer.Option(
        None, "--default-arm", parser=arm_key, help="The control arm (default: the first)."
    ),
    floor: float = typer.Option(
        0.0, "--floor", min=0.0, max=1.0, help="Minimum share per arm (floor * arms <= 1)."
    ),
    min_events: int = typer.Option(
        ex.DEFAULT_MIN_EVENTS, "--min-events", min=0, max=1_000_000, help="Uniform until then."
    ),
    context: list[str] = typer.Option(
        [], "--context", parser=context_value, help="persona, comm_prefs, onb_day (repeat)."
    ),
    eligible: list[str] = typer.Option(
        [], "--eligible", parser=eligibility_value, help="ATTRIBUTE=VALUE allowed (repeat)."
    ),
    guardrails: list[str] = typer.Option(
        [], "--guardrail", parser=guardrail_value, help="METRIC:MAX_INCREASE[:MIN_SAMPLES]."
    ),
    rules: list[str] = typer.Option([], "--rule", parser=rule_value, help="RULE=ARM (repeat)."),
    ttl_seconds: int = typer.Option(
        ex.DEFAULT_TTL_SECONDS, "--ttl-seconds", min=1, max=366 * 86_400, help="Outcome window."
    ),
) -> None:
    """Create and start an experiment; prints its id."""
    eligibility: dict[str, list[str]] = {}
    for item in eligible:
        attribute, allowed = item.split("=", 1)
        eligibility.setdefault(attribute, []).append(allowed)
    specs = []
    for g in guardrails:
        metric, increase, *samples = g.split(":")
        specs.append(ex.GuardrailSpec(metric, float(increase), int(samples[0]) if samples else 200))
    spec = ex.ExperimentSpec(
        slot=slot,
        arms=arms,
        name=name,
        default_arm=default_arm,
        floor=floor,
        min_events=min_events,
        context=context,
        eligibility=eligibility,
        guardrails=specs,
        rules=dict(r.split("=", 1) for r in rules) if rules else None,
        ttl_seconds=ttl_seconds,
    )
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli:experiments") as uow:
            made = ex.create_experiment(uow, spec)
            uow.commit()
    typer.echo(str(made.id))


@app.command("list")
def list_(
    tenant: str = tenant_option(),
    status: ExperimentStatus | None = typer.Option(None, "--status", help="Only this status."),
    fmt: OutputFormat = format_option(),
) -> None:
    """The tenant's experiments."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            rows = [
                ex.definition_json(e, ex.arms_of(uow, e.id))
                for e in ex.list_experiments(uow, status=status)
            ]
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    out = table("id", "slot", "status", "arms", title=f"{len(rows)} experiments")
    for r in rows:
        arms = ", ".join(
            f"{a['key']}{'' if a['status'] == 'active' else ' (paused)'}" for a in r["arms"]
        )
        out.add_row(r["id"], r["slot"], r["status"], arms)
    show(out)


@app.command("show")
def show_(
    experiment: uuid.UUID = _EXPERIMENT,
    tenant: str = tenant_option(),
) -> None:
    """One experiment's definition and arms, as JSON."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            exp = ex.find_experiment(uow, experiment)
            print_json(ex.definition_json(exp, ex.arms_of(uow, exp.id)))


def _change(tenant: str, experiment: uuid.UUID, action: str) -> None:
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli:experiments") as uow:
            exp = ex.change_status(uow, experiment, action)
            uow.commit()
            typer.echo(f"{exp.id} {exp.status}")


@app.command("pause")
def pause(experiment: uuid.UUID = _EXPERIMENT, tenant: str = tenant_option()) -> None:
    """Pause an experiment: decisions get the default arm and nothing is logged."""
    _change(tenant, experiment, "pause")


@app.command("resume")
def resume(experiment: uuid.UUID = _EXPERIMENT, tenant: str = tenant_option()) -> None:
    """Resume a paused experiment."""
    _change(tenant, experiment, "resume")


@app.command("stop")
def stop(experiment: uuid.UUID = _EXPERIMENT, tenant: str = tenant_option()) -> None:
    """Stop an experiment for good; its slot is free again."""
    _change(tenant, experiment, "stop")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


@app.command("report")
def report(
    experiment: uuid.UUID = _EXPERIMENT,
    tenant: str = tenant_option(),
    fmt: OutputFormat = format_option(),
) -> None:
    """Per arm: decisions, outcomes, successes, rate, posterior mean, status."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            ex.find_experiment(uow, experiment)
            body = experiment_report(uow, experiment)
    if fmt is OutputFormat.JSON:
        print_json(body)
        return
    right = ("decisions", "outcomes", "successes", "rate", "posterior")
    out = table("arm", "status", *right, title=f"slot {body['slot']}", right=right)
    for a in body["arms"]:
        out.add_row(
            a["arm"] + (" (control)" if a["control"] else ""),
            a["status"],
            str(a["decisions"]),
            str(a["outcomes"]),
            str(a["successes"]),
            _pct(a["rate"]),
            f"{a['posterior_mean']:.3f}",
        )
    show(out)


@app.command("fairness")
def fairness_(
    experiment: uuid.UUID = _EXPERIMENT,
    tenant: str = tenant_option(),
    min_group: int = typer.Option(
        30, "--min-group", min=1, max=1_000_000, help="Outcomes a group needs to be compared."
    ),
    fmt: OutputFormat = format_option(),
) -> None:
    """Success rate per persona group, overall and per arm; a spread above 5 pp is flagged."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            ex.find_experiment(uow, experiment)
            body = fairness(uow, experiment, min_group=min_group)
    if fmt is OutputFormat.JSON:
        print_json(body)
        return
    out = table("arm", "persona", "outcomes", "rate", title="fairness", right=("outcomes", "rate"))
    for arm, part in [("all", body["overall"]), *body["arms"].items()]:
        for group, g in part["groups"].items():
            out.add_row(arm, group, str(g["outcomes"]), _pct(g["rate"]))
        flag = "FLAGGED" if part["flagged"] else "ok"
        out.add_row(arm, f"spread {_pct(part['spread'])}", "", flag)
    show(out)


@app.command("replay")
def replay(
    tenant: str = tenant_option(),
    slot: str = typer.Option(..., "--slot", parser=arm_key, help="The experiment's slot."),
    policy: str = typer.Option(
        ..., "--policy", parser=policy_value, help="uniform, greedy, thompson or arm:KEY."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Evaluate a policy offline on the logged decisions (IPS and self-normalised IPS)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id) as uow:
            result = replay_policy(uow, slot, policy)
    if as_json:
        print_json(result.as_json())
        return

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.4f}"

    out = table(
        "estimate",
        "value",
        "s.e.",
        title=f"{policy}: {result.matching} of {result.decisions} decisions match",
        right=("value", "s.e."),
    )
    out.add_row("IPS", num(result.ips), num(result.ips_se))
    out.add_row("SNIPS", num(result.snips), num(result.snips_se))
    out.add_row("logged", num(result.logged_rate), "")
    show(out)


@app.command("project")
def project(tenant: str = tenant_option()) -> None:
    """Turn ingested events that carry a decision_id into outcomes (and check guardrails)."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        result = project_outcomes(db, tenant_id)
    print_json(result.as_json())


@app.command("outcome")
def outcome(
    decision: uuid.UUID = typer.Argument(..., parser=uuid_value, help="The decision's id."),
    tenant: str = tenant_option(),
    success: bool = typer.Option(..., "--success/--failure", help="The outcome."),
) -> None:
    """Record a decision's outcome by hand."""
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli:experiments") as uow:
            row = record_outcome(uow, decision, success, source="cli")
            uow.commit()
    typer.echo(f"{row.id} {'success' if success else 'failure'}")


# Deciding for one user reads the user's profile, as `tenantry personalize` does.
app.command("decide")(personalize.decide)
