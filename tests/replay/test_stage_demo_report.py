"""The demo's pure parts: the tick plan, devigged series, the charts and the Markdown report."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from odds_analytics.demo_report import fair_home_probabilities
from replay.stage import plan_ticks
from tasks.storage.demo_report import render_report

T0 = datetime(2026, 1, 12, 12, 0, tzinfo=UTC)


def test_ticks_are_fine_before_tips_hourly_in_games_and_coarse_otherwise() -> None:
    tip = T0 + timedelta(hours=12)
    ticks = plan_ticks(T0, T0 + timedelta(hours=20), [tip])
    gaps = {t: (b - t) for t, b in itertools.pairwise(ticks)}
    assert gaps[T0] == timedelta(hours=2)
    assert all(gap == timedelta(minutes=30) for t, gap in gaps.items() if tip - timedelta(hours=3) <= t < tip)
    assert all(gap == timedelta(hours=1) for t, gap in gaps.items() if tip <= t <= tip + timedelta(hours=3))
    assert ticks[-1] <= T0 + timedelta(hours=20)
    assert plan_ticks(T0, T0, []) == [T0]


def test_fair_home_probabilities_remove_the_vig_per_book() -> None:
    rows = [
        (T0, "dk", "Boston Celtics", 1.50),
        (T0, "dk", "Miami Heat", 2.60),
        (T0, "fd", "Boston Celtics", 1.52),  # one side only: skipped
        (T0 + timedelta(hours=1), "dk", "Boston Celtics", 1.45),
        (T0 + timedelta(hours=1), "dk", "Miami Heat", 2.75),
    ]
    series = fair_home_probabilities(rows, "Boston Celtics")
    assert set(series) == {"dk"}
    (t1, p1), (t2, p2) = series["dk"]
    assert (t1, t2) == (T0, T0 + timedelta(hours=1))
    assert abs(p1 - (1 / 1.5) / (1 / 1.5 + 1 / 2.6)) < 1e-12
    assert p2 > p1


def test_report_writes_markdown_and_charts(tmp_path: Path) -> None:
    commence = T0 + timedelta(hours=10)
    h2h, spreads = [], []
    for i in range(8):
        moment = T0 + timedelta(hours=i)
        for book, shift in (("lowvig", 0.0), ("betus", 0.03 if i < 6 else 0.0)):
            home = 1.60 - 0.02 * i + shift
            h2h += [
                (moment, book, "Boston Celtics", home),
                (moment, book, "Miami Heat", 1 / (1.045 - 1 / home)),
            ]
            spreads.append((moment, book, -3.5 - 0.5 * (i // 3)))
    chart = {"event_id": "e" * 32, "home": "Boston Celtics", "away": "Miami Heat", "commence": commence,
             "h2h": h2h, "spreads": spreads,
             "polymarket": [(T0 + timedelta(hours=i), "Celtics", 0.6 + 0.005 * i, "poll") for i in range(8)]}  # fmt: skip
    figures = {
        "counts": {"events": 3, "odds": 40}, "events_by_status": {"final": 1}, "fetch_logs": [
            {"api": "oddsapi", "calls": 5, "errors": 0, "credits": 9, "retried": 1}],
        "quality": [], "links": {"linked": 1}, "backtests": [
            {"strategy": "basic_ev", "metrics": {"roi": 0.0123, "bets": 40}},
            {"strategy": "flat", "metrics": {"roi": 0.30, "bets": 8}}],
        "models": [], "chart": chart, "pm_fees": {"sports_fees_v3 0.03·(p(1−p))^1": 6, "free": 3},
    }  # fmt: skip
    steps = {"ticks": 8, "runs": {"fetch_odds": 8}, "missing": ["run_backtest"], "skipped": {},
             "failures": [{"at": T0.isoformat(), "flow": "fetch_scores", "error": "ServerError: oddsapi /scores: HTTP 503"}]}  # fmt: skip
    replay = {"credits_used": 9, "credits_by_route": {"odds": 9}, "calls": {"oddsapi": 5}, "requests": 20,
              "faults_injected": {"429": 2}}  # fmt: skip
    meta = {"source": "simulated", "seed": 7, "start": T0, "end": T0 + timedelta(hours=20), "faults": True,
            "wall": 12.0}  # fmt: skip
    path = render_report(figures=figures, steps=steps, replay=replay, meta=meta, folder=tmp_path)
    text = path.read_text()
    assert "simulated" in text
    assert "| odds | 40 |" in text
    assert "basic_ev" in text
    assert "ROI 1.23 % (n=40)" in text  # every figure with its n...
    assert "ROI n too small (n=8)" in text  # ...and none below the minimum
    assert "fetch_scores: ServerError" in text
    assert "Not available yet (skipped): run_backtest" in text
    assert "429 2" in text
    assert (
        "Fee terms of the Polymarket markets (as Gamma states them): sports_fees_v3 0.03·(p(1−p))^1 6, free 3."
        in text
    )
    for name in ("line_movement.png", "spread_movement.png"):
        assert f"]({name})" in text
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_move_clock_moves_the_installed_frozen_clock_and_refuses_the_system_clock() -> None:
    from odds_models import clock
    from odds_models.errors import ConfigError
    from replay.stage import move_clock

    with clock.use_clock(clock.FrozenClock(T0)):
        move_clock(T0 + timedelta(hours=3))
        assert clock.now() == T0 + timedelta(hours=3)
    with clock.use_clock(lambda: T0), pytest.raises(ConfigError, match="FrozenClock"):
        move_clock(T0)


def test_timing_rows_list_the_phases_then_the_flows_slowest_first() -> None:
    from odds_analytics.demo_report import timing_lines, timing_rows

    steps = {
        "runs": {"fetch-odds": 45, "train-model": 2},
        "seconds": {"fetch-odds": 20.5, "train-model": 31.25},
        "timing": {"phases": {"setup: database, tables, replay app": 3.5, "flows (table below)": 51.75}},
    }
    rows = timing_rows(steps)
    assert rows == [
        ("setup: database, tables, replay app", "", 3.5),
        ("flows (table below)", "", 51.75),
        ("  train-model", "2", 31.25),
        ("  fetch-odds", "45", 20.5),
    ]
    lines = timing_lines(steps)
    assert lines[0] == "## Where the time went"
    assert "| - train-model | 2 | 31.2 |" in lines
    assert timing_lines({}) == []
