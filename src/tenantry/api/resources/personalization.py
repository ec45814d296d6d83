"""`GET /v1/decide` and `GET /v1/personalize`: a user's arm in a slot, at request time.

`/v1/decide?slot=S&user=U` is the slot's bandit decision for a user of the tenant, with the
context from the user's profile (the lake's segments and preferences); the caller may set the
whitelisted context attributes `persona`, `comm_prefs` and `onb_day` with known values, and
any other query parameter (`gender`, `age`, `origin`, ...) is refused with a 422 naming it,
as is a parameter given twice.
`/v1/personalize?user=U&slot=S` applies seed 001's rules first and the bandit otherwise; it
takes no context from the caller. A user without personalisation consent gets the default arm
and `decision_id: null`; nothing is written. Unknown slots and users (other tenants' users
too) are 404. Both need the `read` permission and serve every location scope (users belong to
the tenant, not to a location).

Fast path: once the process knows a user's subject and the slot, the consent check is one
statement on the pipelined reader (`AsyncReader`, on the event loop), and answers that write
nothing (a rule, the default arm) come back without a thread or a unit of work. A bandit
decision is an audited write: a caller's concurrent ones commit together in one transaction
(`tenantry.api.coalescing`, as lead captures do). The rules live in `tenantry.decisions`;
this module only translates HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from tenantry.api.deps import Ctx, CtxDep, Renderer, json_response
from tenantry.api.idempotency import Written
from tenantry.api.resources.common import ERRORS, write_coalesced
from tenantry.api.routing import ResourceRouter
from tenantry.db.uow import UnitOfWork
from tenantry.decisions.context import COMM_PREFS, ONB_DAY_BUCKETS, PERSONAS
from tenantry.decisions.experiments import Decision
from tenantry.decisions.personalize import ContextAttributeError, context_overrides
from tenantry.decisions.profiles import Fetch
from tenantry.decisions.runtime import Personalization
from tenantry.errors import ConfigurationError
from tenantry.services.principal import Action

__all__ = ["RENDERERS", "router"]

router = ResourceRouter(prefix="/v1", tags=["personalization"], responses=ERRORS)
RENDERERS: dict[str, Renderer] = {}
_OWN = ("slot", "user")

Slot = Annotated[
    str,
    Query(
        min_length=1,
        max_length=80,
        pattern=r"^[a-z0-9][a-z0-9_.:-]*$",
        description="The slot (its running experiment decides).",
    ),
]
User = Annotated[uuid.UUID, Query(description="A user of the tenant (`identity.users` id).")]


def _choice(values: tuple[str, ...], what: str) -> Any:
    return Query(
        default=None,
        description=f"Overrides the profile's {what}; one of: {', '.join(values)}.",
        json_schema_extra={"enum": list(values)},
    )


class DecisionOut(BaseModel):
    arm: str
    decision_id: uuid.UUID | None = Field(
        description="Quote it with the outcome; null when nothing was logged (no consent, not"
        " eligible, paused)."
    )
    propensity: float | None = Field(description="P(this arm | context) under the policy.")
    policy: str = Field(description="uniform, thompson or default.")
    reason: str | None = Field(description="Why the default arm (no_consent, not_eligible, ...).")
    experiment_id: uuid.UUID
    slot: str


class PersonalizedOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    copy_: str = Field(alias="copy", description="The arm key to show.")
    source: str = Field(description="rule, bandit or default.")
    rule: str | None = Field(description="The rule that decided: low_engagement or facts_tone.")
    decision_id: uuid.UUID | None = Field(description="The logged bandit decision, if any.")
    propensity: float | None
    policy: str = Field(description="rule, uniform, thompson or default.")
    reason: str | None = Field(description="Why the default arm (no_consent, ...).")


def _own_once(request: Request) -> None:
    """`slot` and `user` at most once: a repeated one would silently be one of them."""
    names = [name for name, _v in request.query_params.multi_items() if name in _OWN]
    for name in _OWN:
        if names.count(name) > 1:
            raise ContextAttributeError(name, "given more than once")


def _runtime(ctx: Ctx) -> Personalization:
    found = ctx.state.personalization
    if found is None:
        raise ConfigurationError("this application has no personalization runtime")
    return found


def _fetch(ctx: Ctx) -> Fetch:
    """The caller's tenant-bound reads on the pipelined reader (no thread, one round trip)."""
    caller = ctx.caller

    async def fetch(sql: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return await ctx.state.reader.fetch(caller.tenant_id, caller.ref, sql, params)

    return fetch


async def _keep_slot(ctx: Ctx, runtime: Personalization, slot: str) -> None:
    """Read the slot's experiment again when it is no longer kept (every few seconds): a
    short read, so answers that write nothing never wait behind the decisions' writes."""
    tenant = ctx.caller.tenant_id
    if runtime.kept(tenant, slot):
        return

    def read() -> None:
        with ctx.read() as uow:
            runtime.keep(uow, slot)

    await run_in_threadpool(read)


def _decision_out(d: Decision) -> DecisionOut:
    return DecisionOut(
        arm=d.arm,
        decision_id=d.decision_id,
        propensity=d.propensity,
        policy=d.policy,
        reason=d.reason,
        experiment_id=d.experiment_id,
        slot=d.slot,
    )


@router.get("/decide", response_model=DecisionOut, summary="A user's bandit arm in a slot")
async def get_decide(
    request: Request,
    ctx: CtxDep,
    slot: Slot,
    user: User,
    persona: str | None = _choice(PERSONAS, "persona"),
    comm_prefs: str | None = _choice(COMM_PREFS, "communication preferences (tone/address)"),
    onb_day: str | None = _choice(ONB_DAY_BUCKETS, "onboarding-day bucket"),
) -> Response:
    ctx.principal.require(Action.READ)
    _own_once(request)
    # The declared attributes are read from the query with every other name: one check.
    overrides = context_overrides(request.query_params.multi_items(), allowed_other=_OWN)
    runtime = _runtime(ctx)
    tenant = ctx.caller.tenant_id
    profile = await runtime.quick_profile(_fetch(ctx), tenant, user)
    if profile is not None and not profile.consents:
        await _keep_slot(ctx, runtime, slot)
        default = runtime.default_decision(tenant, slot, profile)
        if default is not None:  # no consent: nothing to write
            return json_response(_decision_out(default))

    def run(uow: UnitOfWork) -> Written:
        d = runtime.decide(uow, slot, user, overrides=overrides, profile=profile)
        return Written(200, _decision_out(d))

    return await write_coalesced(ctx, request, None, None, run)


@router.get(
    "/personalize",
    response_model=PersonalizedOut,
    summary="A user's copy in a slot: seed 001's rules, else the bandit",
)
async def get_personalize(request: Request, ctx: CtxDep, slot: Slot, user: User) -> Response:
    ctx.principal.require(Action.READ)
    _own_once(request)
    context_overrides(request.query_params.multi_items(), allowed_other=_OWN, attributes=())
    runtime = _runtime(ctx)
    tenant = ctx.caller.tenant_id
    profile = await runtime.quick_profile(_fetch(ctx), tenant, user)
    if profile is not None:
        await _keep_slot(ctx, runtime, slot)
        answered = runtime.answer(tenant, slot, profile)
        if answered is not None:  # a rule, or the default arm: nothing to write
            return json_response(PersonalizedOut.model_validate(answered.as_json()))

    def run(uow: UnitOfWork) -> Written:
        p = runtime.personalize(uow, slot, user, profile=profile)
        return Written(200, PersonalizedOut.model_validate(p.as_json()))

    # A decision is an audited write: the caller's concurrent ones commit together.
    return await write_coalesced(ctx, request, None, None, run)
