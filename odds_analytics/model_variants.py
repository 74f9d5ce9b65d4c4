"""The second-generation CLV model kinds (issue 18): shrunk and regularised linear fits, a shallow
monotone XGBoost, and their ensemble (pure).

Every kind predicts `target` (close − current) like the first ones in `clv_model.py`, is fitted on the
training window only, and tunes its one hyperparameter with **time-ordered CV inside that window**
(`inner_folds`: the window's events cut by tip-off date into blocks, each validated on a model trained on
the events that tipped off before it, as `walk_forward_folds` does). Linear kinds store plain coefficients
on the raw feature scale, so `clv_model.predict` scores them like the OLS.

| kind | what |
|---|---|
| `ols_ext` | OLS on `EXT_FEATURES` (the six OLS features + fair-line gap, sharp fair-line gap, drift prior, missing-path flag) |
| `ols_shrunk` | the same OLS with every coefficient times c in [0, 1]; c minimises the inner-CV squared error |
| `ridge` | ridge on the standardised `FULL_FEATURES`, penalty by inner CV |
| `ridge_books` | ridge on `FULL_FEATURES` + each book's fair line minus the consensus (per-book lead) |
| `enet_books` | elastic net (L1 ratio ½) on the same columns, penalty by inner CV |
| `xgb_mono` | XGBoost on `FULL_FEATURES`, depth 2, monotone where the sign is known (`MONOTONE`) |
| `ols_xgb` | the mean of `ols_ext` and `xgb_mono` |

Missing values: the new features are deviations or flags, so NaN becomes 0 ("no information") after
winsorising at the window's 1st/99th percentiles; a flag (`path_missing`) tells the models when the
open-to-now features are missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from odds_analytics.clv_model import (
    OLS_FEATURES,
    WINSOR_QUANTILE,
    XGB_PARAMS,
    ClvModel,
    walk_forward_folds,
)
from odds_analytics.features import book_deviation_columns

__all__ = [
    "EXT_FEATURES",
    "FULL_FEATURES",
    "MONOTONE",
    "VARIANT_KINDS",
    "XGB_MONO_PARAMS",
    "fit_variant",
    "inner_folds",
]

VARIANT_KINDS = ("ols_ext", "ols_shrunk", "ridge", "ridge_books", "enet_books", "xgb_mono", "ols_xgb")
EXT_FEATURES = [*OLS_FEATURES, "fair_line_gap", "sharp_fair_gap", "prior_drift", "path_missing"]
FULL_FEATURES = [
    *EXT_FEATURES,
    "open_to_now_per_hour",
    "velocity_per_hour",
    "b2b_home",
    "b2b_away",
    "rest_diff",
    "consensus",
    "book_std",
    "overround",
]
# the sign of the effect where theory gives it (+1 the close moves with the feature, -1 against it)
MONOTONE: dict[str, dict[str, int]] = {
    "spreads": {
        "cross_market_gap": 1,
        "price_skew": -1,
        "retail_minus_sharp": -1,
        "mean_minus_median": 1,
        "fair_line_gap": 1,
        "sharp_fair_gap": 1,
        "prior_drift": 1,
    },
    "totals": {
        "price_skew": 1,
        "retail_minus_sharp": -1,
        "mean_minus_median": 1,
        "fair_line_gap": 1,
        "sharp_fair_gap": 1,
        "prior_drift": 1,
    },
    "h2h": {"cross_market_gap": 1, "retail_minus_sharp": -1, "mean_minus_median": 1, "sharp_fair_gap": 1},
}
XGB_MONO_PARAMS: dict[str, Any] = {**XGB_PARAMS, "max_depth": 2}
RIDGE_GRID = tuple(float(a) for a in np.logspace(-3, 1, 9))  # penalty per row, standardised features
ENET_GRID = tuple(float(a) for a in np.logspace(-3.5, -0.5, 7))
ENET_L1_RATIO = 0.5
INNER_FOLDS = 3
# a book's deviation column enters only when the book quotes at least this share of the training rows
MIN_BOOK_SHARE = 0.1


def inner_folds(train: pd.DataFrame, n_folds: int = INNER_FOLDS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Time-ordered CV folds inside a training window (positions into `train`)."""
    return walk_forward_folds(train.reset_index(drop=True), n_folds=n_folds, min_train_events=20)


# ------------------------------------------------------------------------------------------------------
# Design matrices
# ------------------------------------------------------------------------------------------------------


def _usable(train: pd.DataFrame, features: list[str]) -> list[str]:
    """Features that vary in the window once NaN is 0 (all-NaN or constant columns drop out)."""
    x = train.reindex(columns=features).astype(float).fillna(0.0)
    return [c for c in features if x[c].std(ddof=0) > 1e-12]


def _clip_bounds(train: pd.DataFrame, features: list[str]) -> dict[str, list[float]]:
    x = train.reindex(columns=features).astype(float)
    return {
        c: [float(x[c].quantile(WINSOR_QUANTILE)), float(x[c].quantile(1 - WINSOR_QUANTILE))]
        for c in features
        if x[c].notna().any()
    }


def _design(data: pd.DataFrame, features: list[str], clip: dict[str, list[float]]) -> np.ndarray:
    x = data.reindex(columns=features).astype(float)
    for name, (lo, hi) in clip.items():
        if name in x.columns:
            x[name] = x[name].clip(lo, hi)
    return x.fillna(0.0).to_numpy(dtype=float)


def _book_columns(train: pd.DataFrame) -> list[str]:
    devs = book_deviation_columns(train)
    share = train.reindex(columns=devs).notna().mean()
    return [c for c in devs if share.get(c, 0.0) >= MIN_BOOK_SHARE]


# ------------------------------------------------------------------------------------------------------
# Linear fits: OLS, ridge, elastic net, on standardised columns, mapped back to the raw scale
# ------------------------------------------------------------------------------------------------------


def _standardise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    sd = np.where(sd > 1e-12, sd, 1.0)
    return (x - mean) / sd, mean, sd


def _solve(x: np.ndarray, y: np.ndarray, method: str, alpha: float) -> tuple[float, np.ndarray]:
    """(intercept, coefficients) on the raw scale of `x`, penalty `alpha` per row on standardised x."""
    if x.shape[1] == 0:
        return float(y.mean()), np.zeros(0)
    z, mean, sd = _standardise(x)
    yc = y - y.mean()
    n = len(y)
    if method == "ols":
        beta, *_ = np.linalg.lstsq(z, yc, rcond=None)
    elif method == "ridge":
        beta = np.linalg.solve(z.T @ z + n * alpha * np.eye(z.shape[1]), z.T @ yc)
    elif method == "enet":
        beta = _enet(z, yc, alpha, ENET_L1_RATIO)
    else:
        raise ValueError(f"unknown linear method {method!r}")
    coef = beta / sd
    return float(y.mean() - mean @ coef), coef


def _enet(z: np.ndarray, y: np.ndarray, alpha: float, l1_ratio: float, iters: int = 500) -> np.ndarray:
    """Coordinate descent for 1/(2n)|y - zb|² + alpha (l1_ratio |b|₁ + (1 - l1_ratio)/2 |b|²)."""
    n, p = z.shape
    beta = np.zeros(p)
    col_sq = (z**2).sum(axis=0) / n
    resid = y.copy()
    l1 = alpha * l1_ratio
    l2 = alpha * (1.0 - l1_ratio)
    for _ in range(iters):
        biggest = 0.0
        for j in range(p):
            old = beta[j]
            rho = z[:, j] @ resid / n + col_sq[j] * old
            new = np.sign(rho) * max(abs(rho) - l1, 0.0) / (col_sq[j] + l2)
            if new != old:
                resid -= z[:, j] * (new - old)
                beta[j] = new
                biggest = max(biggest, abs(new - old))
        if biggest < 1e-7:
            break
    return beta


def _cv_error(train: pd.DataFrame, features: list[str], method: str, alphas: tuple[float, ...]) -> np.ndarray:
    """Pooled inner-CV squared error of each penalty (rows: alphas)."""
    folds = inner_folds(train)
    errors = np.zeros(len(alphas))
    if not folds:
        return np.full(len(alphas), np.nan)
    data = train.reset_index(drop=True)
    for fit_idx, valid_idx in folds:
        part, valid = data.iloc[fit_idx], data.iloc[valid_idx]
        keep = _usable(part, features)
        clip = _clip_bounds(part, keep)
        x, xv = _design(part, keep, clip), _design(valid, keep, clip)
        y, yv = part["target"].to_numpy(float), valid["target"].to_numpy(float)
        for i, alpha in enumerate(alphas):
            const, coef = _solve(x, y, method, alpha)
            errors[i] += float(np.sum((yv - const - xv @ coef) ** 2))
    return errors


def _shrink_factor(train: pd.DataFrame, features: list[str]) -> float | None:
    """c in [0, 1] minimising the pooled inner-CV error of c × (OLS prediction); None without folds."""
    folds = inner_folds(train)
    if not folds:
        return None
    data = train.reset_index(drop=True)
    num = den = 0.0
    for fit_idx, valid_idx in folds:
        part, valid = data.iloc[fit_idx], data.iloc[valid_idx]
        keep = _usable(part, features)
        clip = _clip_bounds(part, keep)
        const, coef = _solve(_design(part, keep, clip), part["target"].to_numpy(float), "ols", 0.0)
        pred = const + _design(valid, keep, clip) @ coef
        num += float(pred @ valid["target"].to_numpy(float))
        den += float(pred @ pred)
    return float(np.clip(num / den, 0.0, 1.0)) if den > 0 else 0.0


def _linear_model(
    kind: str,
    market: str,
    train: pd.DataFrame,
    features: list[str],
    *,
    method: str,
    alpha: float,
    shrink: float = 1.0,
    info: dict[str, Any] | None = None,
) -> ClvModel:
    keep = _usable(train, features)
    clip = _clip_bounds(train, keep)
    const, coef = _solve(_design(train, keep, clip), train["target"].to_numpy(float), method, alpha)
    const, coef = const * shrink, coef * shrink
    names = ["const", *keep]
    values = [const, *map(float, coef)]
    return ClvModel(
        kind=kind,
        market=market,
        features=keep,
        params={"method": method, "alpha": alpha, "shrink": shrink},
        state={
            "coef": dict(zip(names, values, strict=True)),
            "means": dict.fromkeys(keep, 0.0),
            "clip": {k: v for k, v in clip.items() if k in keep},
        },
        info={
            "coefficients": {n: {"coef": float(v)} for n, v in zip(names, values, strict=True)},
            "n_train": len(train),
            **(info or {}),
        },
    )


def _pick(alphas: tuple[float, ...], errors: np.ndarray, default: float) -> float:
    if not np.isfinite(errors).any():
        return default
    return float(alphas[int(np.nanargmin(errors))])


def _fit_regularised(
    kind: str, market: str, train: pd.DataFrame, features: list[str], method: str
) -> ClvModel:
    grid = RIDGE_GRID if method == "ridge" else ENET_GRID
    errors = _cv_error(train, features, method, grid)
    alpha = _pick(grid, errors, grid[len(grid) // 2])
    cv = {f"{a:.4g}": (float(e) if np.isfinite(e) else None) for a, e in zip(grid, errors, strict=True)}
    return _linear_model(kind, market, train, features, method=method, alpha=alpha, info={"cv_sse": cv})


# ------------------------------------------------------------------------------------------------------
# Shallow monotone XGBoost and the ensemble
# ------------------------------------------------------------------------------------------------------


def _fit_xgb_mono(train: pd.DataFrame, market: str, refit: bool) -> ClvModel:
    from odds_analytics.clv_model import fit_xgb

    signs = MONOTONE[market]
    constraints = "(" + ",".join(str(signs.get(f, 0)) for f in FULL_FEATURES) + ")"
    model = fit_xgb(
        train, market, list(FULL_FEATURES), {**XGB_MONO_PARAMS, "monotone_constraints": constraints}, refit
    )
    model.kind = "xgb_mono"
    return model


def fit_variant(train: pd.DataFrame, *, kind: str, market: str, refit: bool = True) -> ClvModel:
    """Fit one of `VARIANT_KINDS` on rows with a known target (see the module docstring)."""
    if kind not in VARIANT_KINDS:
        raise ValueError(f"kind must be one of {VARIANT_KINDS}")
    train = train[train["target"].notna()].reset_index(drop=True)
    if train.empty:
        raise ValueError("no training rows with a known target")
    if kind == "ols_ext":
        return _linear_model(kind, market, train, list(EXT_FEATURES), method="ols", alpha=0.0)
    if kind == "ols_shrunk":
        shrink = _shrink_factor(train, list(EXT_FEATURES))
        chosen = 0.5 if shrink is None else shrink  # no fold to tune on: halfway to no change
        return _linear_model(
            kind,
            market,
            train,
            list(EXT_FEATURES),
            method="ols",
            alpha=0.0,
            shrink=chosen,
            info={"cv_shrink": shrink},
        )
    if kind == "ridge":
        return _fit_regularised(kind, market, train, list(FULL_FEATURES), "ridge")
    if kind in ("ridge_books", "enet_books"):
        features = [*FULL_FEATURES, *_book_columns(train)]
        return _fit_regularised(kind, market, train, features, "ridge" if kind == "ridge_books" else "enet")
    if kind == "xgb_mono":
        return _fit_xgb_mono(train, market, refit)
    # ols_xgb: the mean of the extended OLS and the monotone XGBoost
    members = [fit_variant(train, kind="ols_ext", market=market), _fit_xgb_mono(train, market, refit)]
    return ClvModel(
        kind=kind,
        market=market,
        features=sorted({f for m in members for f in m.features}),
        params={"weights": [0.5, 0.5]},
        state={"members": [m.to_dict() for m in members], "weights": [0.5, 0.5]},
        info={
            "coefficients": members[0].info["coefficients"],
            "importance_gain": members[1].info["importance_gain"],
            "n_train": len(train),
        },
    )
