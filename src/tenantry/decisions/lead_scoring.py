"""Lead scoring use cases: train and store a tenant's model, report on it, score leads.

- `train_model` learns from the tenant's decided leads (converted = won, lost = lost), each
  described as of its decision; below `min_outcomes` (or with one kind of outcome only) it
  stores a `rules` version instead. Every call stores a new version and records the outbox
  entry `lead_model.trained`, so the projection rescores the open leads.
- `score_leads` scores leads with the current model and appends, for each lead whose score or
  model changed, a score-history row with the explanation; the lead's `score` follows.
- `model_report`: calibration of the current model on the decided leads (Brier score and a
  reliability table of 10 bins) and a backtest on a time split, beside the constant-rate
  baseline.

The caller owns the unit of work: nothing here commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa

from tenantry.db.uow import UnitOfWork
from tenantry.decisions.lead_features import (
    FEATURES,
    EngagementSource,
    LeadFacts,
    feature_matrix,
    load_leads,
)
from tenantry.decisions.lead_model import (
    RULES_BASE,
    RULES_TABLE,
    ScoringModel,
    evaluate,
    fit_logistic,
    reliability,
    rules_model,
)
from tenantry.errors import NotFoundError, ValidationError
from tenantry.events.outbox import record_change
from tenantry.models import Lead, LeadModel, LeadScoreHistory
from tenantry.models.enums import LeadModelKind
from tenantry.services.principal import Action, Principal

__all__ = [
    "DAILY_REASON",
    "RULES_VERSION",
    "Current",
    "current_model",
    "model_report",
    "model_summary",
    "rules_table",
    "score_leads",
    "show_model",
    "train_model",
    "version_name",
]

DAILY_REASON = "daily"  # the history reason of the daily rescoring (it keeps manual scores)

RULES_VERSION = "rules"  # the model version of scores given before any model was trained
BACKTEST_SHARE = 0.7  # the earliest 70 % of decisions train the backtest's model


@dataclass(frozen=True)
class Current:
    """The tenant's current model: its stored row (None: never trained) and its scorer."""

    row: LeadModel | None
    model: ScoringModel

    @property
    def version(self) -> str:
        return version_name(self.row)


def version_name(row: LeadModel | None) -> str:
    return RULES_VERSION if row is None else f"{row.kind.value}-v{row.version}"


def _latest(uow: UnitOfWork) -> LeadModel | None:
    return uow.session.scalars(
        sa.select(LeadModel)
        .where(LeadModel.tenant_id == uow.require_tenant())
        .order_by(LeadModel.version.desc())
        .limit(1)
    ).one_or_none()


def _scorer(row: LeadModel) -> ScoringModel:
    if row.kind is LeadModelKind.RULES:
        return rules_model()
    return ScoringModel(
        LeadModelKind.LOGISTIC,
        feature_names=tuple(row.feature_names),
        coefficients=tuple(row.coefficients),
        intercept=row.intercept,
        mean=tuple(row.scaler["mean"]),
        scale=tuple(row.scaler["scale"]),
        metrics=dict(row.metrics),
    )


def current_model(uow: UnitOfWork) -> Current:
    """The latest stored version, or the rules when the tenant never trained one."""
    row = _latest(uow)
    return Current(row, rules_model() if row is None else _scorer(row))


def _require_tenant_wide(principal: Principal, doing: str) -> None:
    if principal.location_ids is not None:
        raise ValidationError(f"only a member for every location may {doing}")


def _outcomes(
    uow: UnitOfWork, engagement: EngagementSource, before: datetime | None = None
) -> tuple[list[LeadFacts], np.ndarray, np.ndarray]:
    leads = load_leads(uow, decided=True)
    if before is not None:
        leads = [lead for lead in leads if lead.as_of < before]
    leads.sort(key=lambda lead: (lead.as_of, lead.id))
    y = np.array([1 if lead.won else 0 for lead in leads], dtype=float)
    return leads, feature_matrix(uow, leads, engagement), y


def train_model(
    uow: UnitOfWork,
    principal: Principal,
    engagement: EngagementSource,
    *,
    min_outcomes: int,
) -> LeadModel:
    """Learn and store a new model version (rules below the minimum of outcomes)."""
    principal.require(Action.WRITE_CRM, "train the lead scoring model")
    _require_tenant_wide(principal, "train the lead scoring model")
    leads, x, y = _outcomes(uow, engagement)
    won = int(y.sum())
    if len(leads) < min_outcomes:
        model = rules_model(f"{len(leads)} decided leads, fewer than the minimum {min_outcomes}")
    elif won in (0, len(leads)):
        model = rules_model("the decided leads are all converted or all lost")
    else:
        model = fit_logistic(x, y)
    latest = _latest(uow)
    now = uow.clock.now()
    row = LeadModel(
        tenant_id=uow.require_tenant(),
        id=uow.ids(),
        version=(latest.version if latest else 0) + 1,
        kind=model.kind,
        trained_at=now,
        n_outcomes=len(leads),
        n_won=won,
        feature_names=list(model.feature_names),
        coefficients=list(model.coefficients),
        intercept=model.intercept,
        scaler={"mean": list(model.mean), "scale": list(model.scale)},
        metrics={**model.metrics, "min_outcomes": min_outcomes},
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    uow.flush()
    record_change(
        uow, "lead_model", row.id, "lead_model.trained", {"version": row.version, "kind": row.kind}
    )
    return row


def _last_scored(uow: UnitOfWork, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The model version of each lead's latest score-history row."""
    rows = uow.session.execute(
        sa.text(
            "SELECT DISTINCT ON (lead_id) lead_id, model_version FROM crm.lead_score_history"
            " WHERE tenant_id = :t AND lead_id = ANY(:ids)"
            " ORDER BY lead_id, scored_at DESC, id DESC"
        ),
        {"t": uow.require_tenant(), "ids": list(ids)},
    )
    return {r.lead_id: r.model_version for r in rows}


def score_leads(
    uow: UnitOfWork,
    leads: Sequence[LeadFacts],
    engagement: EngagementSource,
    *,
    current: Current | None = None,
    reason: str = "rescored",
) -> int:
    """Score the leads with the current model; returns how many got a new history row.

    A history row is written when the score or the model changed; the lead's current
    explanation follows whenever it changed (new points with the same rounded score).
    """
    if not leads:
        return 0
    current = current or current_model(uow)
    x = feature_matrix(uow, leads, engagement)
    ids = [lead.id for lead in leads]
    stored = {
        r.id: (r.score, r.score_explanation)
        for r in uow.session.execute(
            sa.select(Lead.id, Lead.score, Lead.score_explanation).where(
                Lead.tenant_id == uow.require_tenant(), Lead.id.in_(ids)
            )
        )
    }
    last = _last_scored(uow, ids)
    now = uow.clock.now()
    tenant = uow.require_tenant()
    updates: list[dict[str, Any]] = []
    written = 0
    for i, lead in enumerate(leads):
        before, shown = stored.get(lead.id, (None, None))
        if reason == DAILY_REASON and shown is not None and shown.get("kind") == "manual":
            continue  # a manual score holds until a change that feeds the lead rescores it
        explained = current.model.explain(x[i])
        explanation = explained.as_json(current.version)
        if before != explained.score or last.get(lead.id) != current.version:
            uow.session.add(
                LeadScoreHistory(
                    tenant_id=tenant,
                    id=uow.ids(),
                    lead_id=lead.id,
                    score=explained.score,
                    previous_score=before,
                    reason=reason,
                    model_version=current.version,
                    explanation=explanation,
                    scored_at=now,
                    created_at=now,
                    updated_at=now,
                )
            )
            written += 1
        elif shown == explanation:
            continue
        updates.append(
            {
                "tenant_id": tenant,
                "id": lead.id,
                "score": explained.score,
                "score_explanation": explanation,
                "updated_at": now,
            }
        )
    if updates:
        # ORM bulk update by primary key: one executemany of the score and its explanation.
        uow.session.execute(sa.update(Lead), updates)
    uow.flush()
    return written


def model_report(
    uow: UnitOfWork,
    principal: Principal,
    engagement: EngagementSource,
    *,
    cut: datetime | None = None,
) -> dict[str, Any]:
    """Calibration of the current model and a backtest on a time split (train before `cut`,
    by default the moment by which 70 % of the outcomes were decided; score after)."""
    principal.require(Action.READ)
    if cut is not None and cut.tzinfo is None:
        raise ValidationError("the backtest's cut needs a time zone (a UTC offset)")
    current = current_model(uow)
    if current.row is None:
        raise NotFoundError("the tenant has no lead scoring model yet: train one first")
    leads, x, y = _outcomes(uow, engagement)
    p = current.model.probabilities(x) if leads else np.zeros(0)
    rate = float(y.mean()) if len(y) else 0.0
    report: dict[str, Any] = {
        "model_version": current.version,
        "kind": current.row.kind.value,
        "n_outcomes": len(leads),
        "calibration": {**evaluate(p, y, rate), "reliability": reliability(p, y)},
        "backtest": _backtest(uow, leads, x, y, cut, current.row),
    }
    return report


def _backtest(
    uow: UnitOfWork,
    leads: list[LeadFacts],
    x: np.ndarray,
    y: np.ndarray,
    cut: datetime | None,
    row: LeadModel,
) -> dict[str, Any]:
    if not leads:
        return {"cut": None, "n_train": 0, "n_test": 0, "note": "no decided leads"}
    if cut is None:
        cut = leads[min(int(len(leads) * BACKTEST_SHARE), len(leads) - 1)].as_of
    train = np.array([lead.as_of < cut for lead in leads])
    out: dict[str, Any] = {
        "cut": cut.isoformat(),
        "n_train": int(train.sum()),
        "n_test": int((~train).sum()),
    }
    y_train, y_test = y[train], y[~train]
    min_outcomes = int(row.metrics.get("min_outcomes", 0))
    if len(y_test) == 0 or len(set(y_train.tolist())) < 2 or len(y_train) < min_outcomes:
        model = rules_model()
        out["model"] = "rules"
    else:
        model = fit_logistic(x[train], y_train)
        out["model"] = "logistic"
    rate = float(y_train.mean()) if len(y_train) else 0.5
    out |= evaluate(model.probabilities(x[~train]), y_test, rate)
    return out


def rules_table() -> list[dict[str, str]]:
    """The points table of the rules, for display."""
    return [{"rule": name, "points": text} for name, (_f, text) in RULES_TABLE.items()]


def show_model(uow: UnitOfWork, principal: Principal) -> dict[str, Any]:
    """The current model, for a principal who may read the tenant's records."""
    principal.require(Action.READ)
    return model_summary(current_model(uow))


def model_summary(current: Current) -> dict[str, Any]:
    """The current model as shown by `leads model show` and the API (no personal data)."""
    row = current.row
    body: dict[str, Any] = {
        "model_version": current.version,
        "kind": row.kind.value if row else LeadModelKind.RULES.value,
        "version": row.version if row else None,
        "trained_at": row.trained_at.isoformat() if row else None,
        "n_outcomes": row.n_outcomes if row else 0,
        "n_won": row.n_won if row else 0,
        "metrics": dict(row.metrics) if row else {},
    }
    if current.model.kind is LeadModelKind.LOGISTIC:
        body["intercept"] = current.model.intercept
        body["coefficients"] = dict(
            zip(current.model.feature_names, current.model.coefficients, strict=True)
        )
        body["features"] = list(current.model.feature_names)
    else:
        body["base"] = RULES_BASE
        body["rules"] = rules_table()
        body["features"] = list(FEATURES)
    return body
