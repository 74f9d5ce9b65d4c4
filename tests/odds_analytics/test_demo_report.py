"""The demo stays honest: "no validated model" instead of picks, only positive-EV sides counted, and the
ledger's manual sample bets (a fixed rule, marked as such) when no model passed the gate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from odds_analytics.demo_report import ledger_lines, model_summary_lines
from odds_analytics.ledger import SAMPLE_BET_NOTE, bet_status, ledger_report, sample_bet_rows

TIP = datetime(2026, 1, 13, 0, 30, tzinfo=UTC)
MOMENT = TIP - timedelta(hours=2)


def _events() -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": ["e1", "e2", "e3"], "home_team": ["Boston Celtics", "Utah Jazz", "Miami Heat"],
        "away_team": ["Miami Heat", "Denver Nuggets", "Orlando Magic"],
        "commence_time": [TIP, TIP + timedelta(hours=1), TIP + timedelta(hours=5)],  # e3: beyond the horizon
    })  # fmt: skip


def _odds(age: timedelta) -> pd.DataFrame:
    rows = []
    for event, home, away in (("e1", "Boston Celtics", "Miami Heat"), ("e2", "Utah Jazz", "Denver Nuggets"),
                              ("e3", "Miami Heat", "Orlando Magic")):  # fmt: skip
        for book, point, home_price in (
            ("fanduel", -5.5, 1.91),
            ("draftkings", -5.0, 1.87),
            ("betmgm", -5.5, 1.95),
        ):
            rows += [
                (event, book, "spreads", home, point, home_price),
                (event, book, "spreads", away, -point, 1.91),
            ]
        rows.append((event, "pinnacle", "h2h", home, np.nan, 1.5))
    frame = pd.DataFrame(
        rows, columns=["event_id", "bookmaker", "market", "outcome", "point", "price_decimal"]
    )
    return frame.assign(snapshot_time=pd.Timestamp(MOMENT - age))


def test_sample_bets_take_the_home_spread_at_the_best_current_price() -> None:
    rows = sample_bet_rows(_odds(timedelta(minutes=30)), _events(), placed_at=MOMENT, horizon=timedelta(hours=3),
                           max_age=timedelta(minutes=90))  # fmt: skip
    assert [r["event_id"] for r in rows] == ["e1", "e2"]  # e3 tips off after the horizon
    first = rows[0]
    assert (first["venue"], first["line"], first["price_decimal"]) == ("betmgm", -5.5, 1.95)
    assert (first["source"], first["side"], first["market"], first["model_id"]) == (
        "manual",
        "home",
        "spreads",
        None,
    )
    assert first["note"] == SAMPLE_BET_NOTE
    assert first["placed_at"] == MOMENT
    assert len({r["bet_key"] for r in rows}) == 2
    # prices older than the bound are not bet
    assert sample_bet_rows(_odds(timedelta(minutes=91)), _events(), placed_at=MOMENT, horizon=timedelta(hours=3),
                           max_age=timedelta(minutes=90)) == []  # fmt: skip


def test_the_demo_report_says_no_validated_model_and_counts_only_positive_ev_picks() -> None:
    results = {
        "predict": {
            "predictions_written": 0, "picks": 0, "paper_bets": None,
            "models": {"spreads": {"market": "spreads", "status": "no validated model", "model": None}},
            "recommendations": [],
        }
    }  # fmt: skip
    text = "\n".join(model_summary_lines(results))
    assert "predict spreads: **no validated model**: no pick published" in text
    assert "0 recommendations" in text

    scored = [
        {"event_id": "e1", "market": "spreads", "outcome": "Boston Celtics", "best_point": -5.5, "best_venue": "x",
         "best_price_decimal": 1.95, "expected_clv": 0.01, "exp_return": 0.02, "recommended": True,
         "model": "model 4 ridge (data 2026-01-01 to 2026-01-12, skill +0.0300 [+0.0100, +0.0500])"},
        {"event_id": "e1", "market": "spreads", "outcome": "Miami Heat", "best_point": 5.5, "best_venue": "x",
         "best_price_decimal": 1.87, "expected_clv": -0.03, "exp_return": -0.06, "recommended": False},
    ]  # fmt: skip
    results = {"predict": {"predictions_written": 2, "picks": 1, "recommendations": scored,
                           "models": {"spreads": {"model": {"id": 4}, "label": scored[0]["model"]}}}}  # fmt: skip
    lines = model_summary_lines(results)
    assert any("1 recommendations (positive expected return)" in line for line in lines)
    assert sum("Miami Heat" in line for line in lines) == 0  # the negative-EV side is not a recommendation
    assert any("expected CLV +1.00 pp, expected return +2.00%; model 4 ridge" in line for line in lines)


def test_the_ledger_section_marks_sample_bets() -> None:
    now = TIP + timedelta(hours=6)
    frame = pd.DataFrame({
        "id": [1, 2], "source": ["manual", "manual"], "note": [SAMPLE_BET_NOTE, SAMPLE_BET_NOTE], "model": [None] * 2,
        "market": ["spreads"] * 2, "venue": ["betmgm"] * 2, "placed_at": [MOMENT] * 2, "commence_time": [TIP] * 2,
        "stake": [1.0] * 2, "price_decimal": [1.95] * 2, "clv_prob": [0.01, -0.02], "result": ["win", "loss"],
        "profit": [0.95, -1.0], "expected_return": [None] * 2, "side": ["home"] * 2, "line": [-5.5, -3.0],
        "outcome": ["Boston Celtics", "Utah Jazz"], "home_team": ["Boston Celtics", "Utah Jazz"],
        "away_team": ["Miami Heat", "Denver Nuggets"], "close_prob": [0.52, 0.49],
    })  # fmt: skip
    ledger = {
        "report": ledger_report(frame, now=now),
        "bets": bet_status(frame, now=now).to_dict(orient="records"),
    }
    text = "\n".join(ledger_lines(ledger, None))
    assert "In this run: 0 paper bets (model picks), 2 sample bets." in text
    assert "**no validated model**" in text
    assert text.count("| sample |") == 2


def test_the_ledger_section_shows_the_fees_paid_on_polymarket_picks() -> None:
    now = TIP + timedelta(hours=6)
    frame = pd.DataFrame({
        "id": [1, 2, 3], "source": ["paper"] * 3, "note": [None] * 3, "model": ["model 4 ridge"] * 3,
        "market": ["h2h"] * 3, "venue": ["polymarket", "polymarket", "betmgm"], "placed_at": [MOMENT] * 3,
        "commence_time": [TIP] * 3, "stake": [20.0, 10.0, 5.0], "price_decimal": [2.3, 2.5, 1.9],
        "fill_price": [0.43, 0.40, None], "shares": [46.0, 25.0, None], "fee_rate": [0.0171, 0.0, None],
        "clv_prob": [0.01, -0.02, 0.0], "result": ["win", "loss", "win"], "profit": [26.0, -10.0, 4.5],
        "expected_return": [0.02] * 3, "side": ["away", "home", "home"], "line": [None] * 3,
        "outcome": ["Miami Heat", "Utah Jazz", "Boston Celtics"], "home_team": ["Boston Celtics", "Utah Jazz", "Boston Celtics"],
        "away_team": ["Miami Heat", "Denver Nuggets", "Miami Heat"], "close_prob": [0.45, 0.38, 0.55],
    })  # fmt: skip
    ledger = {
        "report": ledger_report(frame, now=now),
        "bets": bet_status(frame, now=now).to_dict(orient="records"),
    }
    text = "\n".join(ledger_lines(ledger, None))
    fee = 46.0 * 0.43 * 0.0171
    assert (
        f"Polymarket bets: 2, filled on the stored book at the stake with each market's fee terms from Gamma; fees paid {fee:.2f} (1 of 2 bets paid a fee"
        in text
    )
    rows = [line for line in text.splitlines() if line.startswith(("| 1 |", "| 3 |"))]
    assert f"| {fee:.4f} |" in rows[0]
    assert "| 1.900 | 0.526 | - |" in rows[1]  # a sportsbook bet pays no fee


def test_the_backtest_line_says_how_polymarket_was_priced_and_the_fees() -> None:
    from odds_analytics.demo_report import backtest_lines

    counts = {"polymarket_bets": 3, "polymarket_bets_on_book": 2, "polymarket_bets_best_ask_only": 1,
              "polymarket_bets_fee_assumed": 1, "polymarket_fees": 0.0421}  # fmt: skip
    lines = backtest_lines([{"strategy": "basic_ev", "metrics": {"bets": 3, "counts": counts}}])
    assert lines[0].startswith("- backtest `basic_ev`: bets")
    assert lines[1].startswith(
        "  - Polymarket: 3 bets, 2 filled on the stored book at the stake, 1 at the best ask"
    )
    assert "fees 0.0421 units" in lines[1]
    assert backtest_lines([{"strategy": "flat", "metrics": {"bets": 2, "counts": {"bets": 2}}}])[1:] == []
