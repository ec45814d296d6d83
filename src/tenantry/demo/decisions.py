"""Demo of the decision services (issue 21) on the demo's own data, Trattoria Sole.

With the sample flows (`route_demo_lead`, before the summary's figures): one of its locations
becomes a partner, buys credits and is offered a new web-quote lead by a routing run (credits
spent), accepts and rates it. After the pipeline, so the lake feeds them (`show_decisions`):
the tenant trains its lead scoring model and the `lead_scores` projection rescores its open
leads (three are shown with their top explanation points); an experiment in the slot
`welcome-copy` decides for the demo's first app user (who consented to personalisation through
the consent service, `app_events`; granted here if an older demo left it without), its outcome
is recorded; and `personalize` answers for that user and for one without the consent.

Everything goes through the services the CLI and the API use (`tenantry.decisions`, `services.
leads`, `services.privacy.consent`), as the tenant's owner; nothing is inserted by SQL. Nothing
personal is printed: leads by source and status, the app users by number, locations by name.

Idempotent like the other flows: the model is trained, the partner set up, the lead routed and
the experiment created once; a rerun reports what they left behind. `personalize` is asked on
every run with the same seeded generator; only the answer of the run that created the
experiment is committed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from tenantry.config import Settings
from tenantry.db.engine import Database
from tenantry.decisions import credits, partners, routing
from tenantry.decisions import experiments as ex
from tenantry.decisions.lead_features import LakeEngagement
from tenantry.decisions.lead_projection import project_lead_scores
from tenantry.decisions.lead_scoring import current_model, train_model, version_name
from tenantry.decisions.outcomes import record_outcome
from tenantry.decisions.profiles import LakeFeatureCache, LakeProfileSource
from tenantry.decisions.runtime import Personalization, Personalized
from tenantry.errors import ConfigurationError
from tenantry.models import Lead, Location
from tenantry.models.enums import ConsentPurpose, LeadStatus, MembershipRole
from tenantry.models.experiments import Decision
from tenantry.models.partners import AssignmentStatus, CreditEntry, LeadAssignment, Partner
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services import leads
from tenantry.services.platform import find_user
from tenantry.services.principal import Principal
from tenantry.services.privacy.consent import Notice, append_consent, consent_status

__all__ = [
    "PERSONALISATION_NOTICE",
    "DecisionsDemo",
    "app_user_email",
    "route_demo_lead",
    "run_decisions",
    "show_decisions",
]

TENANT = "demo-trattoria-sole"
SLOT = "welcome-copy"
ARMS = ("standard", "encouraging", "factual")
ROUTED_EMAIL = "flow.partner@example.com"
PRICE = 3
CREDITS = 30
SEED = 2026
PERSONALISATION_NOTICE = Notice(
    "demo-2026-12", "Demo notice: the app adapts its welcome copy to how you use it."
)
_OPEN = (LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.QUALIFIED)


def app_user_email(number: int, slug: str) -> str:
    """The address of the demo's app user `number` (from 1) of a tenant (`app_events`)."""
    return f"app-user-{number:02d}.{slug}@example.com"


@dataclass
class DecisionsDemo:
    scoring: str = ""
    scored: list[tuple[str, str, str, str]] = field(default_factory=list)  # lead, score, model, top
    routing: list[tuple[str, str]] = field(default_factory=list)
    experiment: list[tuple[str, str]] = field(default_factory=list)
    personalize: list[tuple[str, str]] = field(default_factory=list)
    fresh: bool = False


def _owner(tenant_id: uuid.UUID) -> Principal:
    return Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)


# -- lead scoring --------------------------------------------------------------------------


def _top_points(explanation: dict[str, Any] | None, n: int = 2) -> str:
    if not explanation:
        return "-"
    points = sorted(explanation.get("points", {}).items(), key=lambda kv: -abs(kv[1]))[:n]
    base = f"base {explanation.get('base', 0):.0f}"
    return ", ".join([base, *(f"{name} {value:+.1f}" for name, value in points)])


def _scoring(db: Database, settings: Settings, tenant_id: uuid.UUID, out: DecisionsDemo) -> None:
    engagement = LakeEngagement(settings.home)
    with db.tenant_uow(tenant_id, actor="demo") as uow:
        stored = current_model(uow).row
        if stored is None:
            row = train_model(
                uow,
                _owner(tenant_id),
                engagement,
                min_outcomes=settings.lead_model_min_outcomes,
            )
            uow.commit()
            out.fresh = True
            trained = (
                f"trained {version_name(row)} from {row.n_outcomes} outcomes ({row.n_won} won)"
            )
        else:
            trained = (
                f"model {version_name(stored)} from {stored.n_outcomes} outcomes"
                f" ({stored.n_won} won)"
            )
    report = project_lead_scores(db, tenant_id, engagement)
    out.scoring = (
        f"{trained}; open leads scored by the lead_scores projection this run: {report.leads}"
    )
    with db.tenant_uow(tenant_id) as uow:
        ranked = uow.session.scalars(
            sa.select(Lead)
            .where(Lead.status.in_(_OPEN), Lead.deleted_at.is_(None))
            .order_by(Lead.score.desc(), Lead.id)
        ).all()
        # the best, the middle and the weakest open lead: the spread the model gives
        picks = sorted({0, len(ranked) // 2, len(ranked) - 1}) if ranked else []
        top = [ranked[i] for i in picks]
        for lead in top:
            explanation = lead.score_explanation or {}
            out.scored.append(
                (
                    f"{lead.source.value} lead, {lead.status.value}",
                    str(lead.score),
                    str(explanation.get("model_version", "-")),
                    _top_points(explanation),
                )
            )


# -- partner routing with credits ----------------------------------------------------------


def route_demo_lead(db: Database) -> bool:
    """A location of Trattoria Sole becomes a partner and buys credits; a new web-quote lead
    with a place nearby is routed to it (`leads route`), accepted and rated. Runs with the
    sample flows, before the summary's figures are read, so they count the lead on every run;
    returns whether this run did the work."""
    tenant_id = _tenant_id(db)
    if tenant_id is None:
        return False
    owner = _owner(tenant_id)
    with db.tenant_uow(tenant_id, actor="demo") as uow:
        lead = uow.repos.leads.by_email(ROUTED_EMAIL)
        if lead is None:
            location = uow.session.scalars(
                sa.select(Location)
                .where(Location.latitude.is_not(None))
                .order_by(Location.slug)
                .limit(1)
            ).one()
            partners.set_partner(
                uow,
                owner,
                location.id,
                radius_km=25,
                capacity=5,
                capacity_period="week",
                price_credits=PRICE,
                accepts_leads=True,
            )
            partners.buy_credits(uow, owner, location.id, CREDITS)
            assert location.latitude is not None
            assert location.longitude is not None
            lead = leads.capture_lead(
                uow,
                owner,
                location_id=location.id,
                source="web_quote",
                email=ROUTED_EMAIL,
                interest="Firmenfeier 30 Personen",
                category="restaurant",
                latitude=float(location.latitude) + 0.03,
                longitude=float(location.longitude) - 0.02,
            )
            result = routing.route_leads(uow, owner)
            mine = [r for r in result.routed if r.lead_id == lead.id]
            if not mine or mine[0].assignment_id is None:
                raise ConfigurationError("the demo's lead was not routed to the demo partner")
            partners.answer(uow, owner, mine[0].assignment_id, AssignmentStatus.ACCEPTED)
            partners.rate(uow, owner, mine[0].assignment_id, 5, "good_fit")
            uow.commit()
            return True
    return False


def _routing(db: Database, tenant_id: uuid.UUID, out: DecisionsDemo) -> None:
    owner = _owner(tenant_id)
    with db.tenant_uow(tenant_id) as uow:
        lead = uow.repos.leads.by_email(ROUTED_EMAIL)
        if lead is None:
            raise ConfigurationError("the demo's routed lead is missing: run `tenantry demo`")
        assignment = uow.session.scalars(
            sa.select(LeadAssignment).where(LeadAssignment.lead_id == lead.id)
        ).one()
        partner = uow.session.scalars(
            sa.select(Partner).where(Partner.id == assignment.partner_id)
        ).one()
        name = uow.session.scalars(
            sa.select(Location.name).where(Location.id == partner.location_id)
        ).one()
        balance = credits.balance_of(uow, partner, uow.clock.now())
        bought = uow.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(CreditEntry.amount), 0)).where(
                CreditEntry.partner_id == partner.id, CreditEntry.kind == "purchase"
            )
        )
        report = {r.partner_id: r for r in partners.report(uow, owner)}[partner.id]
    where = name
    out.routing = [
        (
            "partner (`partners set`)",
            f"{where}: radius {float(partner.radius_km):g} km,"
            f" {partner.price_credits} credits a lead",
        ),
        ("credits bought (`credits buy`)", str(bought)),
        (
            "web quote lead routed (`leads route`)",
            f"-> {where}, {assignment.distance_km:.1f} km, {assignment.price_credits} credits",
        ),
        (
            "partner's answer and rating (`assignments accept|rate`)",
            f"{assignment.status.value}, rated {assignment.rating}/5",
        ),
        (
            "credits spent / balance (`partners report`)",
            f"{report.credits_spent} / {balance.balance}",
        ),
    ]


# -- experiment, decision, outcome, personalize --------------------------------------------


def _app_user(db: Database, tenant_id: uuid.UUID, number: int, *, consent: bool) -> uuid.UUID:
    """The demo's app user `number` of the tenant (created by the pipeline act); with
    `consent`, grants the personalisation consent through the consent service if missing."""
    with db.platform_uow(tenant_id=tenant_id, actor="demo") as uow:
        email = app_user_email(number, TENANT)
        user = find_user(uow, email)
        if user is None:
            raise ConfigurationError("the demo's app users are missing: run the pipeline act first")
        if consent:
            subject = resolve_subject(uow, keyring(uow), email=email)
            purpose = ConsentPurpose.PERSONALISATION
            if not consent_status(uow, subject.id, purpose).active:
                append_consent(
                    uow,
                    subject.id,
                    purpose,
                    "granted",
                    source="demo",
                    notice=PERSONALISATION_NOTICE,
                )
                uow.commit()
        return user.id


def _answer(p: Personalized) -> str:
    how = f"rule {p.rule}" if p.rule else p.source + (f", {p.reason}" if p.reason else "")
    logged = "decision logged" if p.decision_id else "not logged"
    return f"{p.copy} ({how}, {logged})"


def _experiment(db: Database, settings: Settings, tenant_id: uuid.UUID, out: DecisionsDemo) -> None:
    runtime = Personalization(LakeProfileSource(LakeFeatureCache(settings.home, interval=0)))
    consenting = _app_user(db, tenant_id, 1, consent=True)
    other = _app_user(db, tenant_id, 2, consent=False)
    with db.tenant_uow(tenant_id, actor="demo") as uow:
        exp = next((e for e in ex.list_experiments(uow) if e.slot == SLOT), None)
        created = exp is None
        if exp is None:
            exp = ex.create_experiment(
                uow,
                ex.ExperimentSpec(
                    slot=SLOT,
                    arms=ARMS,
                    name="Welcome copy (demo)",
                    context=("persona",),
                    guardrails=(ex.GuardrailSpec("unsubscribe", 0.02, 200),),
                ),
            )
            d = runtime.decide(uow, SLOT, consenting, rng=np.random.default_rng(SEED))
            if d.decision_id is None:
                raise ConfigurationError(f"the demo's decision was not logged ({d.reason})")
            record_outcome(uow, d.decision_id, True, source="demo")
            uow.commit()
            out.fresh = True
        first = uow.session.scalars(
            sa.select(Decision)
            .where(Decision.experiment_id == exp.id, Decision.outcome_source == "demo")
            .order_by(Decision.decided_at)
            .limit(1)
        ).first()
        arms = ", ".join(
            f"{a.key}{'' if a.status == 'active' else ' (paused)'}" for a in ex.arms_of(uow, exp.id)
        )
        out.experiment = [
            (f"experiment in slot {SLOT} (`experiments create`)", f"{exp.status}; arms {arms}"),
        ]
        if first is not None:
            out.experiment += [
                (
                    "decision for app user 01 (`experiments decide`)",
                    f"{first.arm} ({first.policy}, propensity {first.propensity:.3f})",
                ),
                ("its outcome (`experiments outcome`)", "success" if first.outcome else "failure"),
            ]
    for label, user in (
        ("app user 01, personalisation consent", consenting),
        ("app user 02, no personalisation consent", other),
    ):
        with db.tenant_uow(tenant_id, actor="demo") as uow:
            p = runtime.personalize(uow, SLOT, user, rng=np.random.default_rng(SEED))
            if created:
                uow.commit()  # a rerun's answer is the same and is not kept
        out.personalize.append((f"personalize: {label}", _answer(p)))


def _tenant_id(db: Database) -> uuid.UUID | None:
    with db.platform_uow() as uow:
        tenant = uow.repos.tenants.by_slug(TENANT)
    return tenant.id if tenant is not None else None


def run_decisions(
    db: Database, settings: Settings, *, routed: bool = False
) -> DecisionsDemo | None:
    """Run the act on Trattoria Sole (after `route_demo_lead` and the pipeline; `routed`: that
    this run routed the lead); None when the demo tenant is not seeded."""
    tenant_id = _tenant_id(db)
    if tenant_id is None:
        return None
    out = DecisionsDemo(fresh=routed)
    _routing(db, tenant_id, out)
    _scoring(db, settings, tenant_id, out)
    _experiment(db, settings, tenant_id, out)
    return out


def show_decisions(
    console: Console, settings: Settings, db: Database, *, routed: bool = False
) -> DecisionsDemo | None:
    """Run the act and print it: the scored leads, then routing, experiment, personalize."""
    out = run_decisions(db, settings, routed=routed)
    if out is None:
        console.print("Decision services demo skipped: the demo tenants are not seeded.")
        return None
    console.print(f"Lead scoring (Trattoria Sole): {out.scoring}.")
    t = Table(title="Open leads scored: the best, the middle and the weakest, with their points")
    for col in ("lead", "score", "model", "top explanation points"):
        t.add_column(col, justify="right" if col == "score" else "left")
    for row in out.scored:
        t.add_row(*row)
    console.print(t)
    t = Table(title="Decision services (Trattoria Sole, as the tenant owner)")
    t.add_column("step")
    t.add_column("result")
    for step, result in (*out.routing, *out.experiment, *out.personalize):
        t.add_row(step, result)
    t.add_row("this run", "ran" if out.fresh else "already done")
    console.print(t)
    return out
