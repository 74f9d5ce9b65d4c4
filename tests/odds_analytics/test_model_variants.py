"""The second-generation model kinds: time-ordered tuning, shrinkage, monotone trees, the ensemble."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from odds_analytics._synthetic_clv import simulate_market
from odds_analytics.clv_model import MODEL_KINDS, fit_model, model_from_dict, predict, walk_forward
from odds_analytics.features import build_dataset, decision_samples
from odds_analytics.model_report import (
    calibration_rows,
    importance_rows,
    member_note,
    report_markdown,
    target_units,
)
from odds_analytics.model_variants import (
    EXT_FEATURES,
    VARIANT_KINDS,
    _enet,
    _solve,
    fit_variant,
    inner_folds,
)


@pytest.fixture(scope="module")
def spreads() -> pd.DataFrame:
    odds, events, closing = simulate_market(n_games=90, seed=11)
    return build_dataset(odds, events, decision_samples(odds, events), market="spreads", closing=closing)


@pytest.fixture(scope="module")
def fitted(spreads: pd.DataFrame) -> dict[str, object]:
    return {kind: fit_model(spreads, kind=kind, market="spreads") for kind in VARIANT_KINDS}


def test_every_variant_is_a_registry_kind_and_round_trips_through_json(spreads, fitted) -> None:
    assert set(VARIANT_KINDS) <= set(MODEL_KINDS)
    for kind, model in fitted.items():
        assert model.kind == kind
        again = model_from_dict(model.to_dict())
        np.testing.assert_allclose(predict(model, spreads), predict(again, spreads), rtol=1e-6, atol=1e-9)
        assert again.fingerprint() == model.fingerprint()


def test_variants_beat_no_change_walk_forward_on_a_learnable_market(spreads: pd.DataFrame) -> None:
    result = walk_forward(
        spreads, market="spreads", n_folds=3, min_train_events=15, kinds=("no_change", *VARIANT_KINDS)
    )
    table = result.summary()
    for kind in VARIANT_KINDS:
        assert table.loc[kind, "skill_vs_no_change"] > 0.1, kind


def test_inner_cv_folds_are_time_ordered_and_grouped(spreads: pd.DataFrame) -> None:
    folds = inner_folds(spreads)
    assert len(folds) >= 2
    data = spreads.reset_index(drop=True)
    for fit_idx, valid_idx in folds:
        fit, valid = data.iloc[fit_idx], data.iloc[valid_idx]
        assert not set(fit["event_id"]) & set(valid["event_id"])
        assert fit["commence_time"].max() < valid["decision_time"].min()


def test_shrunk_ols_is_the_extended_ols_times_a_factor_in_0_1(fitted) -> None:
    ext, shrunk = fitted["ols_ext"], fitted["ols_shrunk"]
    c = shrunk.params["shrink"]
    assert 0.0 <= c <= 1.0
    assert shrunk.info["cv_shrink"] == pytest.approx(c)
    assert shrunk.features == ext.features
    for name, value in ext.state["coef"].items():
        assert shrunk.state["coef"][name] == pytest.approx(c * value)


def test_shrink_factor_goes_to_zero_when_the_features_carry_no_signal(spreads: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    noise = spreads.assign(target=rng.normal(0, 1.5, len(spreads)))
    assert fit_variant(noise, kind="ols_shrunk", market="spreads").params["shrink"] < 0.5
    # and the regularised fits pick a strong penalty: predictions close to the mean
    ridge = fit_variant(noise, kind="ridge", market="spreads")
    assert np.std(predict(ridge, noise)) < 0.5 * np.std(
        predict(fit_variant(noise, kind="ols_ext", market="spreads"), noise)
    )


def test_book_kinds_weigh_each_book_and_tolerate_unknown_books(spreads: pd.DataFrame, fitted) -> None:
    model = fitted["ridge_books"]
    books = [f for f in model.features if f.startswith("dev__")]
    assert books  # the simulated books quote every game
    unseen = spreads.drop(columns=books[:1]).assign(dev__newbook=1.0)  # a book gone, another new
    assert np.isfinite(predict(model, unseen)).all()


def test_monotone_trees_respect_the_known_signs(spreads: pd.DataFrame) -> None:
    # a market where the close moves *against* the moneyline gap and *with* the price skew: unconstrained
    # trees would learn those signs, the monotone ones may not
    rng = np.random.default_rng(1)
    wrong = spreads.assign(
        target=-2.0 * spreads["cross_market_gap"]
        + 30 * spreads["price_skew"].fillna(0)
        + rng.normal(0, 0.3, len(spreads))
    )
    model = fit_variant(wrong, kind="xgb_mono", market="spreads")
    assert model.params["max_depth"] == 2
    free = fit_model(wrong, kind="xgboost", market="spreads")
    row = spreads.iloc[[0] * 41].copy()
    row["cross_market_gap"] = np.linspace(-4, 4, 41)
    assert (np.diff(predict(model, row)) >= -1e-9).all()
    assert predict(free, row)[-1] < predict(free, row)[0]  # the free trees learn the wrong sign
    row = spreads.iloc[[0] * 41].copy()
    row["price_skew"] = np.linspace(-0.1, 0.1, 41)
    assert (np.diff(predict(model, row)) <= 1e-9).all()


def test_the_ensemble_is_the_mean_of_its_members(spreads: pd.DataFrame, fitted) -> None:
    ens = fitted["ols_xgb"]
    members = [model_from_dict(m) for m in ens.state["members"]]
    assert [m.kind for m in members] == ["ols_ext", "xgb_mono"]
    np.testing.assert_allclose(
        predict(ens, spreads), (predict(members[0], spreads) + predict(members[1], spreads)) / 2, rtol=1e-6
    )


def test_solvers_match_their_closed_forms() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 4)) * [1.0, 5.0, 0.1, 2.0] + [0.0, 3.0, -1.0, 0.0]
    y = x @ np.array([0.5, -0.2, 3.0, 0.0]) + 1.0 + rng.normal(0, 0.5, 300)
    const, coef = _solve(x, y, "ols", 0.0)
    design = np.column_stack([np.ones(300), x])
    exact = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose([const, *coef], exact, rtol=1e-8)
    # ridge with a huge penalty predicts the mean
    const, coef = _solve(x, y, "ridge", 1e6)
    assert const == pytest.approx(y.mean() - x.mean(axis=0) @ coef)
    assert np.abs(coef).max() < 1e-3
    # coordinate descent reaches the elastic-net optimum: zero subgradient on the active set
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    yc = y - y.mean()
    alpha, l1 = 0.05, 0.5
    beta = _enet(z, yc, alpha, l1)
    grad = -z.T @ (yc - z @ beta) / len(y) + alpha * (1 - l1) * beta
    active = beta != 0
    np.testing.assert_allclose(grad[active], -alpha * l1 * np.sign(beta[active]), atol=1e-6)
    assert (np.abs(grad[~active]) <= alpha * l1 + 1e-6).all()
    assert _enet(z, yc, 10.0, l1).tolist() == [0.0] * 4  # a large penalty zeroes everything


def test_report_tables_describe_the_model(spreads: pd.DataFrame, fitted) -> None:
    ols = fit_model(spreads, kind="ols", market="spreads")
    rows = importance_rows(ols)
    assert rows[0]["feature"] == "const"
    assert {"coef", "std_err", "t", "p_value"} <= set(rows[1])
    coefs = [abs(r["coef"]) for r in rows[1:]]
    assert coefs == sorted(coefs, reverse=True)
    ens_rows = {r["feature"]: r for r in importance_rows(fitted["ols_xgb"])}
    assert "coef" in ens_rows["cross_market_gap"]
    assert "gain" in ens_rows["cross_market_gap"]
    assert set(EXT_FEATURES) - {"prior_drift"} >= {f for f in ens_rows if "coef" in ens_rows[f]} - {"const"}
    cal = calibration_rows(
        {"bin": [0, 1], "n": [5, 5], "mean_predicted": [-1.0, 1.0], "mean_realised": [-0.5, 0.7]}
    )
    text = report_markdown(
        "spreads ols", {"n": 10, "skill_vs_no_change": 0.031, "skill_ci95": [0.01, 0.05]}, cal, rows
    )
    assert "+3.10%" in text
    assert "[+1.00%, +5.00%]" in text
    assert "| 2 | 5 | 1.0000 | 0.7000 |" in text  # deciles are numbered from 1 for a reader
    assert "| cross_market_gap |" in text
    assert "in target units" in text  # no market given: the units are said to be the target's
    # a reader sees every figure with its count and unit, and which member of an ensemble the table shows
    figures = {
        "n": 10,
        "rmse": 1.6,
        "directional_accuracy": 0.56,
        "n_moves": 8,
        "clv_captured": 0.3,
        "n_acted": 4,
    }
    text = report_markdown("spreads ols_xgb", figures, cal, rows, units=target_units("spreads"),
                           note=member_note(fitted["ols_xgb"]), scale_rows=10)  # fmt: skip
    assert "| directional accuracy | 0.560 (n = 8) |" in text
    assert "| CLV captured (points, home spread) | +0.3000 (n = 4) |" in text
    assert "in points, home spread; decile 1 = the lowest predictions" in text
    assert "the mean of ols_ext (weight 0.5) and xgb_mono (weight 0.5)" in text
    assert "standard deviation over the window's rows (n = 10)" in text
    assert member_note(ols) is None


def test_report_scales_coefficients_by_the_feature_spread_and_draws_both_panels(
    spreads, fitted, tmp_path
) -> None:
    from tasks.model_report import write_model_report

    rows = {r["feature"]: r for r in importance_rows(fitted["ols_xgb"], spreads)}
    gap = rows["cross_market_gap"]
    lo, hi = fitted["ols_ext"].state["clip"]["cross_market_gap"]
    assert gap["per_sd"] == pytest.approx(gap["coef"] * spreads["cross_market_gap"].clip(lo, hi).std(ddof=0))
    assert "per_sd" not in rows.get("book_std", {})  # a tree-only feature has no coefficient to scale
    cal = {"bin": [0, 1], "n": [5, 5], "mean_predicted": [-1.0, 1.0], "mean_realised": [-0.5, 0.7]}
    paths = write_model_report(fitted["ols_xgb"], cal, tmp_path / "report", "spreads ols_xgb", spreads)
    for name in ("calibration.png", "importance.png"):
        assert (tmp_path / "report" / name).read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(paths["importance.csv"])
    assert {"feature", "coef", "per_sd", "gain"} <= set(table.columns)


def test_report_of_an_empty_window_draws_without_failing(fitted, tmp_path) -> None:
    from tasks.model_report import write_model_report

    empty = {"bin": [0], "n": [0], "mean_predicted": [None], "mean_realised": [None]}  # score() on no rows
    assert calibration_rows(empty) == [{"bin": 0, "n": 0, "mean_predicted": pytest.approx(np.nan, nan_ok=True),
                                        "mean_realised": pytest.approx(np.nan, nan_ok=True)}]  # fmt: skip
    paths = write_model_report(fitted["ridge"], empty, tmp_path / "r", "empty window")
    assert (tmp_path / "r" / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    assert "| 1 | 0 | – | – |" in report_markdown("empty", {"n": 0}, calibration_rows(empty), [])
    assert paths["importance.csv"].endswith("importance.csv")
