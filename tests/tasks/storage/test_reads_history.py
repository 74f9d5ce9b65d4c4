"""Must-show 3: a backtest over imported real history (three weeks of 2023-24 Odds API snapshots plus the
Kaggle closing lines and scores); every bet's price snapshot is at or before its decision time."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_models.db import async_session_maker
from tasks.storage.closing_lines import load_closing_line_file, match_closing_line_games, store_imported_games
from tasks.storage.event_reads import read_events_between
from tasks.storage.reads import read_closing_lines, read_odds_at_times

pytestmark = [pytest.mark.db, pytest.mark.shared]

START, END = date(2024, 1, 1), date(2024, 1, 21)


async def test_backtest_on_imported_history(db: str, data_dir: Path) -> None:
    from tasks.import_oddsapi import import_oddsapi_paths

    folder = data_dir / "oddsapi_historical" / "odds" / "2023-2024"
    files = [
        folder / f"odds_{START + timedelta(days=i)}_featured.json.gz" for i in range((END - START).days + 1)
    ]
    files = [f for f in files if f.exists()]
    assert len(files) >= 15
    await import_oddsapi_paths([str(f) for f in files])
    parsed = load_closing_line_file(str(data_dir / "closing_lines" / "nba_closing_lines_2008_2024.csv"), "kaggle",
                                       START, END + timedelta(days=1))  # fmt: skip
    match = await match_closing_line_games(parsed.games, "kaggle")
    counts = await store_imported_games(match, "kaggle")
    assert counts.matched >= 0.9 * len(parsed.games)  # snapshot events found by US/Eastern date and teams

    cfg = BacktestConfig(strategy="basic_ev", strategy_params={"min_edge": 0.01}, start=START, end=END,
                         decision_hours=[1, 12], markets=["spreads", "totals", "h2h"], include_polymarket=False,
                         n_bootstrap=200, n_permutations=200,
                         # one snapshot a day: this test is about the import and the as-of read, so prices are
                         # usable for the read's whole window; the 90-minute bound has its own tests
                         # (tests/odds_analytics/test_staleness.py) and its effect here is BACKTESTING_GUIDE §5.2
                         max_quote_age_minutes=24 * 60.0)  # fmt: skip
    async with async_session_maker() as session:
        events = await read_events_between(cfg.start, cfg.end + timedelta(days=1), session=session)
        pairs = decision_pairs(events, cfg.decision_hours)
        pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
        odds = await read_odds_at_times(pair_list, session=session, markets=cfg.markets, max_staleness=timedelta(minutes=cfg.max_staleness_minutes))  # fmt: skip
        closing = await read_closing_lines(events["event_id"].tolist(), session=session, markets=cfg.markets)
    assert (events["status"] == "final").mean() > 0.9
    result = run_backtest_frames(cfg, events=events, pairs=pairs, odds=odds, closing=closing)
    bets = result.bet_records()
    assert len(bets) > 10
    for bet in bets:
        assert bet["snapshot_time"] is not None
        assert bet["snapshot_time"] <= bet["decision_time"]
    assert result.metrics["void_bets"] == 0
    # The baseline on spreads: its CLV comes from the imported closing spreads (the files hold no closing
    # snapshot, and 2023-24 has no closing moneylines).
    flat_cfg = cfg.model_copy(
        update={"strategy": "flat", "strategy_params": {"side": "home", "market": "spreads"}}
    )
    flat = run_backtest_frames(flat_cfg, events=events, pairs=pairs, odds=odds, closing=closing)
    assert flat.metrics["bets"] >= 0.9 * len(events)
    assert flat.metrics["clv_bets"] >= 0.9 * flat.metrics["bets"]
    assert -5 < flat.metrics["clv_mean_pp"] < 5
