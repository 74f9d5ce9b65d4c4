"""Artifacts a bettor reads: the picks table (rounded, percentages, tip-off, model and its skill) and the
pipeline summary (age of each source's newest row, stale sources flagged)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from odds_analytics.clv_training import artifact_row, model_skill
from odds_analytics.freshness import format_age, freshness_rows

NOW = datetime(2026, 1, 13, 21, 0, tzinfo=UTC)


def test_picks_row_reads_like_a_betting_slip() -> None:
    row = artifact_row({
        "home_team": "Boston Celtics", "away_team": "Miami Heat", "commence_time": datetime(2026, 1, 14, 0, 30, tzinfo=UTC),
        "market": "spreads", "outcome": "Miami Heat", "best_point": 5.5, "best_venue": "draftkings",
        "best_price_decimal": 1.91234, "current": 0.51234, "predicted_close": 0.53412, "expected_clv": 0.0112, "exp_return": 0.02139,
        "model": "clv-spreads-ols", "model_skill": model_skill({"walk_forward": {"skill_vs_no_change": 0.0341}}),
    })  # fmt: skip
    assert row == {
        "game": "Miami Heat @ Boston Celtics",
        "tip-off (UTC)": "Wed 14 Jan 00:30",
        "market": "spreads",
        "side": "Miami Heat +5.5",
        "venue": "draftkings",
        "price": 1.91,
        "win chance now": "51.2%",
        "predicted at close": "53.4%",
        "expected CLV (pp)": "+1.12",
        "expected return": "+2.1%",
        "model": "clv-spreads-ols (skill +3.4% vs no change)",
    }


def test_model_skill_is_none_when_unknown() -> None:
    assert model_skill(None) is None
    assert model_skill({"walk_forward": {"skill_vs_no_change": float("nan")}}) is None
    assert model_skill({"walk_forward": {}}) is None


def test_format_age() -> None:
    assert format_age(timedelta(seconds=45)) == "45 s"
    assert format_age(timedelta(minutes=12, seconds=59)) == "12 min"
    assert format_age(timedelta(hours=3, minutes=5)) == "3 h 05 min"
    assert format_age(timedelta(days=2, hours=4, minutes=30)) == "2 d 4 h"
    assert format_age(timedelta(minutes=-1)) == "in the future"


def test_summary_flags_stale_sources_only() -> None:
    rows = [
        {"table": "odds", "exists": True, "rows": 2_500_000, "approximate": True,
         "latest": (NOW - timedelta(hours=3)).isoformat()},
        {"table": "polymarket_price_snapshots", "exists": True, "rows": 1200, "approximate": False,
         "latest": (NOW - timedelta(hours=5)).isoformat()},
        {"table": "backtest_runs", "exists": True, "rows": 4, "approximate": False,
         "latest": (NOW - timedelta(days=30)).isoformat()},
        {"table": "bets", "exists": True, "rows": 0, "approximate": False, "latest": None},
        {"table": "predictions", "exists": False, "rows": 0, "approximate": False, "latest": None},
    ]  # fmt: skip
    shown = {r["source"]: r for r in freshness_rows(rows, NOW)}
    assert shown["odds"] == {"source": "odds", "rows": "~2,500,000", "newest (UTC)": "2026-01-13 18:00",
                             "age": "3 h 00 min", "status": "ok"}  # fmt: skip
    assert shown["polymarket_price_snapshots"]["status"] == (
        "STALE: nothing for 5 h 00 min (expected within 1 h 00 min)"
    )
    assert shown["backtest_runs"]["status"] == "ok"  # no cadence expected: never stale
    assert shown["backtest_runs"]["age"] == "30 d 0 h"
    assert shown["bets"]["status"] == "empty"
    assert shown["predictions"]["status"].startswith("missing")
