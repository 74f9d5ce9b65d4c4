"""The dataset read from PostgreSQL, the model registry and prediction rows."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from odds_analytics._synthetic_clv import simulate_market
from odds_analytics.clv_model import fit_model, predict
from odds_analytics.features import build_dataset, decision_samples, feature_columns

pytestmark = pytest.mark.db


async def test_dataset_from_the_database_matches_the_pure_build(db: str, seed_market) -> None:
    from odds_models.db import async_session_maker
    from tasks.datasets import build_model_dataset, load_model_frames

    odds, events, closing = simulate_market(n_games=12, seed=4)
    await seed_market(odds, events, closing)
    async with async_session_maker() as session:
        frames = await load_model_frames(session=session, start=None, end=None, markets=["spreads", "h2h"])
    # every odds row read for a decision was stamped before that event's last decision
    last = frames.samples.groupby("event_id")["decision_time"].max()
    assert (frames.odds["snapshot_time"] < frames.odds["event_id"].map(last)).all()
    from_db = build_model_dataset(frames, "spreads")
    pure = build_dataset(
        odds,
        events,
        decision_samples(odds, events),
        market="spreads",
        closing=closing,
        sharp_books=("pinnacle", "circasports", "lowvig", "betonlineag"),
    )
    assert len(from_db) == len(pure) == 4 * 12
    cols = ["current", "target", *feature_columns("spreads")]
    np.testing.assert_allclose(
        from_db.sort_values(["event_id", "decision_time"])[cols].to_numpy(float),
        pure.sort_values(["event_id", "decision_time"])[cols].to_numpy(float),
        rtol=1e-6,
        atol=1e-6,
        equal_nan=True,
    )


async def test_live_scoring_reads_only_the_past(db: str, seed_market) -> None:
    from odds_models.db import async_session_maker
    from tasks.datasets import build_model_dataset, load_model_frames

    odds, events, closing = simulate_market(n_games=3, seed=6)
    await seed_market(odds, events, closing)
    tip = events["commence_time"].iloc[0].to_pydatetime()
    now = tip - timedelta(hours=10)  # between the 14 h and the 6 h snapshots of the first game
    async with async_session_maker() as session:
        frames = await load_model_frames(
            session=session, start=now, end=now + timedelta(hours=48), decision_at=now
        )
    assert (frames.odds["snapshot_time"] < now).all()
    data = build_model_dataset(frames, "spreads")
    assert set(data["event_id"]) <= set(events["event_id"])
    assert (data["decision_time"] == pd.Timestamp(now)).all()
    assert data["hours_to_tip"].min() > 0


async def test_registry_and_predictions_are_idempotent(db: str) -> None:
    from odds_analytics.clv_training import ModelEntry
    from odds_models.db import async_session_maker
    from odds_models.tables import ModelRecord, Prediction
    from tasks.storage.models import (
        latest_model,
        load_model_file,
        save_model_file,
        upsert_model,
        upsert_predictions,
    )

    odds, events, closing = simulate_market(n_games=30, seed=8)
    data = build_dataset(odds, events, decision_samples(odds, events), market="totals", closing=closing)
    model = fit_model(data, kind="ols", market="totals")
    entry = ModelEntry(
        model=model,
        data_from=data["commence_time"].min().to_pydatetime(),
        data_until=data["commence_time"].max().to_pydatetime(),
        metrics={"walk_forward": {"rmse": float("nan"), "r2": 0.1}},
        selected=True,
    )
    path = save_model_file(model)
    np.testing.assert_allclose(predict(load_model_file(path), data), predict(model, data))
    async with async_session_maker() as session:
        first = await upsert_model(session=session, entry=entry, artifact_path=str(path))
        second = await upsert_model(session=session, entry=entry, artifact_path=str(path))
        await session.commit()
        assert first == second
        assert (await session.execute(select(func.count()).select_from(ModelRecord))).scalar_one() == 1
        found = await latest_model(session=session, market="totals")
        assert found is not None
        assert found.metrics["selected"] is True
        assert found.metrics["walk_forward"]["rmse"] is None  # NaN stored as null
        assert await latest_model(session=session, market="totals", trained_until=entry.data_from) is None
        await session.execute(select(1))
    from odds_models.tables import Event

    async with async_session_maker() as session:
        ev = events.iloc[0]
        session.add(
            Event(
                id=ev.event_id,
                home_team=ev.home_team,
                away_team=ev.away_team,
                commence_time=ev.commence_time.to_pydatetime(),
            )
        )
        await session.commit()
        row = {
            "model_id": first,
            "event_id": ev.event_id,
            "market": "totals",
            "outcome": "Over",
            "decision_time": ev.commence_time.to_pydatetime() - timedelta(hours=2),
            "current_value": 221.5,
            "predicted_delta": 0.5,
            "predicted_close": 222.0,
            "best_venue": "draftkings",
            "best_price_decimal": 1.91,
            "expected_clv": 0.02,
            "features": {"pm_mid": float("nan")},
        }
        assert await upsert_predictions(session=session, rows=[row]) == 1
        assert await upsert_predictions(session=session, rows=[row | {"expected_clv": 0.03}]) == 1
        await session.commit()
        stored = (await session.execute(select(Prediction))).scalars().all()
        assert len(stored) == 1
        assert stored[0].expected_clv == pytest.approx(0.03)
        assert stored[0].features == {"pm_mid": None}


async def test_drift_prior_history_from_the_database_matches_the_pure_build(db: str, seed_market) -> None:
    from odds_analytics._synthetic_clv import simulate_line_history
    from odds_analytics.closing_lines import nominal_tip_off
    from odds_analytics.prior import line_history
    from odds_models.db import async_session_maker
    from odds_models.tables import ClosingLine, Event
    from tasks.datasets import build_model_dataset, load_model_frames

    odds, events, closing = simulate_market(n_games=12, seed=4)  # January 2024: season 2023
    await seed_market(odds, events, closing)
    rows = simulate_line_history(seasons=(2021, 2022), games_per_season=60, b2b_away_drift=-1.5)
    games = rows[["day", "home_team", "away_team"]].drop_duplicates().reset_index(drop=True)
    games["event_id"] = [f"hist{i:04d}" for i in range(len(games))]
    async with async_session_maker() as session:
        for g in games.itertuples(index=False):
            session.add(
                Event(
                    id=g.event_id,
                    home_team=g.home_team,
                    away_team=g.away_team,
                    commence_time=nominal_tip_off(g.day),
                )
            )
        await session.flush()
        for r in rows.merge(games, on=["day", "home_team", "away_team"]).itertuples(index=False):
            session.add(
                ClosingLine(
                    event_id=r.event_id,
                    source=r.source,
                    kind=r.kind,
                    market=r.market,
                    outcome=r.outcome,
                    point=r.point,
                )
            )
        await session.commit()
    async with async_session_maker() as session:
        frames = await load_model_frames(session=session, start=None, end=None, markets=["spreads", "h2h"])
    expected = line_history(rows)
    pd.testing.assert_frame_equal(frames.history, expected, check_dtype=False)
    from_db = build_model_dataset(frames, "spreads")
    # the schedule the database holds includes the history's games (rest days of a team's first game)
    schedule = pd.concat(
        [
            events,
            games.assign(commence_time=[pd.Timestamp(nominal_tip_off(d)) for d in games["day"]])[
                events.columns
            ],
        ],
        ignore_index=True,
    )
    pure = build_dataset(
        odds, schedule, decision_samples(odds, events), market="spreads", closing=closing, history=expected
    )
    assert from_db["prior_drift"].notna().all()
    np.testing.assert_allclose(
        from_db.sort_values(["event_id", "decision_time"])["prior_drift"].to_numpy(float),
        pure.sort_values(["event_id", "decision_time"])["prior_drift"].to_numpy(float),
        rtol=1e-9,
    )
    # a window holding only the imported history games (no snapshots): an empty dataset, not an error
    async with async_session_maker() as session:
        cut = await load_model_frames(
            session=session, start=None, end=events["commence_time"].min(), markets=["spreads"]
        )
    assert cut.samples.empty  # only the history games, which have no snapshots: an empty dataset, no error
    assert build_model_dataset(cut, "spreads").empty
