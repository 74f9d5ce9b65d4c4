"""`odds_states` and the reads from it (issue 17): the same rows as the per-event read over `odds`, kept exact by
the triggers whatever the writer (the collector's writer, out-of-order COPYs, updates, deletes), and a backtest on
them identical to one on the per-event read."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.backtest.synthetic import generate_season
from odds_models.db import async_session_maker
from tasks.odds_ingest import store_odds_payload
from tasks.storage.event_reads import read_events_between
from tasks.storage.reads import (
    CLOSING_COLUMNS,
    ODDS_COLUMNS,
    read_closing_lines,
    read_odds_at_time,
    read_odds_at_times,
)

pytestmark = pytest.mark.db

BOOKS = ("pinnacle", "lowvig", "draftkings", "fanduel", "betmgm")
MARKETS = ["h2h", "spreads", "totals"]
KEY = ["request_index", "market", "bookmaker", "outcome", "description"]


def _irregular_season(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small generated season made messy the way real feeds are: books and markets missing from some
    snapshots, rows flagged invalid, a second source storing the same instant with other prices."""
    season = generate_season(n_events=10, seed=seed, first_hours=10, interval_minutes=60, books=BOOKS)
    rng = np.random.default_rng(seed)
    odds = season.odds.assign(source="live", is_valid=True)
    snap_book = odds[["event_id", "snapshot_time", "bookmaker"]].drop_duplicates()
    gone = snap_book.sample(frac=0.3, random_state=seed).assign(_gone=True)
    odds = odds.merge(gone, on=["event_id", "snapshot_time", "bookmaker"], how="left")
    odds = odds[odds["_gone"].isna()].drop(columns="_gone")
    odds = odds[~((odds["market"] == "totals") & (rng.random(len(odds)) < 0.2))]  # a market pulled alone
    odds["is_valid"] = rng.random(len(odds)) > 0.05
    twin = odds[
        odds["snapshot_time"].isin(odds["snapshot_time"].drop_duplicates().sample(frac=0.3, random_state=1))
    ]
    twin = twin[rng.random(len(twin)) < 0.7].assign(source="historical")
    twin["price_decimal"] = (twin["price_decimal"] * 1.02).round(3)
    return season.events, pd.concat([odds, twin], ignore_index=True)


async def _copy(url: str, events: pd.DataFrame, odds: pd.DataFrame, batches: int, seed: int) -> None:
    """Events, then the snapshots in `batches` COPYs of shuffled snapshots (out of time order): every COPY
    fires the triggers, older snapshots often arriving after newer ones."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.copy_records_to_table(
            "events",
            records=list(events.assign(sport_key="basketball_nba", origin="test")[[
                "event_id", "sport_key", "origin", "home_team", "away_team", "commence_time", "status", "home_score",
                "away_score"]].itertuples(index=False, name=None)),
            columns=["id", "sport_key", "origin", "home_team", "away_team", "commence_time", "status", "home_score",
                     "away_score"],
        )  # fmt: skip
        snaps = (
            odds[["event_id", "source", "snapshot_time"]].drop_duplicates().sample(frac=1, random_state=seed)
        )
        snaps = snaps.reset_index(drop=True)
        base = int(await conn.fetchval("SELECT COALESCE(max(id), 0) FROM odds_snapshots")) + 1
        snaps["snapshot_id"] = range(base, base + len(snaps))
        await conn.copy_records_to_table(
            "odds_snapshots",
            records=[
                (int(i), e, s, t.to_pydatetime(), "{}", 0) for e, s, t, i in snaps.itertuples(index=False)
            ],
            columns=["id", "event_id", "source", "snapshot_time", "raw", "bookmaker_count"],
        )
        rows = odds.merge(snaps, on=["event_id", "source", "snapshot_time"])
        rows["batch"] = rows["snapshot_id"] % batches
        for _, part in rows.groupby("batch"):
            buf = io.BytesIO()
            part[["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "point",
                  "price_decimal", "is_valid"]].assign(description="").to_csv(
                buf, index=False, header=False, date_format="%Y-%m-%dT%H:%M:%S%z")  # fmt: skip
            buf.seek(0)
            await conn.copy_to_table(
                "odds", source=buf, format="csv", force_not_null=["description"],
                columns=["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "point",
                         "price_decimal", "is_valid", "description"],
            )  # fmt: skip
    finally:
        await conn.close()


def _pairs(events: pd.DataFrame) -> list[tuple[str, datetime]]:
    """Decision times on snapshot instants, between them, before the first one and after tip-off."""
    return [
        (event_id, (tip - pd.Timedelta(hours=hours)).to_pydatetime())
        for event_id, tip in zip(events["event_id"], events["commence_time"], strict=True)
        for hours in (0.0, 0.5, 1.0, 2.25, 5.0, 9.0, 12.0, -1.0)
    ]


async def _per_event(pairs: list[tuple[str, datetime]], **kwargs: object) -> pd.DataFrame:
    """The reference: `read_odds_at_time` (one query over `odds`) for each pair, numbered as the batch read."""
    parts = []
    async with async_session_maker() as session:
        for index, (event_id, t) in enumerate(pairs):
            parts.append(
                (await read_odds_at_time(event_id, t, session=session, **kwargs)).assign(request_index=index)
            )  # type: ignore[arg-type]
    return pd.concat(parts, ignore_index=True)[ODDS_COLUMNS]


def _same(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> None:
    def norm(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.astype({c: object for c in frame.columns if frame[c].dtype.kind in "OU" or
                              isinstance(frame[c].dtype, pd.CategoricalDtype) or str(frame[c].dtype) == "str"})  # fmt: skip
        frame["price_american"] = frame["price_american"].astype(float)
        return frame.sort_values(key, kind="stable").reset_index(drop=True)

    pd.testing.assert_frame_equal(norm(a), norm(b), check_dtype=False, check_exact=True)


@pytest.mark.parametrize("seed", [3, 8])
async def test_states_read_equals_the_per_event_read_after_out_of_order_writes(db: str, seed: int) -> None:
    events, odds = _irregular_season(seed)
    await _copy(db, events, odds, batches=7, seed=seed)
    pairs = _pairs(events)
    for staleness in (timedelta(minutes=90), timedelta(hours=24)):
        async with async_session_maker() as session:
            batch = await read_odds_at_times(pairs, session=session, markets=MARKETS, max_staleness=staleness)
            cats = await read_odds_at_times(pairs, session=session, markets=MARKETS, max_staleness=staleness, categorical=True)  # fmt: skip
        reference = await _per_event(pairs, markets=MARKETS, max_staleness=staleness)
        assert len(reference) > 500
        _same(batch, reference, KEY)
        _same(cats, reference, KEY)
        assert isinstance(cats["bookmaker"].dtype, pd.CategoricalDtype)
        assert (batch["snapshot_time"] <= batch["decision_time"]).all()
        assert (batch["snapshot_time"] >= batch["decision_time"] - staleness).all()
    # the read filters markets and books like the per-event read
    async with async_session_maker() as session:
        some = await read_odds_at_times(pairs, session=session, markets=["spreads"], bookmakers=["lowvig", "fanduel"], max_staleness=timedelta(hours=24))  # fmt: skip
    _same(some, await _per_event(pairs, markets=["spreads"], bookmakers=["lowvig", "fanduel"],
                                 max_staleness=timedelta(hours=24)), KEY)  # fmt: skip
    assert set(some["bookmaker"]) == {"lowvig", "fanduel"}
    # closing lines: the states' close equals the close read from odds (every market: the odds path)
    ids = events["event_id"].tolist()
    async with async_session_maker() as session:
        close = await read_closing_lines(ids, session=session, markets=MARKETS)
        close_odds = await read_closing_lines(ids, session=session)
    assert len(close) > 50
    _same(close.assign(request_index=0, price_american=close["price_american"]),
          close_odds.assign(request_index=0), ["event_id", "market", "bookmaker", "outcome", "description"])  # fmt: skip
    assert (close["snapshot_time"] < close["commence_time"]).all()


async def test_states_are_exact_after_update_and_delete(db: str) -> None:
    events, odds = _irregular_season(5)
    await _copy(db, events, odds, batches=3, seed=5)
    pairs = _pairs(events)
    async with async_session_maker() as session:
        # a late re-validation flips flags of one event; a snapshot is removed (cascades to its odds rows)
        await session.execute(text("UPDATE odds SET is_valid = NOT is_valid WHERE event_id = :e AND bookmaker = 'lowvig'"),
                              {"e": pairs[0][0]})  # fmt: skip
        await session.execute(text(
            "DELETE FROM odds_snapshots WHERE id = (SELECT max(id) FROM odds_snapshots WHERE event_id = :e)"
        ), {"e": pairs[9][0]})  # fmt: skip
        await session.commit()
        batch = await read_odds_at_times(
            pairs, session=session, markets=MARKETS, max_staleness=timedelta(hours=24)
        )
    _same(batch, await _per_event(pairs, markets=MARKETS, max_staleness=timedelta(hours=24)), KEY)
    async with async_session_maker() as session:
        await session.execute(text("DELETE FROM events WHERE id = :e"), {"e": pairs[0][0]})
        await session.commit()
        left = (await session.execute(text("SELECT count(*) FROM odds_states WHERE event_id = :e"),
                                      {"e": pairs[0][0]})).scalar_one()  # fmt: skip
    assert left == 0


T0 = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
HOME, AWAY = "Boston Celtics", "Miami Heat"


def _payload(prices: dict[str, float], *, totals: bool = True) -> list[dict]:
    books = []
    for book, home_price in prices.items():
        markets = [
            {"key": "h2h", "outcomes": [{"name": HOME, "price": home_price}, {"name": AWAY, "price": 2.5}]}
        ]
        if totals:
            markets.append({"key": "totals", "outcomes": [{"name": "Over", "price": 1.91, "point": 221.5},
                                                          {"name": "Under", "price": 1.91, "point": 221.5}]})  # fmt: skip
        books.append({"key": book, "title": book, "last_update": "2030-01-10T11:00:00Z", "markets": markets})
    return [{"id": "e" * 32, "sport_key": "basketball_nba", "commence_time": "2030-01-10T22:00:00Z",
             "home_team": HOME, "away_team": AWAY, "bookmakers": books}]  # fmt: skip


async def _state_prices(t: datetime) -> dict[tuple[str, str, str], float]:
    async with async_session_maker() as session:
        df = await read_odds_at_times(
            [("e" * 32, t)], session=session, markets=MARKETS, max_staleness=timedelta(days=1)
        )
    return {
        (b, m, o): p
        for b, m, o, p in df[["bookmaker", "market", "outcome", "price_decimal"]].itertuples(index=False)
    }


async def test_the_odds_writer_keeps_states_exact(db: str) -> None:
    """Through `store_odds_payload` (the collector's writer): in order, out of order, twice, two at once."""
    await store_odds_payload(_payload({"pinnacle": 1.5, "fanduel": 1.6}), endpoint="/odds", source="live",
                             snapshot_time=T0)  # fmt: skip
    # an hour later fanduel has pulled its lines and pinnacle dropped its totals
    later = _payload({"pinnacle": 1.45}, totals=False)
    await store_odds_payload(later, endpoint="/odds", source="live", snapshot_time=T0 + timedelta(hours=1))
    now = await _state_prices(T0 + timedelta(hours=2))
    assert now[("pinnacle", "h2h", HOME)] == 1.45  # the newest
    assert now[("fanduel", "h2h", HOME)] == 1.6  # its last price, still within staleness
    assert now[("pinnacle", "totals", "Over")] == 1.91  # pinnacle's older totals, not dropped with its h2h
    # a historical backfill of an earlier instant, stored afterwards: the later states account for it
    backfill = _payload({"pinnacle": 1.55, "betmgm": 1.58})
    await store_odds_payload(
        backfill, endpoint="/odds", source="historical", snapshot_time=T0 + timedelta(minutes=30)
    )
    now = await _state_prices(T0 + timedelta(hours=2))
    assert now[("betmgm", "h2h", HOME)] == 1.58
    assert now[("pinnacle", "h2h", HOME)] == 1.45
    assert (await _state_prices(T0 + timedelta(minutes=45)))[("pinnacle", "h2h", HOME)] == 1.55
    # the same response again changes nothing; two writers at once of the same event both count
    await store_odds_payload(later, endpoint="/odds", source="live", snapshot_time=T0 + timedelta(hours=1))
    await asyncio.gather(
        store_odds_payload(_payload({"lowvig": 1.52}), endpoint="/odds", source="live",
                           snapshot_time=T0 + timedelta(hours=3)),
        store_odds_payload(_payload({"draftkings": 1.51}), endpoint="/odds", source="historical",
                           snapshot_time=T0 + timedelta(hours=3)),
    )  # fmt: skip
    pairs = [("e" * 32, T0 + timedelta(minutes=m)) for m in (-1, 0, 29, 30, 59, 60, 61, 179, 180, 240)]
    async with async_session_maker() as session:
        batch = await read_odds_at_times(
            pairs, session=session, markets=MARKETS, max_staleness=timedelta(days=1)
        )
    reference = await _per_event(pairs, markets=MARKETS, max_staleness=timedelta(days=1))
    _same(batch, reference, KEY)
    at_3h = batch[batch["request_index"] == 8]
    assert {"lowvig", "draftkings"} <= set(at_3h["bookmaker"])


async def test_backtest_on_states_is_identical_to_one_on_the_per_event_read(db: str) -> None:
    events, odds = _irregular_season(11)
    await _copy(db, events, odds, batches=4, seed=11)
    cfg = BacktestConfig(strategy="basic_ev", strategy_params={"min_edge": 0.0}, start="2024-10-01",
                         end="2024-12-31", decision_hours=[1, 3, 6], include_polymarket=False, n_bootstrap=200,
                         n_permutations=200)  # fmt: skip
    async with async_session_maker() as session:
        games = await read_events_between(cfg.start, cfg.end + timedelta(days=1), session=session)
        pairs = decision_pairs(games, cfg.decision_hours)
        pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
        staleness = timedelta(minutes=cfg.max_staleness_minutes)
        fast = await read_odds_at_times(pair_list, session=session, markets=cfg.markets, max_staleness=staleness, categorical=True)  # fmt: skip
        close_fast = await read_closing_lines(games["event_id"].tolist(), session=session, markets=cfg.markets, categorical=True)  # fmt: skip
        close_slow = await read_closing_lines(games["event_id"].tolist(), session=session)
    slow = await _per_event(pair_list, markets=cfg.markets, max_staleness=staleness)
    a = run_backtest_frames(cfg, events=games, pairs=pairs, odds=fast, closing=close_fast)
    b = run_backtest_frames(cfg, events=games, pairs=pairs, odds=slow, closing=close_slow[CLOSING_COLUMNS])
    assert a.metrics["bets"] > 5
    assert a.metrics == b.metrics
    assert a.bet_records() == b.bet_records()


async def test_text_holding_the_separator_falls_back_to_the_odds_read(seed: object) -> None:
    ev = "x" * 32
    tip = datetime(2030, 2, 1, 1, 0, tzinfo=UTC)
    rows = [{"event_id": ev, "snapshot_time": tip - timedelta(hours=2), "bookmaker": "odd\x1fbook", "market": "h2h",
             "outcome": o, "price": p} for o, p in ((HOME, 1.7), (AWAY, 2.2))]  # fmt: skip
    await seed([{"id": ev, "home_team": HOME, "away_team": AWAY, "commence_time": tip}], rows)  # type: ignore[operator]
    async with async_session_maker() as session:
        df = await read_odds_at_times(
            [(ev, tip)], session=session, markets=MARKETS, max_staleness=timedelta(hours=3)
        )
    assert df["bookmaker"].tolist() == ["odd\x1fbook", "odd\x1fbook"]
    assert sorted(df["price_decimal"]) == [1.7, 2.2]


async def test_reads_of_nothing_are_empty_and_typed(db: str) -> None:
    t = datetime(2030, 1, 1, tzinfo=UTC)
    async with async_session_maker() as session:
        odds = await read_odds_at_times([("unknown", t)], session=session, markets=MARKETS, categorical=True)
        close = await read_closing_lines(["unknown"], session=session, markets=MARKETS)
        with pytest.raises(ValueError, match="timezone-aware"):
            await read_odds_at_times([("unknown", datetime(2030, 1, 1))], session=session, markets=MARKETS)  # noqa: DTZ001
    assert odds.empty
    assert list(odds.columns) == ODDS_COLUMNS
    assert close.empty
    assert list(close.columns) == CLOSING_COLUMNS
