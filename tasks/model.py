"""The CLV model steps as Prefect tasks: fit every model kind, score one, score the upcoming games.

The computation is in `odds_analytics.clv_training`; the registry and `predictions` writers are in
`tasks.storage.models`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from odds_analytics.clv_model import ClvModel
from odds_analytics.clv_model import predict as model_predict
from odds_analytics.clv_training import (
    bettable_prices,
    prediction_rows,
    recommendation_record,
    score_model,
    train_and_select,
)
from odds_analytics.features import build_dataset
from odds_analytics.recommend import recommend
from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from odds_models.teams import resolve_team
from tasks.datasets import load_model_frames
from tasks.execution import execution_inputs
from tasks.storage.event_reads import read_polymarket_asks_at_times

__all__ = ["score_model_task", "score_upcoming", "score_upcoming_task", "train_and_select_task"]


async def score_upcoming(
    market: str,
    model_id: int,
    model: ClvModel,
    *,
    decision_time: datetime,
    horizon_hours: float,
    min_edge: float,
    bankroll: float | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Features as of `decision_time` for upcoming events, predictions, and recommendations per side."""
    settings = get_settings()
    async with async_session_maker() as session:
        frames = await load_model_frames(
            session=session,
            start=decision_time,
            end=decision_time + timedelta(hours=horizon_hours),
            markets=["h2h", "spreads", "totals"],
            decision_at=decision_time,
        )
        pairs = [(e, decision_time) for e in frames.samples["event_id"].unique()]
        asks = await read_polymarket_asks_at_times(pairs, session=session)
        # Polymarket books and fee terms, the stake policy (tasks/execution.py)
        execution = await execution_inputs(
            session=session, pairs=pairs, events=frames.events, bankroll=bankroll
        )
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
    # only current prices are bet: every venue's quote no older than MAX_QUOTE_AGE_MINUTES at the decision
    quotes, asks, _ = bettable_prices(
        frames.odds, frames.events, asks, decision_time, devig_method=settings.devig_method,
        max_age=timedelta(minutes=settings.max_quote_age_minutes),
    )  # fmt: skip
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
        **execution,
    )
    rows = prediction_rows(model_id, data, predicted, recs)
    teams = data.set_index("event_id")[["home_team", "away_team", "commence_time"]]
    recs = recs.join(teams, on="event_id").assign(model_id=model_id, decision_time=decision_time)
    return rows, [recommendation_record(r) for r in recs.to_dict(orient="records")]


# The tasks: each the plain function above, run (and shown in the UI) as a Prefect task.
train_and_select_task = task(
    train_and_select, name="fit-models", cache_policy=NONE, task_run_name="fit-models-{market}"
)
score_model_task = task(score_model, name="score-model", cache_policy=NONE, task_run_name="score-{market}")
score_upcoming_task = task(
    score_upcoming, name="score-upcoming", cache_policy=NONE, task_run_name="score-upcoming-{market}"
)
