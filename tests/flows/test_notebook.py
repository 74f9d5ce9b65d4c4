"""Notebook-style use (must-show 3): flows called as plain Python return pandas DataFrames."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from odds_models.db import async_session_maker
from odds_models.tables import (
    BacktestRun,
    Event,
    Odds,
    OddsSnapshot,
    PolymarketEvent,
    PolymarketMarket,
    PolymarketPriceSnapshot,
)

pytestmark = pytest.mark.db

TIP = datetime(2024, 1, 15, 0, 30, tzinfo=UTC)


async def _seed() -> dict[str, str]:
    """Two games, two snapshots of the first (one invalid price), a linked Polymarket market, a backtest."""
    first, second = uuid.uuid4().hex, uuid.uuid4().hex
    async with async_session_maker() as session:
        session.add_all(
            [
                Event(id=first, home_team="Boston Celtics", away_team="Miami Heat", commence_time=TIP),
                Event(
                    id=second,
                    home_team="Los Angeles Lakers",
                    away_team="Denver Nuggets",
                    commence_time=TIP + timedelta(days=2),
                    status="final",
                    home_score=101,
                    away_score=99,
                ),
            ]
        )
        await session.flush()
        snaps = []
        for hours in (12, 2):
            snap = OddsSnapshot(
                event_id=first,
                source="live",
                snapshot_time=TIP - timedelta(hours=hours),
                raw={"bookmakers": []},
            )
            session.add(snap)
            snaps.append(snap)
        await session.flush()
        for snap, price in zip(snaps, (1.80, 1.75), strict=True):
            for outcome, p in (("Boston Celtics", price), ("Miami Heat", 2.10)):
                session.add(
                    Odds(
                        snapshot_id=snap.id,
                        event_id=first,
                        snapshot_time=snap.snapshot_time,
                        bookmaker="pinnacle",
                        market="h2h",
                        outcome=outcome,
                        price_decimal=p,
                        is_valid=p < 2.0,
                    )
                )
        session.add(PolymarketEvent(id="pm1", slug=f"nba-mia-bos-{first[:6]}", event_id=first, raw={}))
        await session.flush()
        session.add(
            PolymarketMarket(
                id="m1",
                polymarket_event_id="pm1",
                market_type="moneyline",
                outcomes=["Heat", "Celtics"],
                token_ids=["111", "222"],
                raw={},
            )
        )
        await session.flush()
        for token, price in (("111", 0.36), ("222", 0.64)):
            session.add(
                PolymarketPriceSnapshot(
                    market_id="m1",
                    token_id=token,
                    source="poll",
                    snapshot_time=TIP - timedelta(hours=1),
                    price=price,
                    best_bid=price - 0.01,
                    best_ask=price + 0.01,
                    mid=price,
                    spread=0.02,
                )
            )
        session.add(
            BacktestRun(
                run_key=uuid.uuid4().hex,
                strategy="clv_edge",
                start_date=date(2024, 1, 1),
                end_date=date(2024, 1, 31),
                params={"min_edge": 0.02},
                metrics={"roi": 0.031, "bets": 12},
                bets=[],
            )
        )
        await session.commit()
    return {"first": first, "second": second}


async def test_readers_return_filtered_frames(db: str) -> None:
    from tasks.storage.notebook import (
        read_backtest_runs,
        read_events,
        read_odds,
        read_polymarket_prices,
        read_table_summary,
    )

    ids = await _seed()

    events = await read_events(start=date(2024, 1, 15), end=date(2024, 1, 15))
    assert list(events["event_id"]) == [ids["first"]]
    assert str(events["commence_time"].dtype).endswith("UTC]")

    odds = await read_odds(event_ids=[ids["first"]])
    assert len(odds) == 4
    assert set(odds.columns) >= {
        "event_id",
        "home_team",
        "snapshot_time",
        "bookmaker",
        "price_decimal",
        "source",
    }
    assert odds["snapshot_time"].is_monotonic_increasing
    valid = await read_odds(event_ids=ids["first"], valid_only=True)
    assert set(valid["price_decimal"]) == {1.80, 1.75}
    # `end` is exclusive: only the snapshot 12 h before tip-off is earlier than 2 h before.
    early = await read_odds(end=TIP - timedelta(hours=2))
    assert set(early["snapshot_time"]) == {TIP - timedelta(hours=12)}

    prices = await read_polymarket_prices(event_ids=[ids["first"]])
    assert sorted(prices["price"]) == [0.36, 0.64]
    assert set(prices["event_id"]) == {ids["first"]}

    runs = await read_backtest_runs(strategy="clv_edge")
    assert runs.loc[0, "metric.roi"] == pytest.approx(0.031)
    assert runs.loc[0, "param.min_edge"] == pytest.approx(0.02)

    summary = (await read_table_summary()).set_index("table")
    assert summary.loc["events", "rows"] == 2
    assert summary.loc["odds", "rows"] == 4
    assert summary.loc["odds", "latest"] == TIP - timedelta(hours=2)
    assert summary.loc["predictions", "rows"] == 0
    assert pd.isna(summary.loc["predictions", "latest"])


async def test_readers_refuse_an_inverted_window(db: str) -> None:
    from tasks.storage.notebook import read_odds

    with pytest.raises(ValueError, match="must be after start"):
        await read_odds(start=date(2024, 2, 1), end=date(2024, 1, 1))


async def test_readers_on_empty_database_keep_columns(db: str) -> None:
    from tasks.storage.notebook import read_odds

    frame = await read_odds()
    assert frame.empty
    assert "price_decimal" in frame.columns


@pytest.mark.engine
@pytest.mark.usefixtures("prefect_harness")
def test_flows_called_as_plain_python_return_dataframes(db: str) -> None:
    """What a notebook does: import the flows, call them, get DataFrames (each call is a Prefect run)."""
    from flows.notebook import (
        load_backtest_runs,
        load_bets,
        load_events,
        load_odds,
        load_polymarket_prices,
        pipeline_summary,
    )
    from odds_models.db import run_coro_blocking

    ids = run_coro_blocking(_seed())

    odds = load_odds(event_ids=[ids["first"]], markets=["h2h"], start="2024-01-14")
    assert isinstance(odds, pd.DataFrame)
    assert len(odds) == 4
    assert set(odds["outcome"]) == {"Boston Celtics", "Miami Heat"}

    events = load_events(status=["final"])
    assert list(events["event_id"]) == [ids["second"]]

    prices = load_polymarket_prices(market_ids=["m1"])
    assert len(prices) == 2

    runs = load_backtest_runs()
    assert list(runs["strategy"]) == ["clv_edge"]

    bets = load_bets()  # an empty ledger: the columns are there, the times tz-aware UTC all the same
    assert bets.empty
    assert "clv_prob" in bets.columns
    for column in ("placed_at", "commence_time", "closed_at", "settled_at"):
        assert isinstance(bets[column].dtype, pd.DatetimeTZDtype), column
        assert str(bets[column].dt.tz) == "UTC", column

    summary = run_coro_blocking(pipeline_summary())
    assert isinstance(summary, pd.DataFrame)
    assert summary.set_index("table").loc["odds_snapshots", "rows"] == 2
