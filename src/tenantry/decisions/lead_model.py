"""Lead scoring maths: the rules' points table, the logistic model, explanations, evaluation.

Two kinds of model score a feature vector (`lead_features.FEATURES`) on 0..100:

- `rules`: a fixed points table (below); each rule's points are its contribution, the base is
  `RULES_BASE`, and the table is bounded so that the sum stays within 0..100 without clipping.
- `logistic`: L2-regularised logistic regression on standardised features (scikit-learn).
  With z = b + sum_i c_i, c_i = w_i (x_i - mean_i) / scale_i, the score is 100 p, p = sigmoid(z).
  The base is 100 sigmoid(b) (the lead whose every feature is the training mean) and feature i
  gets k c_i points with k = (100 p - base) / (z - b), the slope of the sigmoid's secant from b
  to z (its derivative where z = b). So base + sum of points = 100 p exactly, every point keeps
  the sign of its logit contribution, and the integer score is round(100 p).

Nothing here does I/O; `lead_scoring` stores models and scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.preprocessing import StandardScaler

from tenantry.decisions.lead_features import FEATURES
from tenantry.models.enums import InteractionKind, LeadModelKind

__all__ = [
    "LEARNT_FEATURES",
    "REGULARISATION",
    "RULES_BASE",
    "RULES_TABLE",
    "Explanation",
    "ScoringModel",
    "evaluate",
    "fit_logistic",
    "reliability",
    "rules_model",
]

Vector = npt.NDArray[np.float64]
RULES_BASE = 20.0
REGULARISATION = 1.0  # scikit-learn's C: the inverse strength of the L2 penalty
_I = {name: i for i, name in enumerate(FEATURES)}

SOURCE_POINTS = {
    "referral": 25.0,
    "web_quote": 20.0,
    "phone": 15.0,
    "walk_in": 15.0,
    "visibility_check": 15.0,
    "chat": 10.0,
    "google": 10.0,
    "event": 10.0,
    "sms": 5.0,
    "yelp": 5.0,
    "instagram": 5.0,
    "facebook": 5.0,
}
PERSONA_POINTS = {
    "wachstums-walter": 10.0,
    "ketten-katrin": 10.0,
    "solo-sarah": 5.0,
    "bewahrer-ben": 5.0,
}


def _source(x: Vector) -> float:
    return float(sum(p for s, p in SOURCE_POINTS.items() if x[_I[f"source={s}"]] > 0))


def _persona(x: Vector) -> float:
    return float(sum(p for s, p in PERSONA_POINTS.items() if x[_I[f"persona={s}"]] > 0))


def _visibility(x: Vector) -> float:
    # A weaker online visibility has more to gain from the product.
    return 0.0 if x[_I["vc_missing"]] else 10.0 * (1.0 - min(max(x[_I["vc_overall"]], 0.0), 1.0))


def _engagement(x: Vector) -> float:
    weights = {"clicks_30d": 3.0, "opens_30d": 2.0, "logins_30d": 2.0, "steps_30d": 1.0}
    return min(15.0, float(sum(w * x[_I[name]] for name, w in weights.items())))


def _interactions(x: Vector) -> float:
    total = sum(math.expm1(x[_I[f"interactions_{k.value}"]]) for k in InteractionKind)
    return min(15.0, 5.0 * math.log1p(total))


def _recency(x: Vector) -> float:
    if x[_I["no_interaction"]]:
        return -min(10.0, math.expm1(x[_I["log_days_open"]]))
    return -min(10.0, 2.0 * math.expm1(x[_I["log_days_quiet"]]))


def _value(x: Vector) -> float:
    return 0.0 if x[_I["value_missing"]] else min(5.0, x[_I["log_value"]] / 2.0)


# name -> (points of a feature vector, what the rule gives); bounds: 25+10+10+15+15+5 = 80
# above the base of 20, at most 10 below it.
RULES_TABLE: dict[str, tuple[Callable[[Vector], float], str]] = {
    "source": (_source, "by source: referral 25, web quote 20, phone/walk-in/visibility check 15"),
    "persona": (_persona, "growth and chain personas 10, solo and keeper personas 5"),
    "vc_overall": (_visibility, "10 x (1 - latest visibility score / 100)"),
    "engagement": (_engagement, "3 log1p clicks + 2 log1p opens + 2 log1p logins + steps, <= 15"),
    "interactions": (_interactions, "5 log1p(interactions so far), at most 15"),
    "recency": (_recency, "minus 2 per day since the last interaction (1 per day open), <= 10"),
    "value": (_value, "log1p(estimated value in whole units) / 2, at most 5"),
}


@dataclass(frozen=True)
class Explanation:
    """A score's base and the points of each feature (or rule); they add up to `raw`."""

    kind: str
    base: float
    points: dict[str, float]
    raw: float  # 0..100, before rounding

    @property
    def score(self) -> int:
        return min(100, max(0, round(self.raw)))

    def as_json(self, version: str) -> dict[str, Any]:
        """Stored to 6 decimals: the points rounded, the base whatever makes base + points
        equal the rounded raw score exactly (in decimal), so the stored sum still adds up."""
        points = {k: round(v, 6) for k, v in self.points.items() if v != 0.0}
        raw = round(self.raw, 6)
        base = Decimal(str(raw)) - sum((Decimal(str(v)) for v in points.values()), Decimal(0))
        return {
            "model_version": version,
            "kind": self.kind,
            "base": float(base),
            "points": points,
            "raw": raw,
        }


@dataclass(frozen=True)
class ScoringModel:
    """A model that scores feature vectors: rules, or logistic with its fitted parameters."""

    kind: LeadModelKind
    feature_names: tuple[str, ...] = FEATURES
    coefficients: tuple[float, ...] = ()
    intercept: float = 0.0
    mean: tuple[float, ...] = ()
    scale: tuple[float, ...] = ()
    metrics: dict[str, Any] = field(default_factory=dict)

    def _columns(self, x: Vector) -> Vector:
        """The vector's values in this model's feature order (0 for a feature it lacks)."""
        if tuple(self.feature_names) == FEATURES:
            return x
        out = np.zeros((x.shape[0], len(self.feature_names)))
        for j, name in enumerate(self.feature_names):
            if name in _I:
                out[:, j] = x[:, _I[name]]
        return out

    def _logits(self, x: Vector) -> tuple[Vector, Vector]:
        z = (self._columns(x) - np.asarray(self.mean)) / np.asarray(self.scale)
        contributions = z * np.asarray(self.coefficients)
        return contributions, self.intercept + contributions.sum(axis=1)

    def probabilities(self, x: Vector) -> Vector:
        """P(won) per row (rules: their score / 100)."""
        if self.kind is LeadModelKind.RULES:
            return np.array([self.explain(row).raw / 100.0 for row in x])
        _c, z = self._logits(x)
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def explain(self, row: Vector) -> Explanation:
        """The score of one feature vector and its explanation."""
        if self.kind is LeadModelKind.RULES:
            points = {name: float(rule(row)) for name, (rule, _d) in RULES_TABLE.items()}
            return Explanation("rules", RULES_BASE, points, RULES_BASE + sum(points.values()))
        contributions, z = self._logits(row.reshape(1, -1))
        b, zz = self.intercept, float(z[0])
        base, raw = 100.0 * _sigmoid(b), 100.0 * _sigmoid(zz)
        if abs(zz - b) > 1e-9:
            slope = (raw - base) / (zz - b)
        else:
            slope = 100.0 * _sigmoid(b) * (1.0 - _sigmoid(b))
        points = {
            n: float(slope * c) for n, c in zip(self.feature_names, contributions[0], strict=True)
        }
        # The last float rounding goes to the base so that base + sum is raw to the last bit.
        base = raw - sum(points.values())
        return Explanation("logistic", base, points, raw)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def rules_model(reason: str = "") -> ScoringModel:
    return ScoringModel(LeadModelKind.RULES, metrics={"reason": reason} if reason else {})


# A decided lead is described as of its decision, so its age is its time to decision: learnt,
# it would rank an old open lead like one decided late (in practice: like a win, as wins take
# longer). The lead's age stays a feature of the rules (an untouched lead cools down) only.
UNLEARNT = frozenset({"log_days_open"})
LEARNT_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in UNLEARNT)


def fit_logistic(
    x: Vector, y: Sequence[int] | Vector, *, c: float = REGULARISATION
) -> ScoringModel:
    """Learn the logistic model from decided leads (y: 1 converted, 0 lost); needs both."""
    labels = np.asarray(y, dtype=int)
    learnt = x[:, [_I[name] for name in LEARNT_FEATURES]]
    scaler = StandardScaler().fit(learnt)
    fitted = LogisticRegression(C=c, max_iter=2000).fit(scaler.transform(learnt), labels)
    model = ScoringModel(
        LeadModelKind.LOGISTIC,
        feature_names=LEARNT_FEATURES,
        coefficients=tuple(float(v) for v in fitted.coef_[0]),
        intercept=float(fitted.intercept_[0]),
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scaler.scale_),
    )
    p = model.probabilities(x)
    rate = float(labels.mean())
    metrics = {
        "c": c,
        "brier_in_sample": float(brier_score_loss(labels, p)),
        "brier_baseline": float(brier_score_loss(labels, np.full(len(labels), rate))),
        "win_rate": rate,
    }
    return ScoringModel(
        model.kind,
        model.feature_names,
        model.coefficients,
        model.intercept,
        model.mean,
        model.scale,
        metrics,
    )


def reliability(p: Vector, y: Vector, bins: int = 10) -> list[dict[str, Any]]:
    """The reliability table: per tenth of predicted probability, the count, the mean
    prediction and the observed win rate (None where a bin is empty)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    table = []
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        table.append(
            {
                "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                "n": n,
                "predicted": float(p[inside].mean()) if n else None,
                "observed": float(y[inside].mean()) if n else None,
            }
        )
    return table


def evaluate(p: Vector, y: Vector, baseline_rate: float) -> dict[str, Any]:
    """Brier and AUC of the predictions beside the constant-rate baseline."""
    both = len(set(y.tolist())) == 2
    return {
        "n": len(y),
        "brier": float(brier_score_loss(y, p)) if len(y) else None,
        "brier_baseline": float(brier_score_loss(y, np.full(len(y), baseline_rate)))
        if len(y)
        else None,
        "auc": float(roc_auc_score(y, p)) if both else None,
        "auc_baseline": 0.5 if both else None,
        "baseline_rate": baseline_rate,
    }
