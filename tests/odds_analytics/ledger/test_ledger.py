"""The bet ledger's pure parts: reading and checking a bet, the CSV, paper bets, settlement, the report."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from odds_analytics.fair import closing_fair_prices, fair_prices
from odds_analytics.ledger import (
    CSV_COLUMNS,
    GameFacts,
    InvalidBet,
    TokenFacts,
    bet_key,
    bet_status,
    draft_from_fields,
    drafts_from_csv,
    ledger_report,
    paper_bet_rows,
    parse_game_ref,
    pick_event,
    report_markdown,
    resolve_bet,
    settlement_updates,
    summary_cells,
)

TIP = datetime(2026, 1, 13, 0, 30, tzinfo=UTC)
NOW = TIP - timedelta(hours=2)
GAME = GameFacts(
    "e1", "Boston Celtics", "Miami Heat", TIP, books=frozenset({"pinnacle", "draftkings"}),
    tokens=(TokenFacts("t-heat", "moneyline", "Heat"), TokenFacts("t-cel", "moneyline", "Celtics"),
            TokenFacts("t-cel-sp", "spread", "Celtics", "Boston Celtics", -5.5),
            TokenFacts("t-heat-sp", "spread", "Heat", "Boston Celtics", -5.5),
            TokenFacts("t-over", "total", "Over", None, 220.5), TokenFacts("t-prop", "player_prop", "Yes")),
)  # fmt: skip
BOOK = {"event": "e1", "market": "spreads", "side": "Heat", "line": "+5.5", "venue": "draftkings",
        "price": "1.91", "stake": "10"}  # fmt: skip


def resolve(**changes: str | None) -> dict:
    return resolve_bet(draft_from_fields({**BOOK, **changes}), GAME, now=NOW, default_fee_rate=0.0)


def rejected(field: str, **changes: str | None) -> str:
    with pytest.raises(InvalidBet) as caught:
        resolve(**changes)
    assert caught.value.field == field, str(caught.value)
    return str(caught.value)


# --------------------------------------------------------------------------------------------------------
# One bet
# --------------------------------------------------------------------------------------------------------


def test_a_sportsbook_bet_takes_its_side_from_a_team_name_and_american_odds() -> None:
    row = resolve(price="-110", side="miami heat")
    assert (row["side"], row["outcome"], row["line"]) == ("away", "Miami Heat", 5.5)
    assert row["price_decimal"] == pytest.approx(1 + 100 / 110)
    assert row["placed_at"] == NOW  # default: now
    assert resolve(price="+150")["price_decimal"] == pytest.approx(2.5)
    assert resolve(market="totals", side="UNDER", line="221.5")["outcome"] == "Under"
    h2h = resolve(market="h2h", side="home", line=None)
    assert (h2h["outcome"], h2h["line"]) == ("Boston Celtics", None)


@pytest.mark.parametrize(
    ("field", "changes", "says"),
    [
        ("venue", {"venue": "fanduel"}, "books: draftkings, pinnacle"),
        ("side", {"side": "Lakers"}, "Miami Heat @ Boston Celtics"),
        ("side", {"market": "totals", "side": "home", "line": "221.5"}, "over or under"),
        ("market", {"market": "moneyline"}, "h2h, spreads or totals"),
        ("market", {"market": None}, "market is required"),
        ("line", {"line": None}, "required"),
        ("line", {"market": "h2h", "side": "home"}, "no line"),
        ("line", {"line": "55"}, "NBA spread"),
        ("line", {"market": "totals", "side": "over", "line": "22.5"}, "NBA total"),
        ("price", {"price": "0.9"}, "above 1"),
        ("price", {"price": "-50"}, "American"),
        ("price", {"price": "abc"}, "not a number"),
        ("stake", {"stake": "0"}, "above 0"),
        ("stake", {"stake": "nan"}, "finite"),
        ("placed_at", {"placed_at": "2026-01-12T20:00:00"}, "no time zone"),
        ("placed_at", {"placed_at": "yesterday"}, "ISO 8601"),
        ("placed_at", {"placed_at": (NOW + timedelta(hours=1)).isoformat()}, "future"),
        ("token", {"token": "t-heat"}, "Polymarket bets only"),
    ],
)
def test_a_bad_bet_names_its_field(field: str, changes: dict, says: str) -> None:
    assert says in rejected(field, **changes)


def test_a_bet_at_tip_off_on_a_game_already_started_is_refused() -> None:
    with pytest.raises(InvalidBet, match="in-play"):
        resolve_bet(draft_from_fields(BOOK), GAME, now=TIP + timedelta(minutes=5), default_fee_rate=0.0)
    # placed before tip-off but entered later: fine
    row = resolve_bet(draft_from_fields({**BOOK, "placed_at": "2026-01-12T19:00:00-05:00"}), GAME,
                      now=TIP + timedelta(hours=5), default_fee_rate=0.0)  # fmt: skip
    assert row["placed_at"] == datetime(2026, 1, 13, 0, 0, tzinfo=UTC)


def test_a_polymarket_bet_takes_market_side_and_line_from_its_token() -> None:
    pm = {"venue": "polymarket", "token": "t-heat-sp", "fill_price": "0.50", "shares": "50", "fee_rate": "0.02",
          "market": None, "side": None, "line": None, "price": None, "stake": None}  # fmt: skip
    row = resolve(**pm)
    assert (row["market"], row["side"], row["outcome"], row["line"]) == ("spreads", "away", "Miami Heat", 5.5)
    assert row["price_decimal"] == pytest.approx(1 / 0.51)  # the fee is part of the price paid
    assert row["stake"] == pytest.approx(25.5)
    assert resolve(**{**pm, "token": "t-cel-sp"})["line"] == -5.5
    over = resolve(**{**pm, "token": "t-over", "shares": None, "stake": "11", "fee_rate": "0"})
    assert (over["market"], over["side"], over["line"], over["shares"]) == ("totals", "over", 220.5, 22.0)
    h2h = resolve(**{**pm, "token": "t-heat", "fee_rate": None})
    assert (h2h["market"], h2h["outcome"], h2h["fee_rate"]) == ("h2h", "Miami Heat", 0.0)  # the default fee
    # what the user gives must agree with the token
    assert "spreads token" in rejected("market", **{**pm, "market": "h2h"})
    assert "Miami Heat side" in rejected("side", **{**pm, "side": "Celtics"})
    assert "at 5.5" in rejected("line", **{**pm, "line": "6.5"})
    assert "not a Polymarket" in rejected("token", **{**pm, "token": "nope"})
    assert "not tracked" in rejected("token", **{**pm, "token": "t-prop"})
    assert "fill-price" in rejected("price", **{**pm, "price": "2.0"})
    assert "required" in rejected("fill_price", **{**pm, "fill_price": None})
    assert "shares or stake" in rejected("shares", **{**pm, "shares": None})
    assert "give one of them" in rejected("stake", **{**pm, "stake": "30"})
    with pytest.raises(InvalidBet, match="probability"):
        draft_from_fields({**pm, "fill_price": "1.2", "event": "e1"})


def test_games_are_named_by_teams_and_date() -> None:
    ref = parse_game_ref("MIA @ boston celtics 2026-01-12")
    assert ref is not None
    assert (ref.away_team, ref.home_team) == ("Miami Heat", "Boston Celtics")
    assert parse_game_ref("0123456789abcdef0123456789abcdef") is None  # an event id
    with pytest.raises(InvalidBet, match="not an NBA team"):
        parse_game_ref("Heat @ Springfield Atoms")
    later = GameFacts("e2", "Boston Celtics", "Miami Heat", TIP + timedelta(days=30))
    assert pick_event(ref, [later, GAME], NOW).event_id == "e1"  # the US/Eastern date 2026-01-12
    undated = parse_game_ref("Heat @ Celtics")
    assert undated is not None
    assert pick_event(undated, [later, GAME], NOW).event_id == "e1"  # the next one after placing
    assert pick_event(undated, [later, GAME], TIP + timedelta(hours=1)).event_id == "e2"
    with pytest.raises(InvalidBet, match="no stored game"):
        pick_event(parse_game_ref("Celtics @ Heat"), [GAME], NOW)  # type: ignore[arg-type]


def test_the_key_of_a_bet() -> None:
    row = resolve()
    assert bet_key(row) == bet_key({**row, "placed_at": row["placed_at"].astimezone(UTC)})
    assert bet_key(row) != bet_key({**row, "stake": 11.0})
    assert bet_key(row) != bet_key({**row, "placed_at": row["placed_at"] + timedelta(minutes=1)})
    paper = {**row, "source": "paper"}
    assert bet_key(paper) == bet_key({**paper, "price_decimal": 2.5, "placed_at": NOW + timedelta(hours=1)})


# --------------------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------------------

HEADER = "placed_at,event,market,side,line,venue,price,stake\n"


def test_a_csv_with_a_bom_and_blank_lines_reads_with_its_line_numbers() -> None:
    text = "\ufeff" + HEADER + "2026-01-12T22:00:00Z,e1,h2h,home,,pinnacle,1.6,10\n\n" + \
        '2026-01-12T22:00:00Z,"Heat @ Celtics",spreads,Heat,5.5,draftkings,-110,5\n'  # fmt: skip
    drafts, errors = drafts_from_csv(text)
    assert errors == []
    assert [line for line, _ in drafts] == [2, 4]
    assert drafts[1][1].price == pytest.approx(1 + 100 / 110)


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("", 1, "empty"),
        ("placed_at,game,market,side,venue\n", 1, "unknown column(s) 'game'; missing column(s) event"),
        ("placed_at,event,market,side,venue,venue\n", 1, "repeated"),
        (HEADER, 2, "no bets"),
        (HEADER + "2026-01-12T22:00:00Z,e1,h2h\n", 2, "3 values for 8 columns"),
        (HEADER + "2026-01-12T22:00:00Z,e1,h2h,home,,pinnacle,1.6,10\n2026-01-12 22:00,e1,h2h,home,,pinnacle,1.6,10\n",
         3, "no time zone"),
    ],
)  # fmt: skip
def test_a_bad_csv_reports_the_line(text: str, line: int, says: str) -> None:
    _, errors = drafts_from_csv(text)
    assert [(n, says in str(e)) for n, e in errors] == [(line, True)], errors
    if line == 1:
        assert ",".join(CSV_COLUMNS) in str(errors[0][1])  # the message shows the header to use


# --------------------------------------------------------------------------------------------------------
# Paper bets
# --------------------------------------------------------------------------------------------------------


def test_paper_bets_from_picks() -> None:
    picks = [
        {"event_id": "e1", "market": "spreads", "side": "away", "outcome": "Miami Heat", "best_venue": "lowvig",
         "best_point": 5.5, "best_price_decimal": 1.93, "decision_time": pd.Timestamp(NOW), "model_id": 3,
         "expected_clv": 0.021 / 1.93, "exp_return": 0.021},
        {"event_id": "e1", "market": "h2h", "side": "home", "outcome": "Boston Celtics", "best_venue": "polymarket",
         "best_point": None, "best_price_decimal": 1 / (0.6 * 1.02), "decision_time": NOW},
        {"event_id": "e1", "market": "h2h", "side": "away", "outcome": "Miami Heat", "best_venue": "polymarket",
         "best_point": float("nan"), "best_price_decimal": 2.4, "decision_time": NOW},
    ]  # fmt: skip
    rows, skipped = paper_bet_rows(picks, default_stake=1.0, fee_rate=0.02,
                                   tokens={("e1", "Boston Celtics"): "t-cel"})  # fmt: skip
    assert len(rows) == 2
    assert len(skipped) == 1
    assert "no Polymarket token" in skipped[0]
    book, pm = rows
    assert (book["source"], book["line"], book["stake"], book["model_id"]) == ("paper", 5.5, 1.0, 3)
    assert book["expected_return"] == 0.021  # the pick's expected return, never its expected CLV (pp)
    assert book["placed_at"] == NOW
    assert book["placed_at"].tzinfo is not None
    assert pm["token_id"] == "t-cel"
    assert pm["fill_price"] == pytest.approx(0.6)  # the published price without the fee
    assert pm["shares"] == pytest.approx(1 / (0.6 * 1.02))


# --------------------------------------------------------------------------------------------------------
# Settlement and report
# --------------------------------------------------------------------------------------------------------


def _ledger(
    n: int, clv: list[float | None], results: list[str | None], *, stake: float = 1.0
) -> pd.DataFrame:
    price = 2.0
    profit = [None if r is None else (stake * (price - 1) if r == "win" else -stake if r == "loss" else 0.0)
              for r in results]  # fmt: skip
    return pd.DataFrame({
        "id": range(n), "source": ["paper"] * n, "model": [None] * n, "market": ["h2h"] * n, "venue": ["x"] * n,
        "placed_at": [NOW] * n, "commence_time": [TIP] * n, "stake": [stake] * n, "price_decimal": [price] * n,
        "clv_prob": clv, "result": results, "profit": profit, "expected_return": [0.05] * n,
    })  # fmt: skip


def test_intervals_need_ten_bets_and_every_figure_carries_its_count() -> None:
    clv = [0.01, -0.02, 0.03, 0.0, 0.015, -0.005, 0.02, 0.01, -0.01]
    small = ledger_report(_ledger(9, clv, ["win", "loss"] * 4 + ["push"]), now=TIP + timedelta(hours=5))
    cells = summary_cells(small["overall"])
    assert cells["CLV 95 % interval"] == "n too small"
    assert cells["ROI 95 % interval"] == "n too small"
    assert cells["CLV mean (n/N)"] == f"{np.mean(clv) * 100:+.2f} pp (9/9)"

    clv10 = [*clv, None, 0.04]  # one bet without a close
    report = ledger_report(_ledger(11, clv10, ["win", "loss"] * 5 + ["win"]), now=TIP + timedelta(hours=5))
    overall = report["overall"]
    have = np.array([c for c in clv10 if c is not None])
    half = stats.t.ppf(0.975, 9) * have.std(ddof=1) / math.sqrt(10)
    assert overall["clv_n"] == 10
    assert overall["bets"] == 11
    assert overall["clv_ci_pp"] == pytest.approx([100 * (have.mean() - half), 100 * (have.mean() + half)])
    assert overall["beat_close"] == 6
    assert overall["no_close"] == 1
    assert report["open_reasons"] == {"no close": 1}
    # ROI: 6 wins (+1) and 5 losses (-1) on 11 units; the ratio estimator's interval
    profit = np.array([1.0, -1.0] * 5 + [1.0])
    roi = profit.sum() / 11
    se = math.sqrt(((profit - roi) ** 2).sum() / (11 * 10))
    assert overall["roi"] == pytest.approx(roi)
    assert overall["roi_ci"] == pytest.approx(
        [roi - stats.t.ppf(0.975, 10) * se, roi + stats.t.ppf(0.975, 10) * se]
    )
    text = "\n".join(report_markdown(report))
    assert "(10/11)" in text
    assert "n too small" not in text.split("| **all**")[1].split("\n")[0]
    assert "no close 1" in text
    assert "includes 0 (10 bets)" in text  # the verdict: mean +0.90 pp, interval across 0
    assert "Too few bets with a close (9)" in "\n".join(report_markdown(small))


def test_bet_status_reasons() -> None:
    frame = _ledger(5, [None, None, None, 0.01, 0.01], [None, None, None, None, "win"])
    frame["commence_time"] = [TIP + timedelta(hours=1), TIP - timedelta(minutes=5), TIP - timedelta(hours=1),
                              TIP - timedelta(hours=1), TIP - timedelta(hours=4)]  # fmt: skip
    status = bet_status(frame, now=TIP)
    assert list(status["open_reason"]) == [
        "before tip-off",
        "awaiting close",
        "no close",
        "awaiting result",
        None,
    ]
    assert list(status["status"]) == ["open"] * 4 + ["settled"]
    void = bet_status(frame.assign(result="void"), now=TIP)
    assert set(void["status"]) == {"void"}


def test_settlement_takes_the_close_after_tip_off_and_results_when_final() -> None:
    closing = pd.DataFrame({
        "event_id": ["e1"] * 4, "bookmaker": ["pinnacle", "pinnacle", "dk", "dk"], "market": ["h2h"] * 4,
        "outcome": ["Boston Celtics", "Miami Heat"] * 2, "point": [np.nan] * 4, "price_decimal": [1.6, 2.5, 1.5, 2.7],
        "snapshot_time": [TIP - timedelta(minutes=20)] * 4, "commence_time": [TIP] * 4, "source": ["snapshots"] * 4,
    })  # fmt: skip
    fair = closing_fair_prices(closing, basis="sharp_consensus", sharp_books=["pinnacle", "lowvig"])
    assert set(fair["basis"]) == {"sharp"}
    bets = pd.DataFrame({
        "id": [1, 2, 3], "event_id": ["e1"] * 3, "market": ["h2h"] * 3, "side": ["away", "home", "home"],
        "outcome": ["Miami Heat", "Boston Celtics", "Boston Celtics"], "line": [None] * 3,
        "price_decimal": [2.7, 1.62, 1.62], "stake": [10.0, 1.0, 1.0], "close_prob": [np.nan, np.nan, 0.6],
        "result": [None, None, "win"], "commence_time": [TIP] * 3, "status": ["final"] * 3,
        "home_score": [110] * 3, "away_score": [100] * 3,
    })  # fmt: skip
    early, none = settlement_updates(bets, fair, now=TIP + timedelta(minutes=10))
    assert early == []
    assert len(none) == 2
    closes, results = settlement_updates(bets, fair, now=TIP + timedelta(hours=3))
    p_heat = (1 / 2.5) / (1 / 1.6 + 1 / 2.5)
    assert {c["id"]: round(c["clv_prob"], 12) for c in closes} == {1: round(p_heat - 1 / 2.7, 12),
                                                                   2: round(1 - p_heat - 1 / 1.62, 12)}  # fmt: skip
    assert {r["id"]: (r["result"], r["profit"]) for r in results} == {
        1: ("loss", -10.0),
        2: ("win", pytest.approx(0.62)),
    }
    cancelled = settlement_updates(bets.assign(status="cancelled"), fair, now=TIP + timedelta(hours=3))
    assert cancelled[0] == []
    assert {r["result"] for r in cancelled[1]} == {"void"}


def test_sharp_consensus_is_the_median_of_the_sharp_books_else_every_book() -> None:
    rows = []
    for book, home in (("pinnacle", 1.60), ("lowvig", 1.66), ("dk", 1.40), ("fd", 1.42)):
        rows += [("e1", book, "h2h", "H", home), ("e1", book, "h2h", "A", 1 / (1.04 - 1 / home))]
    rows += [("e2", "dk", "h2h", "H", 1.9), ("e2", "dk", "h2h", "A", 1.9)]
    odds = pd.DataFrame(rows, columns=["event_id", "bookmaker", "market", "outcome", "price_decimal"]).assign(
        point=np.nan
    )
    fair = fair_prices(odds, basis="sharp_consensus", sharp_books=["pinnacle", "lowvig"]).set_index(
        ["event_id", "outcome"]
    )
    sharp = fair_prices(odds[odds["bookmaker"].isin(["pinnacle", "lowvig"])], basis="consensus")
    assert fair.loc[("e1", "H"), "fair_prob"] == pytest.approx(
        sharp.set_index("outcome").loc["H", "fair_prob"]
    )
    assert fair.loc[("e1", "H"), "basis"] == "sharp"
    assert fair.loc[("e2", "H"), "basis"] == "consensus"
    assert fair.loc[("e2", "H"), "fair_prob"] == pytest.approx(0.5)


def test_the_demo_report_shows_the_ledger_in_tip_off_order(tmp_path) -> None:
    from odds_analytics.demo_report import ledger_lines
    from tasks.storage.demo_report import render_report

    frame = _ledger(3, [0.02, -0.01, None], ["win", "loss", None])
    frame = frame.assign(
        id=[7, 3, 9], side=["home"] * 3, outcome=["Boston Celtics", "Miami Heat", "Over"], line=[None, None, 221.5],
        market=["h2h", "h2h", "totals"], close_prob=[0.52, 0.49, None], home_team="Boston Celtics",
        away_team="Miami Heat", commence_time=[TIP + timedelta(hours=2), TIP, TIP + timedelta(days=2)],
    )  # fmt: skip
    now = TIP + timedelta(hours=6)
    records = bet_status(frame, now=now).to_dict(orient="records")
    ledger = {"report": ledger_report(frame, now=now), "bets": records}
    lines = ledger_lines(ledger, "cumulative_clv.png")
    table = [line for line in lines if line.startswith(("| 7 ", "| 3 ", "| 9 "))]
    assert [row.split(" | ")[0] for row in table] == ["| 3", "| 7", "| 9"]  # tip-off order, not id order
    assert "| +2.00 | win | +1.00 | settled |" in table[1]
    assert "totals Over 221.5" in table[2]
    assert "open (before tip-off)" in table[2]
    assert any("Too few bets with a close (2)" in line for line in lines)
    assert "![cumulative CLV](cumulative_clv.png)" in lines
    assert ledger_lines({"report": ledger_report(frame.iloc[:0], now=now), "bets": []}, None)[-2].startswith(
        "No bets"
    )

    figures = {"counts": {}, "events_by_status": {}, "fetch_logs": [], "quality": [], "links": {}, "backtests": [],
               "models": [], "chart": None, "ledger": ledger}  # fmt: skip
    steps = {"ticks": 1, "runs": {}, "skipped": {}, "failures": []}
    replay = {"credits_used": 0, "credits_by_route": {}, "calls": {}}
    meta = {"source": "simulated", "seed": 7, "start": TIP, "end": now, "faults": False, "wall": 1.0}
    path = render_report(figures=figures, steps=steps, replay=replay, meta=meta, folder=tmp_path)
    assert "## Bet ledger" in path.read_text()
    assert (tmp_path / "cumulative_clv.png").stat().st_size > 5_000
