"""`tenantry experiments decide` and `tenantry personalize`: a user's arm in a slot, as the
API's `GET /v1/decide` and `GET /v1/personalize` give it.

Both read the user's profile as the API does (consent from the database, segments and
features from the lake under `$TENANTRY_HOME`) and act for the tenant; a logged decision is
committed. `decide` takes the whitelisted context overrides (`--persona`, `--comm-prefs`,
`--onb-day`). Output: one line, or JSON with `--json`. No personal data is printed: the user
appears by id only.
"""

from __future__ import annotations

import uuid
from typing import Any

import typer

from tenantry.cli.common import database, resolve_tenant
from tenantry.cli.output import print_json
from tenantry.cli.params import arm_key, tenant_option, uuid_value
from tenantry.config import get_settings
from tenantry.decisions.context import COMM_PREFS, ONB_DAY_BUCKETS, PERSONAS
from tenantry.decisions.personalize import ContextAttributeError, context_overrides
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource
from tenantry.decisions.runtime import Personalization

__all__ = ["comm_prefs_value", "decide", "onb_day_value", "persona_value", "personalize_user"]


def _checked(name: str, value: str) -> str:
    try:
        context_overrides([(name, value)])
    except ContextAttributeError as exc:
        raise typer.BadParameter(exc.message) from None
    return value


def persona_value(value: str) -> str:
    """A persona of seed 001 (solo-sarah, bewahrer-ben, wachstums-walter, ketten-katrin)."""
    return _checked("persona", value)


def comm_prefs_value(value: str) -> str:
    """Communication preferences as tone/address (facts/du)."""
    return _checked("comm_prefs", value)


def onb_day_value(value: str) -> str:
    """An onboarding-day bucket (0, 1-3, 4-7, 8-14, 15+)."""
    return _checked("onb_day", value)


_SLOT = typer.Option(..., "--slot", parser=arm_key, metavar="SLOT", help="The slot.")
_USER = typer.Option(
    ..., "--user", parser=uuid_value, metavar="USER_ID", help="A user of the tenant (id)."
)
_JSON = typer.Option(False, "--json", help="Print JSON.")


def _runtime() -> Personalization:
    return Personalization(LakeProfileSource(LakeFeatureCache(get_settings().home, interval=0)))


def _propensity(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def decide(
    tenant: str = tenant_option(),
    slot: str = _SLOT,
    user: uuid.UUID = _USER,
    persona: str | None = typer.Option(
        None, "--persona", parser=persona_value, help=f"Override: one of {', '.join(PERSONAS)}."
    ),
    comm_prefs: str | None = typer.Option(
        None,
        "--comm-prefs",
        parser=comm_prefs_value,
        metavar="TONE/ADDRESS",
        help=f"Override: tone/address, e.g. {COMM_PREFS[3]}.",
    ),
    onb_day: str | None = typer.Option(
        None,
        "--onb-day",
        parser=onb_day_value,
        help=f"Override: one of {', '.join(ONB_DAY_BUCKETS)}.",
    ),
    as_json: bool = _JSON,
) -> None:
    """The slot's bandit decision for a user (logged unless it is the default arm)."""
    given = {"persona": persona, "comm_prefs": comm_prefs, "onb_day": onb_day}
    overrides = {k: v for k, v in given.items() if v is not None}
    runtime = _runtime()
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            d = runtime.decide(uow, slot, user, overrides=overrides)
            uow.commit()
    body: dict[str, Any] = {
        "arm": d.arm,
        "decision_id": str(d.decision_id) if d.decision_id else None,
        "propensity": d.propensity,
        "policy": d.policy,
        "reason": d.reason,
        "experiment_id": str(d.experiment_id),
        "slot": d.slot,
    }
    if as_json:
        print_json(body)
        return
    why = f", {d.reason}" if d.reason else ""
    logged = f"decision {d.decision_id}" if d.decision_id else "not logged"
    print(f"{d.arm} ({d.policy}{why}, propensity {_propensity(d.propensity)}, {logged})")


def personalize_user(
    tenant: str = tenant_option(),
    slot: str = _SLOT,
    user: uuid.UUID = _USER,
    as_json: bool = _JSON,
) -> None:
    """A user's copy in a slot: seed 001's rules (low engagement, facts tone), else the
    bandit; without personalisation consent the default arm."""
    runtime = _runtime()
    with database() as db:
        tenant_id = resolve_tenant(db, tenant)
        with db.tenant_uow(tenant_id, actor="cli") as uow:
            p = runtime.personalize(uow, slot, user)
            uow.commit()
    if as_json:
        print_json(p.as_json())
        return
    how = f"rule {p.rule}" if p.rule else p.source if not p.reason else f"{p.source}, {p.reason}"
    logged = f", decision {p.decision_id}" if p.decision_id else ""
    print(f"{p.copy} ({how}, propensity {_propensity(p.propensity)}{logged})")
