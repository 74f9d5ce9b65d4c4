"""CLV model flows: train (walk-forward, register), evaluate out of sample, predict and recommend.

- `train_model(market, until)`: the dataset of every event before `until`, walk-forward validation of the
  no-change baseline, the consensus-only OLS, the feature OLS and XGBoost, then each refitted on the whole
  window and registered (table `models`, JSON file under the models folder); the one with the lowest
  out-of-sample squared error is marked `selected` (it can be the no-change baseline: then we say so).
- `evaluate_model(market, date_from, date_to)`: the latest selected model trained before `date_from`
  scored on the events of the window, against the no-change baseline.
- `predict(...)`: after an odds fetch, score upcoming events as of now, write `predictions` (one row per
  side), and publish the recommendations with expected CLV as a Prefect table artifact.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NONE
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
from odds_analytics.features import MARKETS, book_quotes
from odds_analytics.recommend import recommend, side_values
from odds_models.clock import now
from odds_models.db import async_session_maker
from odds_models.errors import OddsPipelineError
from odds_models.settings import get_settings
from odds_models.teams import resolve_team
from tasks.datasets import load_model_dataset, load_model_frames
from tasks.model_report import publish_model_report
from tasks.storage.models import ModelEntry, get_latest_model, register_models, write_predictions
from tasks.storage.reads import read_polymarket_asks_at_times

__all__ = [
    "ModelNotFound",
    "NotEnoughData",
    "TrainConfig",
    "evaluate_model",
    "predict",
    "predict_market",
    "train_model",
]


class ModelNotFound(OddsPipelineError):
    """No registered model fits the request (train one first: `odds model train`)."""


class NotEnoughData(OddsPipelineError):
    """Too few events with a closing line to train on."""


class TrainConfig(BaseModel):
    """Walk-forward settings of a training run."""

    n_folds: int = Field(default=5, ge=1, le=50, description="Walk-forward test blocks.")
    scheme: str = Field(default="expanding", pattern="^(expanding|sliding)$", description="Training window.")
    window_days: float = Field(default=60.0, gt=0, description="Sliding window length, days.")
    min_train_events: int = Field(default=20, ge=2, description="Skip folds with fewer training events.")


def _as_datetime(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


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
    result = walk_forward(
        data,
        market=market,
        n_folds=config.n_folds,
        scheme=config.scheme,  # type: ignore[arg-type]
        window_days=config.window_days,
        min_train_events=config.min_train_events,
    )
    validated = result.metrics["no_change"]["folds"] > 0
    rmse = {k: result.metrics[k]["rmse"] for k in MODEL_KINDS}
    if validated:
        selected = min(
            MODEL_KINDS, key=lambda k: (rmse[k] if np.isfinite(rmse[k]) else np.inf, k != "no_change")
        )
    else:
        selected = "ols"  # no out-of-sample evidence: the small linear model, flagged `validated: false`
    window = (data["commence_time"].min().to_pydatetime(), data["commence_time"].max().to_pydatetime())
    entries = []
    for kind in MODEL_KINDS:
        model = fit_model(data, kind=kind, market=market)  # type: ignore[arg-type]
        entries.append(
            ModelEntry(
                model=model,
                data_from=window[0],
                data_until=window[1],
                metrics={
                    "walk_forward": result.metrics[kind],
                    "baseline": result.metrics["no_change"],
                    "validated": validated,
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


@task(cache_policy=NONE, task_run_name="fit-models-{market}")
def fit_models(
    data: pd.DataFrame, market: str, config: TrainConfig
) -> tuple[list[ModelEntry], dict[str, Any], pd.DataFrame]:
    """Walk-forward validation, then every model refitted on the whole window."""
    return train_and_select(data, market, config)


@flow(name="train-model", log_prints=False)
async def train_model(
    market: str, until: date | datetime | None = None, config: TrainConfig | None = None
) -> dict[str, Any]:
    """Train and register the CLV models of a market on every event before `until`."""
    logger = get_run_logger()
    if market not in MARKETS:
        raise ValueError(f"market must be one of {MARKETS}")
    config = config or TrainConfig()
    # 1. the dataset, as of each decision
    data = await load_model_dataset(market, None, _as_datetime(until))
    logger.info("dataset %s: %d samples, %d events", market, len(data), data["event_id"].nunique())
    # 2. validate walk-forward, refit, pick
    entries, summary, oos = fit_models(data, market, config)
    # 3. register, and store the selected model's out-of-sample predictions (the backtest's `clv_model`)
    summary["models"] = await register_models(entries)
    selected_id = next(m["id"] for m in summary["models"] if m["selected"])
    rows = prediction_rows(selected_id, oos, oos["predicted"].to_numpy(float), with_features=False)
    summary["oos_predictions_written"] = await write_predictions(rows) if rows else 0
    logger.info("selected %s for %s (validated: %s)", summary["selected"], market, summary["validated"])
    summary = _json_safe(summary)
    # 4. the selected model's report: walk-forward calibration chart and coefficients/importance (PNG)
    chosen = next(e for e in entries if e.selected)
    summary["report"] = await publish_model_report(
        chosen.model,
        chosen.metrics["calibration"],
        summary["walk_forward"][summary["selected"]],
        stage="train",
        title=f"{market} {chosen.model.kind}: walk-forward (training window)",
    )
    await acreate_table_artifact(
        table=training_table(summary),
        key=f"clv-training-{market}",
        description=f"CLV models for {market}: walk-forward figures (selected: {summary['selected']}, "
        f"validated: {summary['validated']}, {summary['n_samples']} samples)",
    )
    return summary


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
            }
        )
    return rows


def _json_safe(value: Any) -> Any:
    """NaN and infinities as None, numpy scalars as Python numbers (strict JSON for `--json`)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return _finite(value)


def score(model: ClvModel, data: pd.DataFrame, market: str) -> dict[str, Any]:
    """A model's out-of-sample figures on `data`, with the no-change baseline under `baseline`."""
    data = data[data["target"].notna()]
    y = data["target"].to_numpy(dtype=float)
    threshold = DEFAULT_THRESHOLDS[market]
    predicted = model_predict(model, data)
    figures = metrics(y, predicted, threshold=threshold)
    base = metrics(y, np.zeros(len(y)), threshold=threshold)
    keys = (
        "n",
        "r2",
        "rmse",
        "mae",
        "directional_accuracy",
        "spearman",
        "skill_vs_no_change",
        "clv_captured",
        "n_acted",
    )
    out: dict[str, Any] = {k: _finite(figures[k]) for k in keys}
    out["baseline"] = {k: _finite(base[k]) for k in ("n", "r2", "rmse", "mae", "directional_accuracy")}
    low, high = skill_interval(y, predicted, data["event_id"].to_numpy())
    out["skill_ci95"] = [_finite(low), _finite(high)]
    out["threshold"] = threshold
    out["calibration"] = _json_safe(calibration_table(y, predicted).to_dict(orient="list"))
    return out


def _finite(value: Any) -> Any:
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    return value.item() if hasattr(value, "item") else value


@task(cache_policy=NONE, task_run_name="score-{market}")
def score_model(model: ClvModel, data: pd.DataFrame, market: str) -> dict[str, Any]:
    """Score a model against the no-change baseline."""
    return score(model, data, market)


@flow(name="evaluate-model", log_prints=False)
async def evaluate_model(
    market: str, date_from: date | datetime, date_to: date | datetime, kind: str | None = None
) -> dict[str, Any]:
    """Score the latest model trained before the window on its events, against no change."""
    logger = get_run_logger()
    start = _as_datetime(date_from)
    end = _as_datetime(date_to)
    if isinstance(date_to, date) and not isinstance(date_to, datetime):
        end = end + timedelta(days=1) if end else end  # --to is inclusive
    # 1. the latest model whose training data ends before the window (out of sample)
    found = await get_latest_model(market, kind, start)
    if found is None:
        raise ModelNotFound(
            f"no {kind or 'selected'} {market} model trained on data before {start:%Y-%m-%d}: "
            f"run `odds model train --market {market} --until {start:%Y-%m-%d}`"
        )
    model_id, model, info = found
    # 2. the window's dataset
    data = await load_model_dataset(market, start, end)
    # 3. score
    result = score_model(model, data, market)
    result |= {
        "market": market,
        "model_id": model_id,
        "model": info["name"],
        "kind": model.kind,
        "version": info["version"],
        "date_from": start,
        "date_to": end,
    }
    # 4. calibration chart and coefficients/importance of the scored model (PNG + artifact)
    result["report"] = await publish_model_report(
        model,
        result["calibration"],
        result,
        stage="evaluate",
        title=f"{market} {model.kind}: {start:%Y-%m-%d} to {end:%Y-%m-%d}",
    )
    logger.info(
        "%s %s: n=%s r2=%s baseline r2=%s",
        market,
        model.kind,
        result["n"],
        result["r2"],
        result["baseline"]["r2"],
    )
    return result


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
    with that side's best venue and expected CLV when `recs` has them."""
    from odds_analytics.features import feature_columns

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
                    "features": feats,
                }
            )
    return rows


@task(cache_policy=NONE, task_run_name="score-upcoming-{market}")
async def score_upcoming(
    market: str,
    model_id: int,
    model: ClvModel,
    *,
    decision_time: datetime,
    horizon_hours: float,
    min_edge: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Features as of `decision_time` for upcoming events, predictions, and recommendations per side."""
    settings = get_settings()
    async with async_session_maker() as session:
        frames = await load_model_frames(
            session,
            start=decision_time,
            end=decision_time + timedelta(hours=horizon_hours),
            markets=["h2h", "spreads", "totals"],
            decision_at=decision_time,
        )
        pairs = [(e, decision_time) for e in frames.samples["event_id"].unique()]
        asks = await read_polymarket_asks_at_times(session, pairs)
    from odds_analytics.features import build_dataset

    data = (
        build_dataset(
            frames.odds,
            frames.events,
            frames.samples,
            market=market,
            polymarket=frames.polymarket,
            sharp_books=settings.sharp_books,
            max_staleness=timedelta(minutes=settings.max_staleness_minutes),
            devig_method=settings.devig_method,
            history=frames.history,
        )
        if not frames.odds.empty
        else pd.DataFrame()
    )
    if data.empty:
        return [], []
    predicted = model_predict(model, data)
    quotes = latest_quotes(frames.odds, frames.events, decision_time, settings.devig_method)
    if not asks.empty:
        asks = asks.assign(
            outcome=asks["outcome"].map(lambda v: t.name if (t := resolve_team(str(v))) else v)
        )
    recs = recommend(
        data.assign(predicted_delta=predicted),
        quotes,
        polymarket_asks=asks,
        fee_rate=settings.polymarket_fee_rate,
        min_edge=min_edge,
    )
    rows = prediction_rows(model_id, data, predicted, recs)
    teams = data.set_index("event_id")[["home_team", "away_team", "commence_time"]]
    recs = recs.join(teams, on="event_id")
    return rows, [_record(r) for r in recs.to_dict(orient="records")]


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


def _record(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, pd.Timestamp):
            out[key] = value.to_pydatetime()
        elif isinstance(value, float | np.floating) and not np.isfinite(value):
            out[key] = None
        else:
            out[key] = value.item() if hasattr(value, "item") else value
    return out


async def predict_market(
    market: str, decision_time: datetime, horizon_hours: float, min_edge: float
) -> tuple[int, list[dict[str, Any]]]:
    """Score one market with its latest selected model and write the predictions; returns (rows, recs)."""
    logger = get_run_logger()
    found = await get_latest_model(market)
    if found is None:
        logger.warning("no trained %s model: skipped (run `odds model train --market %s`)", market, market)
        return 0, []
    model_id, model, _ = found
    rows, recs = await score_upcoming(
        market, model_id, model, decision_time=decision_time, horizon_hours=horizon_hours, min_edge=min_edge
    )
    written = await write_predictions(rows) if rows else 0
    return written, recs


@flow(name="predict", log_prints=False)
async def predict(
    markets: list[str] | None = None, horizon_hours: float = 48.0, min_edge: float = 0.01
) -> dict[str, Any]:
    """Score upcoming events, write predictions and publish the recommendations with expected CLV."""
    logger = get_run_logger()
    decision_time = now()
    recommendations: list[dict[str, Any]] = []
    written = 0
    # 1. each market with its latest selected model
    for market in markets or list(MARKETS):
        n, recs = await predict_market(market, decision_time, horizon_hours, min_edge)
        written += n
        recommendations.extend(recs)
    recommendations.sort(key=lambda r: -(r.get("expected_clv") or -1e9))
    # 2. publish what to bet
    table = [_artifact_row(r) for r in recommendations if r["recommended"]]
    await acreate_table_artifact(
        table=table or [{"note": "no side clears the minimum expected CLV"}],
        key="clv-recommendations",
        description=f"CLV recommendations at {decision_time:%Y-%m-%d %H:%M} UTC (min edge {min_edge:.1%})",
    )
    logger.info("%d predictions written, %d recommendations", written, len(table))
    return {
        "decision_time": decision_time,
        "predictions_written": written,
        "recommendations": recommendations,
    }


def _artifact_row(rec: dict[str, Any]) -> dict[str, Any]:
    point = rec.get("best_point")
    return {
        "game": f"{rec.get('away_team')} @ {rec.get('home_team')}",
        "market": rec["market"],
        "side": rec["outcome"]
        + (
            f" {point:+g}"
            if point is not None and rec["market"] == "spreads"
            else (f" {point:g}" if point is not None else "")
        ),
        "venue": rec["best_venue"],
        "price": round(rec["best_price_decimal"], 3),
        "now": round(rec["current"], 3),
        "predicted close": round(rec["predicted_close"], 3),
        "expected CLV": f"{rec['expected_clv']:+.2%}",
    }
