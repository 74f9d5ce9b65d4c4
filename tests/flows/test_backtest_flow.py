"""The backtest on data in PostgreSQL: SQL as-of reads equal the in-memory reference; the flow saves one
run per run_key, writes the report and lists every bet with times at or before its decision."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.backtest.synthetic import asof_reference, generate_season
from odds_models.db import async_session_maker
from tasks.storage.backtests import report_dir_for, save_backtest_run, write_report
from tasks.storage.event_reads import read_events_between
from tasks.storage.reads import read_closing_lines, read_odds_at_times
from tests.support.backtest_seed import bulk_load

pytestmark = pytest.mark.db


@pytest.fixture
async def loaded(db: str) -> object:
    season = generate_season(n_events=40, seed=11, first_hours=24, interval_minutes=60, books=(
        "pinnacle", "lowvig", "draftkings", "fanduel", "betmgm"))  # fmt: skip
    await bulk_load(db, season.events, season.odds)
    return season


async def test_sql_asof_matches_reference_and_backtest_is_saved_once(loaded: object, tmp_path: Path) -> None:
    season = loaded
    cfg = BacktestConfig(strategy="basic_ev", start="2024-10-01", end="2024-12-31", decision_hours=[1, 3, 12],
                         include_polymarket=False, n_bootstrap=100, n_permutations=100)  # fmt: skip
    async with async_session_maker() as session:
        events = await read_events_between(cfg.start, cfg.end + timedelta(days=1), session=session)
        pairs = decision_pairs(events, cfg.decision_hours)
        pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
        odds = await read_odds_at_times(pair_list, session=session, max_staleness=timedelta(hours=24))
        closing = await read_closing_lines(events["event_id"].tolist(), session=session)
    assert len(events) == 40
    ref = asof_reference(season.odds, pairs, timedelta(hours=24))  # type: ignore[attr-defined]
    key = ["request_index", "bookmaker", "market", "outcome"]
    got = odds.sort_values(key).reset_index(drop=True)
    ref = ref.sort_values(key).reset_index(drop=True)
    assert len(got) == len(ref)
    assert (got["snapshot_time"].to_numpy() == ref["snapshot_time"].to_numpy()).all()
    assert (got["price_decimal"].to_numpy() == ref["price_decimal"].to_numpy()).all()
    # the read from odds_states (the markets named) returns the same rows under the same request indices
    async with async_session_maker() as session:
        states = await read_odds_at_times(
            pair_list, session=session, markets=cfg.markets, max_staleness=timedelta(hours=24)
        )
    states_in_read_order = states.astype(
        dict.fromkeys(["bookmaker", "market", "outcome", "description"], "str")
    )
    states = states.sort_values(key).reset_index(drop=True)
    assert states[[*key, "snapshot_time", "price_decimal"]].equals(
        got[[*key, "snapshot_time", "price_decimal"]]
    )
    # split over three connections: the same rows under the same request indices
    from tasks.storage.reads import read_odds_at_times_split

    for categorical in (False, True):
        split = await read_odds_at_times_split(pair_list, connections=3, markets=cfg.markets,
                                               max_staleness=timedelta(hours=24), categorical=categorical)  # fmt: skip
        assert split["request_index"].is_monotonic_increasing
        split = split.astype(dict.fromkeys(["bookmaker", "market", "outcome", "description"], "str"))
        # row for row, in the same order as the single query
        assert split.reset_index(drop=True).equals(states_in_read_order.reset_index(drop=True))
        split = split.sort_values(key).reset_index(drop=True)
        assert split[[*key, "snapshot_time", "price_decimal"]].equals(
            states[[*key, "snapshot_time", "price_decimal"]]
        )

    result = run_backtest_frames(cfg, events=events, pairs=pairs, odds=odds, closing=closing)
    assert result.metrics["bets"] > 0
    assert result.bets["clv_prob"].notna().all()  # closes come from the last snapshots before tip-off
    run_key = cfg.key("test")
    report = write_report(result, report_dir_for(result, run_key, root=tmp_path))
    for name in ("summary.json", "bets.csv", "equity.png", "clv_hist.png", "breakdown_market.csv"):
        assert (report / name).stat().st_size > 0
    async with async_session_maker() as session:
        first = await save_backtest_run(
            session=session, run_key=run_key, result=result, report_path=str(report)
        )
        second = await save_backtest_run(
            session=session, run_key=run_key, result=result, report_path=str(report)
        )
        await session.commit()
        n, bets = (await session.execute(text("SELECT count(*), max(jsonb_array_length(bets)) FROM backtest_runs")
                                         )).one()  # fmt: skip
    assert first == second
    assert (n, bets) == (1, result.metrics["bets"])


@pytest.mark.engine
async def test_run_backtest_flow(
    loaded: object, prefect_harness: None, settings_env: pytest.MonkeyPatch
) -> None:
    from flows.backtest import run_backtest

    cfg = BacktestConfig(strategy="line_shopping", start="2024-10-01", end="2024-12-31", decision_hours=[1, 6],
                         n_bootstrap=100, n_permutations=100)  # fmt: skip
    out = await run_backtest(cfg)
    again = await run_backtest(cfg)
    assert out["run_key"] == again["run_key"]
    assert out["run_id"] == again["run_id"]
    assert out["bets"]
    for bet in out["bets"]:
        assert bet["snapshot_time"] <= bet["decision_time"]  # ISO strings in UTC compare as times
    summary = json.loads((Path(out["report_path"]) / "summary.json").read_text())
    assert summary["metrics"]["bets"] == len(out["bets"])
