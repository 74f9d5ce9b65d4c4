"""CLV models: metrics, walk-forward folds, fitting, saving and NaN handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from odds_analytics._synthetic_clv import simulate_market
from odds_analytics.clv_model import (
    calibration_table,
    fit_model,
    metrics,
    model_from_dict,
    predict,
    skill_interval,
    walk_forward,
    walk_forward_folds,
)
from odds_analytics.features import POLYMARKET_FEATURES, build_dataset, decision_samples


@pytest.fixture(scope="module")
def spreads() -> pd.DataFrame:
    odds, events, closing = simulate_market(n_games=90, seed=11)
    return build_dataset(odds, events, decision_samples(odds, events), market="spreads", closing=closing)


def test_metrics_by_hand() -> None:
    y = np.array([1.0, -1.0, 0.0, 2.0])
    p = np.array([0.5, 0.5, 0.0, 1.0])
    m = metrics(y, p, threshold=0.5)
    assert m["rmse"] == pytest.approx(np.sqrt((0.25 + 2.25 + 0 + 1) / 4))
    assert m["mae"] == pytest.approx((0.5 + 1.5 + 0 + 1) / 4)
    assert m["r2"] == pytest.approx(1 - 3.5 / np.sum((y - y.mean()) ** 2))
    assert m["directional_accuracy"] == pytest.approx(2 / 3)  # 3 moves >= 0.5, two called right
    assert m["skill_vs_no_change"] == pytest.approx(1 - (3.5 / 4) / (6 / 4))
    assert m["clv_captured"] == pytest.approx((1 - 1 + 2) / 3)
    assert m["n_acted"] == 3


def test_no_change_baseline_scores_a_coin_flip_on_direction() -> None:
    y = np.array([1.0, -2.0, 0.5, 3.0])
    m = metrics(y, np.zeros(4), threshold=0.5)
    assert m["directional_accuracy"] == 0.5
    assert m["skill_vs_no_change"] == 0.0
    assert m["n_acted"] == 0


def test_walk_forward_folds_never_share_an_event_nor_train_on_unfinished_games(spreads: pd.DataFrame) -> None:
    for scheme in ("expanding", "sliding"):
        folds = walk_forward_folds(spreads, n_folds=4, scheme=scheme, window_days=10, min_train_events=5)
        assert len(folds) >= 3
        for train_idx, test_idx in folds:
            train, test = spreads.iloc[train_idx], spreads.iloc[test_idx]
            assert not set(train["event_id"]) & set(test["event_id"])
            assert train["commence_time"].max() < test["decision_time"].min()
            if scheme == "sliding":
                assert train["commence_time"].min() >= test["decision_time"].min() - timedelta(days=10)


def test_models_beat_no_change_when_there_is_a_signal(spreads: pd.DataFrame) -> None:
    result = walk_forward(spreads, market="spreads", n_folds=3, min_train_events=15)
    table = result.summary()
    assert table.loc["no_change", "skill_vs_no_change"] == 0.0
    assert table.loc["ols", "skill_vs_no_change"] > 0.2
    assert table.loc["xgboost", "skill_vs_no_change"] > 0.1
    assert table.loc["ols", "directional_accuracy"] > 0.6
    assert "cross_market_gap" in result.importance
    assert set(result.predictions.columns) >= {"pred_ols", "pred_xgboost", "target", "fold"}


def test_fitted_models_round_trip_through_json(spreads: pd.DataFrame) -> None:
    for kind in ("consensus_ols", "ols", "xgboost"):
        model = fit_model(spreads, kind=kind, market="spreads")  # type: ignore[arg-type]
        again = model_from_dict(model.to_dict())
        np.testing.assert_allclose(predict(model, spreads), predict(again, spreads), rtol=1e-6)
        assert again.fingerprint() == model.fingerprint()
    ols = fit_model(spreads, kind="ols", market="spreads")
    assert {"const", "cross_market_gap"} <= set(ols.info["coefficients"])
    assert set(ols.info["coefficients"]["const"]) == {"coef", "std_err", "t", "p_value"}


def test_rows_with_nan_polymarket_features_are_scored(spreads: pd.DataFrame) -> None:
    assert spreads[POLYMARKET_FEATURES].isna().all().all()
    data = spreads.copy()
    half = data.index[: len(data) // 2]
    data.loc[half, "pm_mid"] = 0.5
    data.loc[half, "pm_divergence"] = 0.01
    for kind in ("ols", "xgboost"):
        model = fit_model(data, kind=kind, market="spreads")  # type: ignore[arg-type]
        predicted = predict(model, data)
        assert len(predicted) == len(data)
        assert np.isfinite(predicted).all()


def test_calibration_table_bins_predictions() -> None:
    rng = np.random.default_rng(0)
    pred = rng.normal(size=200)
    table = calibration_table(pred * 2, pred, bins=5)
    assert len(table) == 5
    assert table["n"].sum() == 200
    assert table["mean_realised"].is_monotonic_increasing


def test_walk_forward_needs_enough_history() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    tiny = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "commence_time": [start, start + timedelta(days=1)],
            "decision_time": [start - timedelta(hours=3), start + timedelta(hours=21)],
            "target": [0.5, -0.5],
        }
    )
    assert walk_forward_folds(tiny, n_folds=3, min_train_events=5) == []


def test_skill_interval_resamples_games() -> None:
    rng = np.random.default_rng(3)
    games = np.repeat(np.arange(200), 3)
    y = rng.normal(size=600)
    good = skill_interval(y, 0.5 * y, games, n_boot=300)
    assert 0.6 < good[0] <= 0.75 <= good[1] < 0.9  # every draw is exactly 1 - 0.25 = 0.75 here
    noisy = skill_interval(y, 0.5 * y + rng.normal(scale=0.5, size=600), games, n_boot=300)
    assert noisy[0] < 0.5 < noisy[1]  # 1 - (0.25 + 0.25) on average
    none = skill_interval(y, np.zeros(600), games, n_boot=50)
    assert none == (0.0, 0.0)


def test_training_on_too_little_history_registers_models_without_oos_predictions() -> None:
    from odds_analytics.clv_training import TrainConfig, train_and_select

    odds, events, closing = simulate_market(n_games=9, seed=5)
    data = build_dataset(odds, events, decision_samples(odds, events), market="spreads", closing=closing)
    entries, summary, oos = train_and_select(data, "spreads", TrainConfig(min_train_events=20))
    assert summary["validated"] is False
    # no walk-forward fold: nothing is validated, so no model is proposed (no `ols` by default)
    assert summary["candidate"] is None
    assert summary["selected"] == "no_change"
    assert summary["gate"]["passed"] is False
    assert all(not e.metrics["gate"]["passed"] for e in entries)
    assert sum(e.selected for e in entries) == 1
    assert oos.empty
    assert "predicted" in oos.columns


def test_train_config_kinds_limit_what_is_validated_and_registered(spreads: pd.DataFrame) -> None:
    from odds_analytics.clv_model import BASE_KINDS, MODEL_KINDS
    from odds_analytics.clv_training import TrainConfig, train_and_select

    assert TrainConfig().model_kinds() == MODEL_KINDS
    # the baseline and the fallback are always there, in MODEL_KINDS order
    assert TrainConfig(kinds=("ridge",)).model_kinds() == ("no_change", "ols", "ridge")
    with pytest.raises(ValueError, match="unknown model kind"):
        TrainConfig(kinds=("gbm",)).model_kinds()
    config = TrainConfig(n_folds=3, min_train_events=10, kinds=BASE_KINDS)
    entries, summary, _oos = train_and_select(spreads, "spreads", config)
    assert [e.model.kind for e in entries] == list(BASE_KINDS)
    assert set(summary["walk_forward"]) == set(BASE_KINDS)
    assert summary["selected"] in BASE_KINDS
    assert sum(e.selected for e in entries) == 1
