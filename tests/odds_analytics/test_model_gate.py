"""The gate a model must pass to recommend: skill and the lower end of its 95 % interval above 0, with folds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from odds_analytics.model_gate import NO_VALIDATED_MODEL, choose_candidate, gate, model_label


def _fig(skill: float, low: float, high: float, folds: int = 3) -> dict[str, object]:
    return {"n": 400, "folds": folds, "skill_vs_no_change": skill, "skill_ci95": [low, high]}


def test_gate_refuses_a_model_whose_interval_crosses_zero() -> None:
    verdict = gate({"kind": "ols", **_fig(0.03, -0.002, 0.06)})
    assert not verdict.passed
    assert "crosses 0" in verdict.reason
    # the same skill with the interval above 0 passes
    assert gate({"kind": "ols", **_fig(0.03, 0.004, 0.06)}).passed


def test_gate_refuses_a_model_with_no_fold_or_no_skill() -> None:
    assert "no walk-forward fold" in gate({"kind": "ols", **_fig(0.5, 0.4, 0.6, folds=0)}).reason
    assert not gate(
        {"kind": "ols", "folds": 3, "skill_vs_no_change": None, "skill_ci95": [None, None]}
    ).passed
    assert not gate({"kind": "ols", **_fig(-0.01, -0.03, 0.01)}).passed  # worse than no change
    assert not gate({"kind": "ols", **_fig(0.02, float("nan"), 0.05)}).passed  # no interval
    assert not gate({"kind": "no_change", **_fig(0.5, 0.4, 0.6)}).passed  # nothing to recommend


def test_candidate_is_the_highest_lower_end_not_the_lowest_rmse() -> None:
    by_kind = {
        "no_change": _fig(0.0, 0.0, 0.0),
        "xgboost": _fig(0.05, -0.01, 0.11),  # the best point estimate, but the interval crosses 0
        "ols": _fig(0.02, 0.005, 0.035),
        "ridge": _fig(0.03, 0.010, 0.050),
    }
    assert choose_candidate(by_kind) == "ridge"
    assert choose_candidate({k: v for k, v in by_kind.items() if k in ("no_change", "xgboost")}) is None
    assert NO_VALIDATED_MODEL == "no validated model"


def test_model_label_names_id_kind_window_and_skill() -> None:
    label = model_label(
        {"id": 7, "kind": "ridge", "data_from": "2022-01-22T00:00:00+00:00", "data_until": "2023-06-12",
         "skill": 0.031, "skill_ci95": [0.01, 0.05]}
    )  # fmt: skip
    assert label == "model 7 ridge (data 2022-01-22 to 2023-06-12, skill +0.0310 [+0.0100, +0.0500])"


def test_training_on_a_market_worse_than_no_change_proposes_nothing() -> None:
    """Pure noise targets: no kind beats no change with an interval above 0, so nothing is proposed."""
    from odds_analytics._synthetic_clv import simulate_market
    from odds_analytics.clv_training import TrainConfig, train_and_select
    from odds_analytics.features import build_dataset, decision_samples

    odds, events, closing = simulate_market(n_games=60, seed=3)
    data = build_dataset(odds, events, decision_samples(odds, events), market="spreads", closing=closing)
    rng = np.random.default_rng(0)
    # the close moves at random, independent of every feature: nothing to learn
    data = data.assign(target=pd.Series(rng.normal(scale=1.5, size=len(data)), index=data.index))
    entries, summary, _ = train_and_select(data, "spreads", TrainConfig(n_folds=3, min_train_events=10))
    assert summary["validated"] is True  # there were folds...
    assert summary["candidate"] is None  # ...but no model earned the right to recommend
    assert summary["selected"] == "no_change"
    assert not summary["gate"]["passed"]
    for entry in entries:
        figures = entry.metrics["walk_forward"]
        assert len(figures["skill_ci95"]) == 2
        assert entry.metrics["gate"]["passed"] is False
