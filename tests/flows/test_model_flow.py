"""The model flows through the Prefect engine: train, evaluate out of sample, predict and recommend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from odds_analytics._synthetic_clv import simulate_market

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]


async def test_train_evaluate_predict(db: str, seed_market) -> None:
    from flows.model import evaluate_model, predict, train_model
    from odds_analytics.clv_model import MODEL_KINDS
    from odds_analytics.clv_training import TrainConfig
    from odds_models.clock import FrozenClock, use_clock
    from odds_models.db import async_session_maker
    from odds_models.tables import Bet, ModelRecord, Prediction

    odds, events, closing = simulate_market(n_games=60, seed=21)
    await seed_market(odds, events, closing)
    split = events["commence_time"].iloc[42].to_pydatetime()

    summary = await train_model("spreads", split.date(), TrainConfig(n_folds=3, min_train_events=10))
    assert summary["validated"] is True
    assert summary["selected"] not in ("no_change", "consensus_ols")  # the simulated signal is learnable
    assert summary["gate"]["passed"]
    assert summary["candidate"] == summary["selected"]
    assert summary["promoted"] is None  # training registers candidates; it never promotes by itself
    assert {m["kind"] for m in summary["models"]} == set(MODEL_KINDS)
    wf = summary["walk_forward"]
    assert wf[summary["selected"]]["rmse"] < wf["no_change"]["rmse"]
    assert wf[summary["selected"]]["skill_ci95"][0] > 0
    # the selected model's out-of-sample predictions are stored for the backtest, both sides each
    async with async_session_maker() as session:
        oos = (await session.execute(select(Prediction))).scalars().all()
    assert len(oos) == summary["oos_predictions_written"] > 0
    first = [p for p in oos if p.event_id == oos[0].event_id and p.decision_time == oos[0].decision_time]
    assert len(first) == 2
    assert first[0].predicted_close == pytest.approx(-first[1].predicted_close)  # home and away points

    last_day = events["commence_time"].iloc[-1].date()
    result = await evaluate_model("spreads", split.date(), last_day)
    # the window: first and last tip-off day inclusive (as the chart titles), and the exclusive end
    assert (result["date_from"], result["date_to"]) == (split.date(), last_day)
    assert result["date_end_exclusive"] == datetime(
        last_day.year, last_day.month, last_day.day, tzinfo=UTC
    ) + timedelta(days=1)
    for key in ("n", "r2", "rmse", "mae", "directional_accuracy"):
        assert key in result
        assert key in result["baseline"]
    assert result["n"] == result["baseline"]["n"] > 0
    assert result["rmse"] < result["baseline"]["rmse"]

    # no model is live yet: "no validated model", nothing scored, no pick, no paper bet
    tip = events["commence_time"].iloc[55].to_pydatetime()
    # 15 min after the 6 h snapshot of game 55 (75 min after game 54's): both prices are current (<= 90 min)
    moment = tip - timedelta(hours=5, minutes=45)
    with use_clock(FrozenClock(moment)):
        none = await predict(["spreads"], 6.0, 0.0)
    assert none["models"]["spreads"] == {"market": "spreads", "status": "no validated model", "model": None}
    assert none["recommendations"] == []
    assert none["predictions_written"] == 0
    assert none["paper_bets"] is None

    # promote the candidate explicitly: one history row, and it is live
    from tasks.storage.models import live_model, promote_model

    chosen = next(m for m in summary["models"] if m["selected"])
    async with async_session_maker() as session:
        promotion = await promote_model(
            session=session, model_id=chosen["id"], promoted_by="test", reason="walk-forward skill above 0"
        )
        await session.commit()
    assert promotion["previous_model_id"] is None
    assert promotion["promoted_by"] == "test"

    # predict after the 6 h snapshot of a late game, with the live model
    with use_clock(FrozenClock(moment)):
        out = await predict(["spreads"], 6.0, 0.0)
    assert out["models"]["spreads"]["model"]["id"] == chosen["id"]
    recs = out["recommendations"]
    assert all(
        r["model_id"] == chosen["id"] and r["model"].startswith(f"model {chosen['id']} ") for r in recs
    )
    assert out["predictions_written"] == len(recs) > 0
    by_event: dict[str, set[str]] = {}
    for rec in recs:
        by_event.setdefault(rec["event_id"], set()).add(rec["side"])
    assert all(sides == {"home", "away"} for sides in by_event.values())
    async with async_session_maker() as session:
        n_models = (await session.execute(select(func.count()).select_from(ModelRecord))).scalar_one()
        n_preds = (await session.execute(select(func.count()).select_from(Prediction))).scalar_one()
    assert n_models == len(MODEL_KINDS)  # (before the second training run)
    assert n_preds == len(recs) + len(oos)
    # one CLV unit: expected CLV in probability, expected return on stake = price x CLV
    for rec in recs:
        assert rec["expected_clv"] == pytest.approx(rec["p_close"] - 1 / rec["best_price_decimal"])
        assert rec["exp_return"] == pytest.approx(rec["best_price_decimal"] * rec["expected_clv"])
        assert rec["recommended"] == (rec["exp_return"] > 0)

    # every published pick is a paper bet at its published price, once: the same tick run again adds none
    picks = [r for r in recs if r["recommended"]]
    with use_clock(FrozenClock(moment)):
        again = await predict(["spreads"], 6.0, 0.0)
    async with async_session_maker() as session:
        bets = (await session.execute(select(Bet))).scalars().all()
    assert out["paper_bets"]["added"] == len(picks) == len(bets) > 0
    assert again["paper_bets"] == {**again["paper_bets"], "added": 0, "already_recorded": len(picks)}
    by_side = {(r["event_id"], r["outcome"]): r for r in picks}
    for bet in bets:
        pick = by_side[(bet.event_id, bet.outcome)]
        assert bet.source == "paper"
        assert bet.price_decimal == pytest.approx(pick["best_price_decimal"])
        assert bet.venue == pick["best_venue"]
        assert bet.placed_at == moment
        assert bet.model_id == pick["model_id"]
        assert bet.prediction_id is not None  # linked to the prediction that suggested it

    # training again on more data (`train --until` later) registers new candidates; the live model stays
    later = await train_model(
        "spreads", events["commence_time"].iloc[50].date(), TrainConfig(n_folds=3, min_train_events=10)
    )
    assert later["promoted"] is None
    async with async_session_maker() as session:
        live = await live_model(session=session, market="spreads")
    assert live is not None
    assert live.id == chosen["id"]

    # the training figures are published where a person looks: a table artifact, one row per model
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["clv-training-spreads"]))
        )
    assert artifacts
    table = (
        artifacts[0].data
        if isinstance(artifacts[0].data, list)
        else __import__("json").loads(artifacts[0].data)
    )
    assert {row["model"] for row in table} == set(MODEL_KINDS)
    assert sum(row["selected"] for row in table) == 1

    # the selected model's and the evaluated model's reports: PNG charts and a markdown artifact each
    from pathlib import Path

    def read(path: str) -> bytes:
        return Path(path).read_bytes()

    for report in (summary["report"], result["report"]):
        for name in ("calibration.png", "importance.png"):
            assert read(report[name])[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"mean_predicted" in read(report["calibration.csv"])
    async with get_client() as client:
        reports = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["clv-model-spreads-train", "clv-model-spreads-evaluate"])
            )
        )
    assert {a.key for a in reports} == {"clv-model-spreads-train", "clv-model-spreads-evaluate"}
    assert all("Calibration (by prediction decile)" in a.data for a in reports)

    # live staleness: 91 minutes after game 55's last snapshot its price is no longer current, so no pick on it
    game55 = events["event_id"].iloc[55]
    with use_clock(FrozenClock(tip - timedelta(hours=6) + timedelta(minutes=91))):
        stale = await predict(["spreads"], 6.0, 0.0)
    assert game55 not in {r["event_id"] for r in stale["recommendations"]}
    with use_clock(FrozenClock(tip - timedelta(hours=6) + timedelta(minutes=89))):
        fresh = await predict(["spreads"], 6.0, 0.0)
    assert game55 in {r["event_id"] for r in fresh["recommendations"]}
