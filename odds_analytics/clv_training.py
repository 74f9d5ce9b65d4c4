"""Training, scoring and prediction rows of the CLV models (pure: the flows in `flows/model.py` use these).

- `train_and_select`: walk-forward validation of every model kind, each refitted on the whole window; the
  kind that passes the gate (`odds_analytics.model_gate`: skill and the lower end of its 95 % interval above
  0) with the highest lower end is marked `selected`, the candidate for promotion; when none passes, the
  no-change baseline is `selected` and the summary says "no validated model". Training never promotes.
- `score_model`: a model's out-of-sample figures against the no-change baseline.
- `prediction_rows`, `latest_quotes`: what `predict` writes and the prices it recommends against.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from odds_analytics.clv_model import (
    DEFAULT_THRESHOLDS,
    MODEL_KINDS,
    ClvModel,
    calibration_table,
    fit_model,
    metrics,
    skill_interval,
    walk_forward,
)
from odds_analytics.clv_model import predict as model_predict
from odds_analytics.features import book_quotes, feature_columns
from odds_analytics.jsonsafe import json_safe
from odds_analytics.model_gate import choose_candidate, gate
from odds_analytics.recommend import side_values
from odds_analytics.staleness import fresh_quotes
from odds_models import progress
from odds_models.errors import OddsPipelineError

__all__ = [
    "SCORE_KEYS",
    "ModelEntry",
    "NotEnoughData",
    "TrainConfig",
    "artifact_row",
    "bettable_prices",
    "latest_quotes",
    "model_headline",
    "model_skill",
    "prediction_rows",
    "recommendation_record",
    "score_model",
    "train_and_select",
    "training_table",
]


class NotEnoughData(OddsPipelineError):
    """Too few events with a closing line to train on."""


class TrainConfig(BaseModel):
    """Walk-forward settings of a training run."""

    n_folds: int = Field(default=5, ge=1, le=50, description="Walk-forward test blocks.")
    scheme: str = Field(default="expanding", pattern="^(expanding|sliding)$", description="Training window.")
    window_days: float = Field(default=60.0, gt=0, description="Sliding window length, days.")
    min_train_events: int = Field(default=20, ge=2, description="Skip folds with fewer training events.")
    kinds: tuple[str, ...] | None = Field(
        default=None,
        description="Model kinds to validate and register (default: every kind of MODEL_KINDS); the "
        "no-change baseline and `ols` (the fallback when nothing validates) are always included.",
    )

    def model_kinds(self) -> tuple[str, ...]:
        if self.kinds is None:
            return MODEL_KINDS
        unknown = sorted(set(self.kinds) - set(MODEL_KINDS))
        if unknown:
            raise ValueError(f"unknown model kind(s) {unknown}; kinds are {MODEL_KINDS}")
        wanted = {"no_change", "ols", *self.kinds}
        return tuple(k for k in MODEL_KINDS if k in wanted)


@dataclass
class ModelEntry:
    """A model to register: the fitted model plus its data window and walk-forward metrics."""

    model: ClvModel
    data_from: datetime | None
    data_until: datetime | None
    metrics: dict[str, Any] = field(default_factory=dict)
    selected: bool = False

    @property
    def name(self) -> str:
        return f"clv-{self.model.market}-{self.model.kind}"

    @property
    def version(self) -> str:
        return self.model.fingerprint()


def train_and_select(
    data: pd.DataFrame, market: str, config: TrainConfig
) -> tuple[list[ModelEntry], dict[str, Any], pd.DataFrame]:
    """Walk-forward every model kind, refit each on the whole window, pick the best out of sample."""
    data = data[data["target"].notna()]
    if data["event_id"].nunique() < 5:
        raise NotEnoughData(
            f"only {data['event_id'].nunique()} events with a closing line for {market}: "
            "import closing lines or collect more snapshots"
        )
    kinds = config.model_kinds()
    result = walk_forward(
        data,
        market=market,
        kinds=kinds,
        n_folds=config.n_folds,
        scheme=config.scheme,  # type: ignore[arg-type]
        window_days=config.window_days,
        min_train_events=config.min_train_events,
    )
    validated = result.metrics["no_change"]["folds"] > 0
    verdicts = {kind: gate({"kind": kind, **result.metrics[kind]}) for kind in kinds}
    candidate = choose_candidate(result.metrics)
    # No kind passes the gate: the no-change baseline is "selected" (it publishes no pick); never a model
    # without out-of-sample evidence, never "lowest RMSE by any margin".
    selected = candidate or "no_change"
    window = (data["commence_time"].min().to_pydatetime(), data["commence_time"].max().to_pydatetime())
    entries = []
    refit = progress.begin(f"refit {market}", total=len(kinds), unit="models")
    for kind in kinds:
        model = fit_model(data, kind=kind, market=market)  # type: ignore[arg-type]
        refit.advance(kind)
        entries.append(
            ModelEntry(
                model=model,
                data_from=window[0],
                data_until=window[1],
                metrics={
                    "walk_forward": result.metrics[kind],
                    "baseline": result.metrics["no_change"],
                    "validated": validated,
                    "gate": verdicts[kind].as_dict(),
                    "scheme": config.scheme,
                    "n_samples": len(data),
                    "n_events": int(data["event_id"].nunique()),
                    "calibration": result.calibration[kind].to_dict(orient="list"),
                    "importance": result.importance if kind == "xgboost" else {},
                    "coefficients": model.info.get("coefficients", {}),
                },
                selected=kind == selected,
            )
        )
    summary = {
        "market": market,
        "selected": selected,
        "validated": validated,
        "gate": verdicts[selected].as_dict(),
        "candidate": candidate,
        "n_samples": len(data),
        "walk_forward": result.metrics,
        "importance": dict(list(result.importance.items())[:10]),
    }
    column = f"pred_{selected}"
    if not validated or column not in result.predictions.columns:
        # too little history for a single walk-forward fold: no out-of-sample predictions to store
        return entries, summary, data.iloc[0:0].assign(predicted=pd.Series(dtype=float))
    oos = result.predictions[["event_id", "decision_time", column]].rename(columns={column: "predicted"})
    oos = data.merge(oos, on=["event_id", "decision_time"], how="inner")
    return entries, summary, oos


def training_table(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model kind: its walk-forward figures against the no-change baseline."""
    rows = []
    for kind, raw in (summary.get("walk_forward") or {}).items():
        figures = raw if isinstance(raw, dict) else {}
        rows.append(
            {
                "model": kind,
                "selected": kind == summary.get("selected"),
                **{
                    k: figures.get(k)
                    for k in ("n", "r2", "rmse", "mae", "directional_accuracy", "skill_vs_no_change", "folds")
                },
                "skill_ci95": figures.get("skill_ci95"),
                "clv_captured": figures.get("clv_captured"),
                "n_acted": figures.get("n_acted"),
                "gate": gate({"kind": kind, **figures}).reason,
            }
        )
    return rows


# the out-of-sample figures `score_model` reports (and `benchmarks/model_real_data.py` prints)
SCORE_KEYS = ("n", "r2", "rmse", "mae", "directional_accuracy", "n_moves", "spearman", "skill_vs_no_change", "clv_captured",
              "n_acted")  # fmt: skip


def score_model(model: ClvModel, data: pd.DataFrame, market: str) -> dict[str, Any]:
    """A model's out-of-sample figures on `data`, with the no-change baseline under `baseline`."""
    data = data[data["target"].notna()]
    y = data["target"].to_numpy(dtype=float)
    threshold = DEFAULT_THRESHOLDS[market]
    predicted = model_predict(model, data)
    figures = metrics(y, predicted, threshold=threshold)
    base = metrics(y, np.zeros(len(y)), threshold=threshold)
    out: dict[str, Any] = {k: json_safe(figures[k]) for k in SCORE_KEYS}
    out["baseline"] = {k: json_safe(base[k]) for k in ("n", "r2", "rmse", "mae", "directional_accuracy")}
    low, high = skill_interval(y, predicted, data["event_id"].to_numpy())
    out["skill_ci95"] = [json_safe(low), json_safe(high)]
    out["threshold"] = threshold
    out["calibration"] = json_safe(calibration_table(y, predicted).to_dict(orient="list"))
    return out


# --------------------------------------------------------------------------------------------------------
# Predict and recommend
# --------------------------------------------------------------------------------------------------------


def prediction_rows(
    model_id: int,
    data: pd.DataFrame,
    predicted: np.ndarray,
    recs: pd.DataFrame | None = None,
    *,
    with_features: bool = True,
) -> list[dict[str, Any]]:
    """`predictions` rows: one per side in the side's own orientation (see `recommend.side_values`),
    with that side's best venue, expected CLV (probability) and expected return when `recs` has them."""
    best = {}
    if recs is not None and not recs.empty:
        best = {(r.event_id, r.outcome): r for r in recs.itertuples(index=False)}
    rows = []
    for sample, delta in zip(data.to_dict(orient="records"), predicted, strict=True):
        feats = None
        if with_features:
            feats = {
                k: (None if pd.isna(sample[k]) else float(sample[k]))
                for k in feature_columns(sample["market"])
            }
        sides = side_values(
            sample["market"], sample["home_team"], sample["away_team"], float(sample["current"]), float(delta)
        )
        for _side, outcome, current, close in sides:
            rec = best.get((sample["event_id"], outcome))
            rows.append(
                {
                    "model_id": model_id,
                    "event_id": sample["event_id"],
                    "market": sample["market"],
                    "outcome": outcome,
                    "decision_time": pd.Timestamp(sample["decision_time"]).to_pydatetime(),
                    "current_value": current,
                    "predicted_delta": close - current,
                    "predicted_close": close,
                    "best_venue": rec.best_venue if rec is not None else None,
                    "best_price_decimal": float(rec.best_price_decimal) if rec is not None else None,
                    "expected_clv": float(rec.expected_clv) if rec is not None else None,
                    "exp_return": float(rec.exp_return) if rec is not None else None,
                    "features": feats,
                }
            )
    return rows


def latest_quotes(
    odds: pd.DataFrame, events: pd.DataFrame, decision_time: datetime, devig_method: str
) -> pd.DataFrame:
    """Each book's latest two-way quote strictly before the decision (what can be bet now)."""
    quotes = book_quotes(odds, events, devig_method=devig_method)
    quotes = quotes[quotes["snapshot_time"] < pd.Timestamp(decision_time)]
    return (
        quotes.sort_values("snapshot_time")
        .groupby(["event_id", "market", "bookmaker"], as_index=False)
        .tail(1)
    )


def bettable_prices(
    odds: pd.DataFrame,
    events: pd.DataFrame,
    asks: pd.DataFrame | None,
    decision_time: datetime,
    *,
    devig_method: str,
    max_age: timedelta,
) -> tuple[pd.DataFrame, pd.DataFrame | None, int]:
    """What a live pick may be bet at: each book's latest quote and each Polymarket ask, both no older than
    `max_age` at the decision (`odds_analytics.staleness`); returns (quotes, asks, how many were too old)."""
    quotes, stale = fresh_quotes(
        latest_quotes(odds, events, decision_time, devig_method), max_age, decision_time
    )
    if asks is not None and not asks.empty:
        asks, stale_pm = fresh_quotes(asks, max_age, decision_time)
        stale += stale_pm
    return quotes, asks, stale


def recommendation_record(row: dict[str, Any]) -> dict[str, Any]:
    """A recommendation row as plain Python values (timestamps as datetimes, NaN as None)."""
    out = {}
    for key, value in row.items():
        if isinstance(value, pd.Timestamp):
            out[key] = value.to_pydatetime()
        elif isinstance(value, float | np.floating) and not np.isfinite(value):
            out[key] = None
        else:
            out[key] = value.item() if hasattr(value, "item") else value
    return out


def artifact_row(rec: dict[str, Any]) -> dict[str, Any]:
    """A recommendation as a row of the `clv-recommendations` table artifact, for a bettor: rounded prices,
    probabilities and CLV as percentages, the tip-off time, and the model with its out-of-sample skill."""
    point = rec.get("best_point")
    tip = rec.get("commence_time")
    skill = rec.get("model_skill")
    return {
        "game": f"{rec.get('away_team')} @ {rec.get('home_team')}",
        "tip-off (UTC)": f"{tip:%a %d %b %H:%M}" if hasattr(tip, "strftime") else "",
        "market": rec["market"],
        "side": rec["outcome"]
        + (
            f" {point:+g}"
            if point is not None and rec["market"] == "spreads"
            else (f" {point:g}" if point is not None else "")
        ),
        "venue": rec["best_venue"],
        "price": round(rec["best_price_decimal"], 2),
        "win chance now": _pct(rec.get("current")),
        "predicted at close": _pct(rec.get("predicted_close")),
        "expected CLV (pp)": f"{rec['expected_clv'] * 100:+.2f}",
        "expected return": f"{rec['exp_return']:+.1%}",
        "model": (
            f"{rec.get('model') or rec.get('model_id', '')}"
            + (f" (skill {skill:+.1%} vs no change)" if isinstance(skill, int | float) else "")
        ),
    }


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) and math.isfinite(value) else ""


def model_skill(metrics: dict[str, Any] | None) -> float | None:
    """A registered model's out-of-sample skill against no change (walk-forward), or None."""
    figures = (metrics or {}).get("walk_forward") or {}
    value = figures.get("skill_vs_no_change") if isinstance(figures, dict) else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def model_headline(figures: dict[str, Any]) -> str:
    """A model's walk-forward figures for a log line, rounded: `n 1,204, R² 0.081, RMSE 0.0213, ...`."""

    def num(key: str, fmt: str) -> str:
        value = figures.get(key)
        if not isinstance(value, int | float) or math.isnan(value):
            return "n/a"
        return format(value, fmt)

    return (f"n {num('n', ',')}, R² {num('r2', '.3f')}, RMSE {num('rmse', '.4f')}, "
            f"direction right {num('directional_accuracy', '.0%')}, skill vs no change {num('skill_vs_no_change', '+.1%')}")  # fmt: skip
