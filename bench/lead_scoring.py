"""Lead scoring benchmark `lead_score_brier`: how well the learnt model predicts outcomes.

A generated history with a known true probability per lead: the win log-odds are a sum of
effects of the lead's source, its persona, its estimated value and the number of interactions
recorded before its decision (`TRUTH`). Leads, interactions and outcomes are entered through
the services a user's request goes through (capture, record an interaction, contact, qualify,
convert or lose), each at its own moment of a moving clock. The model is trained on the
earlier 70 % of decisions and scored on the later 30 % (the `leads model report` backtest);
`value` is its Brier score, the baseline the constant-rate prediction (the training win rate)
on the same leads in the same run; `params` also hold the Brier of the true probabilities (the
floor), the AUCs, the time to train and the time to rescore the open leads.
Target: Brier below the baseline's (ratio < 1).

Environment: BENCH_LEAD_DECIDED (4000; tiny 300), BENCH_LEAD_OPEN (2000; tiny 100).
"""

from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from bench.common import BENCH_MASTER, Result, database, knob, scaled_name
from tenantry.clock import FixedClock
from tenantry.composition import open_database
from tenantry.conversations.interactions import record_interaction
from tenantry.db.engine import Database
from tenantry.db.provider import DatabaseTarget
from tenantry.decisions.lead_features import NoEngagement
from tenantry.decisions.lead_projection import rescore_open_leads
from tenantry.decisions.lead_scoring import model_report, train_model
from tenantry.models import Location
from tenantry.models.enums import LeadStatus, LegalForm, MembershipRole, Vertical
from tenantry.services import leads
from tenantry.services.platform import create_tenant
from tenantry.services.principal import Principal

__all__ = ["TRUTH", "Simulated", "make_history", "run"]

# The true model of the generated history (log-odds of a win).
TRUTH = {
    "intercept": -1.6,
    "source": {
        "referral": 1.4,
        "web_quote": 0.8,
        "phone": 0.4,
        "google": 0.1,
        "chat": 0.0,
        "instagram": -0.6,
        "facebook": -0.8,
    },
    "persona": {
        "wachstums-walter": 0.8,
        "ketten-katrin": 0.4,
        "solo-sarah": 0.0,
        "bewahrer-ben": -0.7,
        None: -0.3,
    },
    "per_interaction": 0.45,
    "per_log_value": 0.15,
}
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Simulated:
    lead_id: uuid.UUID
    p_true: float
    won: bool | None  # None: still open
    decided_at: datetime | None


def _logit(source: str, persona: str | None, interactions: int, value_cents: int | None) -> float:
    z = TRUTH["intercept"] + TRUTH["source"][source] + TRUTH["persona"][persona]  # type: ignore[index]
    z += TRUTH["per_interaction"] * interactions  # type: ignore[operator]
    if value_cents is not None:
        z += TRUTH["per_log_value"] * math.log1p(value_cents / 100)  # type: ignore[operator]
    return float(z)


def make_history(
    db: Database,
    clock: FixedClock,
    tenant_id: uuid.UUID,
    location_id: uuid.UUID,
    *,
    decided: int,
    open_leads: int = 0,
    seed: int = 21,
    batch: int = 50,
) -> list[Simulated]:
    """Enter `decided` leads with outcomes drawn from `TRUTH`, then `open_leads` open ones,
    through the services; one lead created every two hours from `START`."""
    rng = random.Random(seed)
    owner = Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)
    sources = list(TRUTH["source"])  # type: ignore[call-overload]
    personas = list(TRUTH["persona"])  # type: ignore[call-overload]
    out: list[Simulated] = []
    total = decided + open_leads
    for start in range(0, total, batch):
        with db.tenant_uow(tenant_id, actor="bench:leads") as uow:
            for i in range(start, min(start + batch, total)):
                created = START + timedelta(hours=2 * i)
                source, persona = rng.choice(sources), rng.choice(personas)
                value = rng.choice([None, rng.randrange(5_000, 500_000)])
                clock.set(created)
                lead = leads.capture_lead(
                    uow,
                    owner,
                    location_id=location_id,
                    source=source,
                    email=f"lead-{i}@example.org",
                    persona=persona,
                    estimated_value_cents=value,
                )
                uow.flush()
                k = min(np.random.default_rng(seed + i).poisson(1.5), 6)
                decided_at = created + timedelta(days=rng.uniform(2, 20))
                is_open = i >= decided
                clock.set(decided_at if not is_open else created + timedelta(days=1))
                for j in range(k):
                    record_interaction(
                        uow,
                        owner,
                        lead.id,
                        kind=rng.choice(["call", "email", "meeting", "note"]),
                        occurred_at=created + timedelta(hours=1 + j * 3),
                    )
                p = 1 / (1 + math.exp(-_logit(source, persona, k, value)))
                if is_open:
                    out.append(Simulated(lead.id, p, None, None))
                    continue
                won = rng.random() < p
                if won:
                    if lead.status is LeadStatus.NEW:
                        leads.advance_lead(uow, owner, lead.id, LeadStatus.CONTACTED)
                    leads.advance_lead(uow, owner, lead.id, LeadStatus.QUALIFIED)
                    leads.convert_lead(uow, owner, lead.id)
                else:
                    leads.advance_lead(uow, owner, lead.id, LeadStatus.LOST, reason="no budget")
                out.append(Simulated(lead.id, p, won, decided_at))
            uow.commit()
    return out


def _tenant(db: Database, slug: str) -> tuple[uuid.UUID, uuid.UUID]:
    with db.platform_uow() as uow:
        tenant = create_tenant(
            uow,
            slug=slug,
            legal_name=f"{slug} GmbH",
            vertical=Vertical.CATERER,
            legal_form=LegalForm.GMBH,
        )
        location = Location(
            tenant_id=tenant.id, id=uow.ids(), name="Küche", slug="main", vertical="caterer"
        )
        uow.session.add(location)
        uow.commit()
    return tenant.id, location.id


def run(server: DatabaseTarget) -> Result:
    decided = knob("BENCH_LEAD_DECIDED", 4_000, 300)
    open_leads = knob("BENCH_LEAD_OPEN", 2_000, 100)
    target = database(server, scaled_name("bench_lead_scoring"), fresh=True)
    clock = FixedClock(START)
    db = open_database(target=target, master=BENCH_MASTER, clock=clock)
    try:
        tenant_id, location_id = _tenant(db, "bench-leads")
        began = time.perf_counter()
        history = make_history(
            db, clock, tenant_id, location_id, decided=decided, open_leads=open_leads
        )
        entered = time.perf_counter() - began
        owner = Principal(tenant_id=tenant_id, role=MembershipRole.OWNER)
        engagement = NoEngagement()
        clock.set(max(h.decided_at for h in history if h.decided_at) + timedelta(days=1))
        began = time.perf_counter()
        with db.tenant_uow(tenant_id) as uow:
            row = train_model(uow, owner, engagement, min_outcomes=30)
            uow.commit()
        train_s = time.perf_counter() - began
        with db.tenant_uow(tenant_id) as uow:
            report = model_report(uow, owner, engagement)
        began = time.perf_counter()
        rescored = rescore_open_leads(db, tenant_id, engagement)
        rescore_s = time.perf_counter() - began
    finally:
        db.dispose()
    back = report["backtest"]
    cut = datetime.fromisoformat(back["cut"])
    test = [h for h in history if h.decided_at is not None and h.decided_at >= cut]
    oracle = float(np.mean([(h.p_true - float(bool(h.won))) ** 2 for h in test]))
    return Result(
        name="lead_score_brier",
        value=round(back["brier"], 4),
        unit="Brier score",
        baseline="constant rate (the training win rate) on the same later leads",
        baseline_value=round(back["brier_baseline"], 4),
        ratio=round(back["brier"] / back["brier_baseline"], 3),
        target="ratio < 1 (below the constant rate)",
        params={
            "decided_leads": decided,
            "open_leads": open_leads,
            "n_train": back["n_train"],
            "n_test": back["n_test"],
            "backtest_model": back["model"],
            "brier_true_probabilities": round(oracle, 4),
            "auc": back["auc"],
            "auc_baseline": back["auc_baseline"],
            "calibration_brier": report["calibration"]["brier"],
            "model_kind": row.kind.value,
            "train_seconds": round(train_s, 3),
            "rescore_seconds": round(rescore_s, 3),
            "rescored_leads": rescored.leads,
            "rescore_leads_per_s": round(rescored.leads / rescore_s, 1) if rescore_s else None,
            "history_entry_seconds": round(entered, 1),
        },
    )
