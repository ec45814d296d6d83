"""The lead scoring maths without a database: explanations add up (rules and logistic), the
rules stay within 0..100 without clipping, a stored model scores as trained, the report's
reliability table and metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tenantry.decisions.lead_features import FEATURES
from tenantry.decisions.lead_model import (
    RULES_BASE,
    ScoringModel,
    evaluate,
    fit_logistic,
    reliability,
    rules_model,
)
from tenantry.models.enums import InteractionKind, LeadModelKind

INDEX = {name: i for i, name in enumerate(FEATURES)}


def _random_leads(rng: np.random.Generator, n: int) -> np.ndarray:
    """Feature vectors as the features module builds them: one source, one persona or none,
    indicators exclusive with their values."""
    x = np.zeros((n, len(FEATURES)))
    sources = [f for f in FEATURES if f.startswith("source=")]
    personas = [f for f in FEATURES if f.startswith("persona=")]
    for i in range(n):
        x[i, INDEX[sources[rng.integers(len(sources))]]] = 1
        if rng.random() < 0.2:
            x[i, INDEX["persona_missing"]] = 1
        else:
            x[i, INDEX[personas[rng.integers(len(personas))]]] = 1
        if rng.random() < 0.3:
            x[i, INDEX["vc_missing"]] = 1
        else:
            x[i, INDEX["vc_overall"]] = rng.random()
        for name in ("opens_30d", "clicks_30d", "steps_30d", "logins_30d"):
            x[i, INDEX[name]] = math.log1p(rng.integers(0, 200))
        for kind in InteractionKind:
            x[i, INDEX[f"interactions_{kind.value}"]] = math.log1p(rng.integers(0, 30))
        x[i, INDEX["log_days_open"]] = math.log1p(rng.random() * 400)
        if rng.random() < 0.2:
            x[i, INDEX["no_interaction"]] = 1
        else:
            x[i, INDEX["log_days_quiet"]] = math.log1p(rng.random() * 60)
        if rng.random() < 0.3:
            x[i, INDEX["value_missing"]] = 1
        else:
            x[i, INDEX["log_value"]] = math.log1p(rng.random() * 1e6)
    return x


def test_rules_add_up_and_stay_within_0_and_100_without_clipping() -> None:
    rng = np.random.default_rng(1)
    model = rules_model()
    extremes = []
    for row in _random_leads(rng, 500):
        e = model.explain(row)
        assert e.base == RULES_BASE
        assert e.base + sum(e.points.values()) == pytest.approx(e.raw, abs=1e-9)
        assert 0 <= e.raw <= 100 and e.score == round(e.raw)
        extremes.append(e.raw)
    assert max(extremes) - min(extremes) > 30  # the table spreads leads apart


def test_the_lead_s_age_is_never_learnt() -> None:
    # a decided lead's age is its time to decision: learnt, it would pass for an open lead's age
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, len(FEATURES)))
    age = FEATURES.index("log_days_open")
    y = (x[:, age] > 0).astype(int)  # the age alone decides in this history
    model = fit_logistic(x, y)
    assert "log_days_open" not in model.feature_names
    assert "log_days_open" not in model.explain(x[0]).points


def test_logistic_explanations_add_up_for_every_lead() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, len(FEATURES)))
    y = (rng.random(400) < 1 / (1 + np.exp(-(x[:, 0] - 0.5 * x[:, 3])))).astype(int)
    model = fit_logistic(x, y)
    p = model.probabilities(x)
    for i in range(0, 400, 7):
        e = model.explain(x[i])
        assert e.base + sum(e.points.values()) == pytest.approx(e.raw, abs=1e-9)
        assert e.raw == pytest.approx(100 * p[i], abs=1e-9)
        assert e.score == round(100 * p[i])
        stored = e.as_json("logistic-v1")  # the stored, rounded form adds up as well
        assert round(stored["base"] + sum(stored["points"].values()), 6) == stored["raw"]
    # a lead at the training mean scores the base and no feature moves it
    row = np.zeros(len(FEATURES))
    for name, mean in zip(model.feature_names, model.mean, strict=True):
        row[FEATURES.index(name)] = mean
    at_mean = model.explain(row)
    assert (
        at_mean.raw == pytest.approx(at_mean.base) and max(map(abs, at_mean.points.values())) < 1e-9
    )
    # the feature pushing most moves the score most, in its direction
    e = model.explain(np.where(np.arange(len(FEATURES)) == 0, 3.0, 0.0))
    assert max(e.points, key=lambda k: abs(e.points[k])) == FEATURES[0]
    assert e.points[FEATURES[0]] > 0


def test_as_json_keeps_what_adds_up_and_no_values() -> None:
    x = _random_leads(np.random.default_rng(2), 1)[0]
    body = rules_model().explain(x).as_json("rules")
    assert set(body) == {"model_version", "kind", "base", "points", "raw"}
    assert body["base"] + sum(body["points"].values()) == pytest.approx(body["raw"], abs=1e-5)
    assert all(isinstance(v, float) for v in body["points"].values())


def test_a_stored_model_scores_as_it_was_trained() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(100, len(FEATURES)))
    y = (x[:, 1] > 0).astype(int)
    model = fit_logistic(x, y)
    copy = ScoringModel(
        LeadModelKind.LOGISTIC,
        tuple(model.feature_names),
        tuple(model.coefficients),
        model.intercept,
        tuple(model.mean),
        tuple(model.scale),
    )
    assert np.allclose(copy.probabilities(x), model.probabilities(x))
    # a model stored with fewer features reads the ones it knows, by name
    short = ScoringModel(
        LeadModelKind.LOGISTIC,
        (FEATURES[1],),
        (model.coefficients[1],),
        model.intercept,
        (model.mean[1],),
        (model.scale[1],),
    )
    assert short.probabilities(x).shape == (100,)


def test_reliability_bins_and_metrics_beside_the_constant_rate() -> None:
    rng = np.random.default_rng(7)
    p = rng.random(2000)
    y = (rng.random(2000) < p).astype(float)
    table = reliability(p, y)
    assert [b["bin"] for b in table][:2] == ["0.0-0.1", "0.1-0.2"] and len(table) == 10
    assert sum(b["n"] for b in table) == 2000
    for b in table:
        assert abs(b["predicted"] - b["observed"]) < 0.1
    metrics = evaluate(p, y, float(y.mean()))
    assert metrics["brier"] < metrics["brier_baseline"] and metrics["auc"] > 0.7
    empty = evaluate(np.zeros(0), np.zeros(0), 0.5)
    assert empty["brier"] is None and empty["auc"] is None
