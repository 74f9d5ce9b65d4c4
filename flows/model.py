"""CLV model flows: train (walk-forward, register), evaluate out of sample, predict and recommend.

- `train_model(market, until, promote=False)`: the dataset of every event before `until`, walk-forward
  validation of every model kind (`clv_model.MODEL_KINDS`: the no-change baseline, the OLS and XGBoost
  kinds, and the shrunk, regularised and ensemble kinds of `model_variants`), then each refitted on the
  whole window and registered as a candidate (table `models`, JSON file under the models folder). The kind
  that passes the gate (`odds_analytics.model_gate`) with the highest lower interval end is marked
  `selected`; with none, "no validated model". Its report (calibration chart, coefficients/importance) is
  written as PNG and a Prefect artifact. Training never changes the live model, unless `promote=True` and
  the selected model passes the gate: then it is promoted (a `model_promotions` row).
- `evaluate_model(market, date_from, date_to)`: the latest selected model trained before `date_from`
  scored on the events of the window, against the no-change baseline, with the same report.
- `next_season_check(season)`: issue 18's frozen design on a test season (`odds model next-season`): every
  kind trained through the season before (the `train-model` flow), each scored once on the test season,
  the kind chosen as pre-registered (lowest walk-forward RMSE) judged against the goals
  (`odds_analytics.model_goals`), with its report; a season missing from the database is one line, exit 2.
- `predict(...)`: after an odds fetch, score upcoming events as of now with each market's **live** model
  (promoted, passing the gate; otherwise the market says "no validated model" and publishes no pick), write
  `predictions` (one row per side), publish the recommendations (expected CLV in probability points and
  expected return, each naming its model) as a Prefect table artifact, and record each published pick as a
  paper bet (table `bets`, once per side of a game; see `flows/bets.py`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from flows.run_names import stamped, with_params
from odds_analytics.board import board_markdown, board_rows, check_decision_time
from odds_analytics.clv_training import (
    TrainConfig,
    artifact_row,
    model_headline,
    prediction_rows,
    training_table,
)
from odds_analytics.features import MARKETS
from odds_analytics.jsonsafe import json_safe
from odds_analytics.model_gate import NO_VALIDATED_MODEL, model_label
from odds_analytics.model_goals import (
    GOAL_MARKETS,
    market_report,
    next_season_markdown,
    require_test_rows,
    season_window,
)
from odds_models import progress
from odds_models.clock import now
from odds_models.errors import OddsPipelineError
from odds_models.runtime import freeze_startup_objects
from tasks.alerts import emit_picks_published
from tasks.datasets import load_model_dataset_task
from tasks.execution import stake_policy
from tasks.model import score_model_task, score_upcoming_task, train_and_select_task
from tasks.model_report import publish_model_report_task
from tasks.storage.bets import record_paper_bets_task
from tasks.storage.models import (
    get_latest_model_task,
    get_live_model_task,
    load_model_file,
    promote_model_recorded_task,
    register_models_task,
    write_predictions_task,
)

__all__ = [
    "ModelNotFound",
    "evaluate_model",
    "next_season_check",
    "predict",
    "predict_market",
    "train_model",
]


class ModelNotFound(OddsPipelineError):
    """No registered model fits the request (train one first: `odds model train`)."""


def _as_datetime(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


@flow(
    name="train-model",
    log_prints=False,
    flow_run_name=with_params("train-model", "market", "until"),
    timeout_seconds=3600,
)
async def train_model(
    market: str,
    until: date | datetime | None = None,
    config: TrainConfig | None = None,
    promote: bool = False,
    promoted_by: str = "train-model",
) -> dict[str, Any]:
    """Train and register the CLV models of a market on every event before `until` (promote if asked)."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    if market not in MARKETS:
        raise ValueError(f"market must be one of {MARKETS}")
    config = config or TrainConfig()
    stages = progress.begin(f"train {market}", total=4, unit="stages")
    # 1. the dataset, as of each decision
    data = await load_model_dataset_task(market, None, _as_datetime(until))
    stages.advance("dataset")
    logger.info("dataset %s: %d samples, %d events", market, len(data), data["event_id"].nunique())
    # 2. validate walk-forward, refit, pick
    entries, summary, oos = train_and_select_task(data, market, config)
    stages.advance("models fitted")
    # 3. register, and store the selected model's out-of-sample predictions (the backtest's `clv_model`)
    summary["models"] = await register_models_task(entries)
    selected_id = next(m["id"] for m in summary["models"] if m["selected"])
    rows = prediction_rows(selected_id, oos, oos["predicted"].to_numpy(float), with_features=False)
    summary["oos_predictions_written"] = await write_predictions_task(rows) if rows else 0
    logger.info("selected %s for %s (gate: %s): %s", summary["selected"], market, summary["gate"]["reason"],
                model_headline(summary["walk_forward"].get(summary["selected"]) or {}))  # fmt: skip
    # 4. promotion only when asked and the gate passes: a training run never replaces the live model silently
    summary["promoted"] = None
    if promote and summary["gate"]["passed"]:
        summary["promoted"] = await promote_model_recorded_task(
            selected_id, promoted_by, f"train --promote: {summary['gate']['reason']}"
        )
    elif promote:
        logger.warning("%s: not promoted, %s: %s", market, NO_VALIDATED_MODEL, summary["gate"]["reason"])
    stages.advance("registered")
    summary = json_safe(summary)
    # 5. the selected model's report: walk-forward calibration chart and coefficients/importance (PNG)
    chosen = next(e for e in entries if e.selected)
    summary["report"] = await publish_model_report_task(
        chosen.model,
        chosen.metrics["calibration"],
        summary["walk_forward"][summary["selected"]],
        stage="train",
        title=f"{market} {chosen.model.kind}: walk-forward out of sample, events "
        + (f"before {until:%Y-%m-%d}" if until is not None else "to date"),
        data=data,
    )
    await acreate_table_artifact(
        table=training_table(summary),
        key=f"clv-training-{market}",
        description=f"CLV models for {market}: walk-forward figures (candidate: "
        f"{summary['candidate'] or NO_VALIDATED_MODEL}; gate: {summary['gate']['reason']}; "
        f"{summary['n_samples']} samples)",
    )
    stages.advance("report")
    return summary


@flow(
    name="evaluate-model",
    log_prints=False,
    flow_run_name=with_params("evaluate-model", "market", "date_from", "date_to"),
    timeout_seconds=1800,
)
async def evaluate_model(
    market: str, date_from: date | datetime, date_to: date | datetime, kind: str | None = None
) -> dict[str, Any]:
    """Score the latest model trained before the window on its events, against no change."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    start = _as_datetime(date_from)
    end = _as_datetime(date_to)
    if isinstance(date_to, datetime):  # an instant: the window ends there (exclusive)
        last_day = (date_to - timedelta(microseconds=1)).date()
    else:  # a date is inclusive (`--to`, as next-season's `test_to`): the window ends the day after it
        last_day = date_to
        end = end + timedelta(days=1) if end else end
    first_day = date_from.date() if isinstance(date_from, datetime) else date_from
    stages = progress.begin(f"evaluate {market}", total=3, unit="stages")
    # 1. the latest model whose training data ends before the window (out of sample)
    found = await get_latest_model_task(market, kind, start)
    if found is None:
        raise ModelNotFound(
            f"no {kind or 'selected'} {market} model trained on data before {start:%Y-%m-%d}: "
            f"run `odds model train --market {market} --until {start:%Y-%m-%d}`"
        )
    model_id, model, info = found
    # 2. the window's dataset
    data = await load_model_dataset_task(market, start, end)
    stages.advance("dataset")
    # 3. score
    result = score_model_task(model, data, market)
    stages.advance("scored")
    result |= {
        "market": market,
        "model_id": model_id,
        "model": info["name"],
        "kind": model.kind,
        "version": info["version"],
        "date_from": first_day,  # the first tip-off date, inclusive
        "date_to": last_day,  # the last tip-off date, inclusive (as the chart titles and next-season's test_to)
        "date_end_exclusive": end,  # the instant the window ends, exclusive (the day after date_to)
    }
    # 4. calibration chart and coefficients/importance of the scored model (PNG + artifact)
    result["report"] = await publish_model_report_task(
        model,
        result["calibration"],
        result,
        stage="evaluate",
        title=f"{market} {model.kind}: {start:%Y-%m-%d} to {last_day:%Y-%m-%d}",
        data=data,
    )
    logger.info(
        "%s %s: n=%s r2=%s baseline r2=%s",
        market,
        model.kind,
        result["n"],
        result["r2"],
        result["baseline"]["r2"],
    )
    stages.advance("report")
    return result


@flow(
    name="next-season-check",
    log_prints=False,
    flow_run_name=with_params("next-season-check", "season"),
    timeout_seconds=7200,
)
async def next_season_check(
    season: str, markets: list[str] | None = None, config: TrainConfig | None = None
) -> dict[str, Any]:
    """Issue 18's frozen design on a test season: train through the season before, score every kind, judge."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    window = season_window(season)  # "2024-25": train before 2024-07-01, test 2024-07-01 to 2025-06-30
    markets = list(markets or GOAL_MARKETS)
    start = _as_datetime(window.test_from)
    end = _as_datetime(window.test_to + timedelta(days=1))  # the test window's last day is inclusive
    # 1. the test season's decisions with a close, every market first: a season not imported fails here
    tests = {market: await load_model_dataset_task(market, start, end) for market in markets}
    for market, test in tests.items():
        require_test_rows(test, market, window)
    results: dict[str, Any] = {}
    for market, test in tests.items():
        # 2. the frozen design trained through the season before (the `train-model` flow, as `--until`)
        summary = await train_model(market, window.train_until, config)
        # 3. every registered kind scored once on the test season (as `odds model evaluate --kind`)
        models = {m["kind"]: (m["id"], load_model_file(m["path"])) for m in summary["models"]}
        scores = {kind: score_model_task(model, test, market) for kind, (_, model) in models.items()}
        report = market_report(market, summary["walk_forward"], scores, gate_candidate=summary["candidate"])
        report["model_ids"] = {kind: model_id for kind, (model_id, _) in models.items()}
        # 4. the judged model's calibration chart and coefficients/importance (PNG + artifact)
        chosen = report["selected"]
        report["report"] = await publish_model_report_task(
            models[chosen][1],
            scores[chosen]["calibration"],
            scores[chosen],
            stage=f"next-season-{window.label}",
            title=f"{market} {chosen}: {window.label} (trained before {window.train_until:%Y-%m-%d})",
            data=test,
        )
        logger.info("%s %s: %s", market, chosen, "reached" if report["verdict"]["reached"] else "missed")
        results[market] = report
    out = json_safe({"season": window.label, "train_until": window.train_until, "test_from": window.test_from,
                     "test_to": window.test_to, "markets": results})  # fmt: skip
    await acreate_markdown_artifact(
        markdown=next_season_markdown(out),
        key=f"clv-next-season-{window.label}",
        description=f"Issue 18's frozen design on {window.label}: goals per market",
    )
    return out


async def predict_market(
    market: str,
    decision_time: datetime,
    horizon_hours: float,
    min_edge: float,
    *,
    bankroll: float | None = None,
    record: bool = True,
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    """Score one market with its live model and write the predictions (unless `record` is False); returns
    (rows written, recs, model status). Stakes are sized for `bankroll` (default: the setting).

    No live model (none promoted, or it fails the gate): "no validated model", nothing scored or published.
    """
    logger = get_run_logger()
    found = await get_live_model_task(market)
    if found is None:
        logger.warning("%s: %s (promote one: `odds model list`, `odds model promote ID`)", market,
                       NO_VALIDATED_MODEL)  # fmt: skip
        return 0, [], {"market": market, "status": NO_VALIDATED_MODEL, "model": None}
    model_id, model, info = found
    rows, recs = await score_upcoming_task(
        market, model_id, model, decision_time=decision_time, horizon_hours=horizon_hours, min_edge=min_edge,
        bankroll=bankroll,
    )  # fmt: skip
    label = model_label(info)
    recs = [r | {"model": label, "model_kind": info["kind"], "model_skill": info.get("skill")} for r in recs]
    written = await write_predictions_task(rows) if rows and record else 0
    return written, recs, {"market": market, "status": "live", "model": info, "label": label}


@flow(name="predict", log_prints=False, flow_run_name=stamped("predict"), timeout_seconds=600)
async def predict(  # noqa: PLR0917 - flow parameters are positional in the UI too
    markets: list[str] | None = None,
    horizon_hours: float = 48.0,
    min_edge: float = 0.01,
    bankroll: float | None = None,
    at: datetime | None = None,
    record: bool = True,
) -> dict[str, Any]:
    """Score upcoming events with each market's live model; publish picks only from a validated model."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    # `at`: score as of that moment (reads never see later rows); `record=False`: the board only, no writes
    decision_time = check_decision_time(at, now()) if at is not None else now()
    policy = stake_policy(bankroll)  # fails here, in one line, for a bad bankroll
    recommendations: list[dict[str, Any]] = []
    models: dict[str, Any] = {}
    written = 0
    # 1. each market with its live (promoted, validated) model
    for market in markets or list(MARKETS):
        n, recs, status = await predict_market(
            market, decision_time, horizon_hours, min_edge, bankroll=bankroll, record=record
        )
        written += n
        recommendations.extend(recs)
        models[market] = status
    recommendations.sort(key=lambda r: -(r.get("exp_return") or -1e9))
    # 2. publish what to bet, each pick naming its model; a market without one says so
    picks = [r for r in recommendations if r["recommended"]]
    table = [artifact_row(r) for r in picks]
    table += [{"market": m, "note": NO_VALIDATED_MODEL} for m, s in models.items() if s["model"] is None]
    await acreate_table_artifact(
        table=table or [{"note": "no side clears the minimum expected return"}],
        key="clv-recommendations",
        description=f"CLV recommendations at {decision_time:%Y-%m-%d %H:%M} UTC (min expected return "
        f"{min_edge:.1%}); " + "; ".join(f"{m}: {s.get('label') or s['status']}" for m, s in models.items()),
    )
    # the board: every side at the price its stake gets, fair now, predicted close, stake (odds_analytics.board)
    board = board_rows(recommendations)
    await acreate_markdown_artifact(
        markdown=board_markdown(board, tz=UTC, decision_time=decision_time, bankroll=policy.bankroll),
        key="clv-board",
        description=f"CLV board at {decision_time:%Y-%m-%d %H:%M} UTC ({sum(r['pick'] for r in board)} picks)",
    )
    # 3. every published pick is a paper bet at its published price and stake, once per side of a game
    paper = await record_paper_bets_task(picks) if picks and record else None
    if paper and paper.get("added"):  # the `odds: new pick` automation notifies on this event
        emit_picks_published(picks, new=paper["added"])
    logger.info("%d predictions written, %d recommendations", written, len(picks))
    return {
        "decision_time": decision_time,
        "predictions_written": written,
        "models": models,
        "picks": len(picks),
        "recommendations": recommendations,
        "paper_bets": paper,
        "bankroll": policy.bankroll,
        "board": board,
    }
