"""CLV models: predict the move from now to the close, validate walk-forward, measure honestly (pure).

Models (all predict `target` = close minus current, in the target's units; see `features.py`):
- `no_change`: predicts 0 (the market is efficient). The baseline every model must beat.
- `consensus_ols`: y ~ 1 + current consensus (a small linear model on the consensus alone).
- `ols`: statsmodels OLS on a short list of book features (NaN imputed with the training means), with its
  coefficient table.
- `xgboost`: gradient-boosted trees with native NaN handling and early stopping on a held-out, later slice
  of the training window (grouped by event), `n_jobs=2`, shallow trees.

Validation is walk-forward by date, grouped by event: every event's samples sit in one test block, and a
test block trains only on events that tipped off before its first decision, so every training label was
known when the test decisions were taken. Windows expand (all the past) or slide (the last N days).

xgboost and statsmodels are imported inside the functions that use them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = [
    "BASE_KINDS",
    "MODEL_KINDS",
    "OLS_FEATURES",
    "ClvModel",
    "WalkForwardResult",
    "calibration_table",
    "consensus_ols_features",
    "fit_model",
    "fit_xgb",
    "metrics",
    "model_from_dict",
    "predict",
    "skill_interval",
    "walk_forward",
    "walk_forward_folds",
]

BASE_KINDS = ("no_change", "consensus_ols", "ols", "xgboost")
# the second-generation kinds live in `odds_analytics.model_variants` (issue 18, docs/MODELING.md)
MODEL_KINDS = (
    *BASE_KINDS,
    "ols_ext",
    "ols_shrunk",
    "ridge",
    "ridge_books",
    "enet_books",
    "xgb_mono",
    "ols_xgb",
)
# The OLS's short list: the features with some signal in the feasibility probe (README of the data).
OLS_FEATURES = [
    "cross_market_gap",
    "price_skew",
    "retail_minus_sharp",
    "mean_minus_median",
    "open_to_now",
    "hours_to_tip",
]
DEFAULT_THRESHOLDS = {"h2h": 0.01, "spreads": 0.5, "totals": 0.5}
XGB_PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "max_depth": 3,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 20,
    "reg_lambda": 5.0,
    "n_jobs": 2,
    "random_state": 7,
    "tree_method": "hist",
}
EARLY_STOPPING_ROUNDS = 30
WINSOR_QUANTILE = 0.01


def consensus_ols_features() -> list[str]:
    return ["consensus"]


@dataclass
class ClvModel:
    """A fitted model: enough to predict, to save as JSON, and to describe in the registry."""

    kind: str
    market: str
    features: list[str]
    params: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # coefficients, imputation means, booster JSON
    info: dict[str, Any] = field(default_factory=dict)  # coefficient table, importance, best iteration

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "market": self.market,
            "features": self.features,
            "params": self.params,
            "state": self.state,
            "info": self.info,
        }

    def fingerprint(self) -> str:
        """A short content hash of the model (kind, features, parameters and fitted state)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def model_from_dict(data: dict[str, Any]) -> ClvModel:
    return ClvModel(
        kind=data["kind"],
        market=data["market"],
        features=list(data["features"]),
        params=dict(data.get("params", {})),
        state=dict(data.get("state", {})),
        info=dict(data.get("info", {})),
    )


def _matrix(
    data: pd.DataFrame,
    features: list[str],
    means: dict[str, float] | None = None,
    clip: dict[str, list[float]] | None = None,
) -> np.ndarray:
    x = data.reindex(columns=features).astype(float)
    if clip:
        for name, (lo, hi) in clip.items():
            if name in x.columns:
                x[name] = x[name].clip(lo, hi)
    if means is not None:
        x = x.fillna({k: v for k, v in means.items() if k in x.columns}).fillna(0.0)
    return x.to_numpy(dtype=float)


def _fit_ols(train: pd.DataFrame, market: str, features: list[str], kind: str) -> ClvModel:
    import statsmodels.api as sm

    x_df = train.reindex(columns=features).astype(float)
    # winsorise at the training window's 1st/99th percentiles: a few extreme books or days-ahead
    # listings otherwise dominate the least-squares fit (the same bounds apply when predicting)
    clip = {
        name: [float(x_df[name].quantile(WINSOR_QUANTILE)), float(x_df[name].quantile(1 - WINSOR_QUANTILE))]
        for name in features
        if x_df[name].notna().any()
    }
    for name, (lo, hi) in clip.items():
        x_df[name] = x_df[name].clip(lo, hi)
    means = {k: (float(v) if pd.notna(v) else 0.0) for k, v in x_df.mean().items()}
    x_df = x_df.fillna(means)
    keep = [c for c in features if x_df[c].std(ddof=0) > 1e-12]
    y = train["target"].to_numpy(dtype=float)
    design = sm.add_constant(x_df[keep].to_numpy(dtype=float), has_constant="add")
    fit = sm.OLS(y, design).fit()
    names = ["const", *keep]
    table = pd.DataFrame(
        {
            "coef": fit.params,
            "std_err": fit.bse,
            "t": fit.tvalues,
            "p_value": fit.pvalues,
        },
        index=names,
    )
    return ClvModel(
        kind=kind,
        market=market,
        features=keep,
        state={
            "coef": dict(zip(names, map(float, fit.params), strict=True)),
            "means": means,
            "clip": {k: v for k, v in clip.items() if k in keep},
        },
        info={
            "coefficients": {name: {k: float(v) for k, v in row.items()} for name, row in table.iterrows()},
            "r2_in_sample": float(fit.rsquared),
            "n_train": len(y),
        },
    )


def _xgb_train(
    params: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    rounds: int,
    valid: tuple[np.ndarray, np.ndarray] | None,
) -> Any:
    import xgboost as xgb

    booster_params = {k: v for k, v in params.items() if k not in ("n_estimators", "n_jobs", "random_state")}
    booster_params |= {
        "objective": "reg:squarederror",
        "nthread": params.get("n_jobs", 2),
        "seed": params.get("random_state", 0),
        "verbosity": 0,
    }
    dtrain = xgb.DMatrix(x, label=y, missing=np.nan)
    if valid is None:
        return xgb.train(booster_params, dtrain, num_boost_round=rounds)
    dvalid = xgb.DMatrix(valid[0], label=valid[1], missing=np.nan)
    return xgb.train(
        booster_params,
        dtrain,
        num_boost_round=rounds,
        evals=[(dvalid, "valid")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )


def fit_xgb(
    train: pd.DataFrame, market: str, features: list[str], params: dict[str, Any], refit: bool = True
) -> ClvModel:
    """An XGBoost model on `features` with `params` (the variants of `odds_analytics.model_variants` too)."""
    # early stopping on the latest 20 % of training events (by tip-off): grouped and forward in time
    events = train.groupby("event_id")["commence_time"].min().sort_values()
    n_valid = max(1, round(len(events) * 0.2)) if len(events) >= 10 else 0
    valid_ids = set(events.index[len(events) - n_valid :]) if n_valid else set()
    fit_part = train[~train["event_id"].isin(valid_ids)]
    valid_part = train[train["event_id"].isin(valid_ids)]
    rounds = int(params.get("n_estimators", 100))
    if n_valid:
        probe = _xgb_train(
            params,
            _matrix(fit_part, features),
            fit_part["target"].to_numpy(float),
            rounds,
            (_matrix(valid_part, features), valid_part["target"].to_numpy(float)),
        )
        best = int(probe.best_iteration) + 1
    else:
        best = rounds
    if refit or not n_valid:
        # refit on the whole window with the number of trees early stopping chose
        booster = _xgb_train(params, _matrix(train, features), train["target"].to_numpy(float), best, None)
    else:  # inside walk-forward folds: keep the early-stopped model (half the cost)
        booster = probe[:best]
    gain = booster.get_score(importance_type="gain")
    importance = {name: float(gain.get(f"f{i}", 0.0)) for i, name in enumerate(features)}
    raw = booster.save_raw(raw_format="json")
    return ClvModel(
        kind="xgboost",
        market=market,
        features=features,
        params={**params, "n_estimators": best},
        state={"booster_json": bytes(raw).decode()},
        info={"importance_gain": importance, "best_iteration": best, "n_train": len(train)},
    )


def fit_model(
    train: pd.DataFrame,
    *,
    kind: str,
    market: str,
    features: list[str] | None = None,
    params: dict[str, Any] | None = None,
    refit: bool = True,
) -> ClvModel:
    """Fit one model kind on rows with a known target. `features` defaults per kind.

    XGBoost early-stops on the latest 20 % of the window's events, then (with `refit`) refits on all of it
    with the chosen number of trees; walk-forward folds skip the refit. The kinds of
    `odds_analytics.model_variants` take their features and tuning from that module.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"kind must be one of {MODEL_KINDS}")
    if kind not in BASE_KINDS:
        from odds_analytics.model_variants import fit_variant

        return fit_variant(train, kind=kind, market=market, refit=refit)
    train = train[train["target"].notna()]
    if kind == "no_change":
        return ClvModel(kind=kind, market=market, features=[], info={"n_train": len(train)})
    if train.empty:
        raise ValueError("no training rows with a known target")
    if kind == "consensus_ols":
        return _fit_ols(train, market, consensus_ols_features(), kind)
    if kind == "ols":
        return _fit_ols(train, market, list(features or OLS_FEATURES), kind)
    from odds_analytics.features import LEGACY_FEATURES

    return fit_xgb(train, market, list(features or LEGACY_FEATURES), {**XGB_PARAMS, **(params or {})}, refit)


def predict(model: ClvModel, data: pd.DataFrame) -> np.ndarray:
    """Predicted move (close minus current) for each row of `data`."""
    if model.kind == "no_change" or data.empty:
        return np.zeros(len(data))
    if "members" in model.state:  # an ensemble: the weighted mean of its members' predictions
        members = [model_from_dict(m) for m in model.state["members"]]
        weights = model.state["weights"]
        return sum((w * predict(m, data) for w, m in zip(weights, members, strict=True)), np.zeros(len(data)))
    if "coef" in model.state:  # every linear kind: intercept + coefficients on the raw (clipped) scale
        coef = model.state["coef"]
        x = _matrix(data, model.features, model.state["means"], model.state.get("clip"))
        return coef["const"] + x @ np.array([coef[name] for name in model.features])
    if "booster_json" in model.state:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(model.state["booster_json"].encode()))
        return booster.predict(xgb.DMatrix(_matrix(data, model.features), missing=np.nan))
    raise ValueError(f"unknown model kind {model.kind!r}")


# ------------------------------------------------------------------------------------------------------
# Metrics
# ------------------------------------------------------------------------------------------------------


def metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, threshold: float, act_threshold: float | None = None
) -> dict[str, float]:
    """R², RMSE, MAE, directional accuracy, Spearman, skill against no change, and CLV captured.

    - r2 is 1 - SSE / SST around the mean of `y_true` (so "no change" scores slightly below 0).
    - skill_vs_no_change is 1 - MSE / mean(y²): the share of the no-change squared error removed.
    - directional_accuracy counts moves with |y| >= `threshold`; a prediction of exactly 0 calls no
      direction and scores 1/2 (a coin flip), so the no-change baseline is 0.5 by construction.
    - clv_captured: acting on samples with |prediction| >= `act_threshold` (default `threshold` / 2) on the
      predicted side, the mean realised move in our favour (target units), with the number of actions.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    n = len(y)
    if n == 0:
        return {
            "n": 0,
            "r2": np.nan,
            "rmse": np.nan,
            "mae": np.nan,
            "directional_accuracy": np.nan,
            "n_moves": 0,
            "spearman": np.nan,
            "skill_vs_no_change": np.nan,
            "clv_captured": np.nan,
            "n_acted": 0,
        }
    err = y - p
    sse = float(np.sum(err**2))
    sst = float(np.sum((y - y.mean()) ** 2))
    moves = np.abs(y) >= threshold
    if moves.any():
        hit = np.where(p[moves] == 0, 0.5, (np.sign(p[moves]) == np.sign(y[moves])).astype(float))
        direction = float(hit.mean())
    else:
        direction = np.nan
    spearman = np.nan
    if n > 2 and np.std(p) > 0 and np.std(y) > 0:
        from scipy.stats import spearmanr

        spearman = float(spearmanr(p, y).statistic)
    act_at = threshold / 2 if act_threshold is None else act_threshold
    acted = np.abs(p) >= act_at
    acted &= p != 0
    clv = float(np.mean(np.sign(p[acted]) * y[acted])) if acted.any() else np.nan
    mse_zero = float(np.mean(y**2))
    return {
        "n": int(n),
        "r2": 1.0 - sse / sst if sst > 0 else np.nan,
        "rmse": float(np.sqrt(sse / n)),
        "mae": float(np.mean(np.abs(err))),
        "directional_accuracy": direction,
        "n_moves": int(moves.sum()),
        "spearman": spearman,
        "skill_vs_no_change": 1.0 - (sse / n) / mse_zero if mse_zero > 0 else np.nan,
        "clv_captured": clv,
        "n_acted": int(acted.sum()),
    }


def skill_interval(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: np.ndarray,
    *,
    n_boot: int = 500,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap interval of `skill_vs_no_change`, resampling whole groups (events), as (low, high).

    Samples of one game are correlated (several decisions, one close), so games are the unit resampled.
    """
    y = np.asarray(y_true, dtype=float)
    p = np.asarray(y_pred, dtype=float)
    codes, index = np.unique(np.asarray(groups), return_inverse=True)
    if len(codes) < 2:
        return (np.nan, np.nan)
    err = np.bincount(index, weights=(y - p) ** 2, minlength=len(codes))
    base = np.bincount(index, weights=y**2, minlength=len(codes))
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(codes), size=(n_boot, len(codes)))
    e, b = err[draws].sum(axis=1), base[draws].sum(axis=1)
    skill = 1.0 - e / np.where(b > 0, b, np.nan)
    tail = (1.0 - level) / 2
    return (float(np.nanquantile(skill, tail)), float(np.nanquantile(skill, 1 - tail)))


def calibration_table(y_true: np.ndarray, y_pred: np.ndarray, *, bins: int = 10) -> pd.DataFrame:
    """Predicted against realised move by prediction quantile: bin, n, mean_predicted, mean_realised."""
    df = pd.DataFrame({"pred": np.asarray(y_pred, float), "real": np.asarray(y_true, float)})
    if df.empty or df["pred"].nunique() < 2:
        return pd.DataFrame(
            {
                "bin": [0],
                "n": [len(df)],
                "mean_predicted": [df["pred"].mean()],
                "mean_realised": [df["real"].mean()],
            }
        )
    df["bin"] = pd.qcut(df["pred"].rank(method="first"), q=min(bins, len(df)), labels=False)
    out = df.groupby("bin").agg(
        n=("pred", "size"), mean_predicted=("pred", "mean"), mean_realised=("real", "mean")
    )
    return out.reset_index()


# ------------------------------------------------------------------------------------------------------
# Walk-forward validation
# ------------------------------------------------------------------------------------------------------


def walk_forward_folds(
    data: pd.DataFrame,
    *,
    n_folds: int = 5,
    scheme: Literal["expanding", "sliding"] = "expanding",
    window_days: float = 60.0,
    min_train_events: int = 30,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_index, test_index) pairs, walk-forward by tip-off date and grouped by event.

    Events are ordered by tip-off and cut into `n_folds + 1` consecutive blocks of tip-off dates; block k
    (k >= 1) is tested. Its training set is every event that tipped off before the block's first decision
    time (expanding), or only those within `window_days` before it (sliding). Events never straddle.
    """
    if data.empty:
        return []
    first_tip = data.groupby("event_id")["commence_time"].min()
    days = first_tip.dt.floor("D")
    unique_days = np.sort(days.unique())
    if len(unique_days) < n_folds + 1:
        n_folds = max(1, len(unique_days) - 1)
    blocks = np.array_split(unique_days, n_folds + 1)
    folds = []
    for block in blocks[1:]:
        if len(block) == 0:
            continue
        test_events = days.index[(days >= block[0]) & (days <= block[-1])]
        test_mask = data["event_id"].isin(test_events).to_numpy()
        start = data.loc[test_mask, "decision_time"].min()
        tips = data["commence_time"]
        train_mask = (tips < start).to_numpy() & ~test_mask
        if scheme == "sliding":
            train_mask &= (tips >= start - timedelta(days=window_days)).to_numpy()
        if data.loc[train_mask, "event_id"].nunique() < min_train_events:
            continue
        folds.append((np.flatnonzero(train_mask), np.flatnonzero(test_mask)))
    return folds


@dataclass
class WalkForwardResult:
    """Out-of-sample predictions of every model, and the metrics computed on them."""

    market: str
    scheme: str
    predictions: pd.DataFrame  # event_id, decision_time, target, fold, pred_<kind>...
    metrics: dict[str, dict[str, float]]
    calibration: dict[str, pd.DataFrame]
    importance: dict[str, float]
    coefficients: dict[str, dict[str, float]]

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(self.metrics).T


def walk_forward(
    data: pd.DataFrame,
    *,
    market: str,
    kinds: tuple[str, ...] = MODEL_KINDS,
    n_folds: int = 5,
    scheme: Literal["expanding", "sliding"] = "expanding",
    window_days: float = 60.0,
    threshold: float | None = None,
    min_train_events: int = 30,
) -> WalkForwardResult:
    """Fit every model kind on each fold's past and score it on the fold; metrics over all test rows."""
    threshold = DEFAULT_THRESHOLDS[market] if threshold is None else threshold
    data = data[data["target"].notna()].reset_index(drop=True)
    folds = walk_forward_folds(
        data, n_folds=n_folds, scheme=scheme, window_days=window_days, min_train_events=min_train_events
    )
    parts = []
    importance: dict[str, list[float]] = {}
    coefficients: dict[str, list[float]] = {}
    for k, (train_idx, test_idx) in enumerate(folds):
        train, test = data.iloc[train_idx], data.iloc[test_idx]
        out = test[["event_id", "decision_time", "target"]].copy()
        out["fold"] = k
        for kind in kinds:
            model = fit_model(train, kind=kind, market=market, refit=False)  # type: ignore[arg-type]
            out[f"pred_{kind}"] = predict(model, test)
            if kind == "xgboost":
                for name, value in model.info.get("importance_gain", {}).items():
                    importance.setdefault(name, []).append(value)
            if kind == "ols":
                for name, row in model.info.get("coefficients", {}).items():
                    coefficients.setdefault(name, []).append(row["coef"])
        parts.append(out)
    preds = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["target"])
    result_metrics = {}
    calibration = {}
    for kind in kinds:
        column = f"pred_{kind}"
        y = preds["target"].to_numpy(dtype=float)
        p = preds[column].to_numpy(dtype=float) if column in preds.columns else np.zeros(len(preds))
        result_metrics[kind] = metrics(y, p, threshold=threshold)
        # the gate (`odds_analytics.model_gate`) needs the interval of the skill, games resampled
        groups = preds["event_id"].to_numpy() if "event_id" in preds.columns else np.array([])
        low, high = skill_interval(y, p, groups) if len(y) else (np.nan, np.nan)
        result_metrics[kind]["skill_ci95"] = [low, high]
        calibration[kind] = calibration_table(y, p)
    result_metrics_meta = {"folds": len(folds), "threshold": threshold}
    for value in result_metrics.values():
        value.update(result_metrics_meta)
    return WalkForwardResult(
        market=market,
        scheme=scheme,
        predictions=preds,
        metrics=result_metrics,
        calibration=calibration,
        importance={
            k: float(np.mean(v)) for k, v in sorted(importance.items(), key=lambda kv: -np.mean(kv[1]))
        },
        coefficients={k: {"mean_coef": float(np.mean(v)), "folds": len(v)} for k, v in coefficients.items()},
    )
