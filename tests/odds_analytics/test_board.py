"""The board (rows, markdown artifact, the `odds board` table when piped), `--at` checks, paper-bet rows of
picks filled on a Polymarket book."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from odds_analytics.board import BOARD_HEADERS, board_cells, board_markdown, board_rows, check_decision_time
from odds_analytics.ledger import paper_bet_rows
from odds_models.errors import BadArgument

TIP = datetime(2026, 12, 5, 0, 30, tzinfo=UTC)
NOW = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)


def _rec(**over: object) -> dict:
    rec = {
        "event_id": "e1", "market": "h2h", "side": "home", "outcome": "Boston Celtics", "current": 0.5,
        "predicted_delta": 0.02, "predicted_close": 0.52, "best_venue": "polymarket", "best_point": None,
        "best_price_decimal": 2.0, "p_close": 0.52, "expected_clv": 0.02, "exp_return": 0.04, "edge_now": 0.0,
        "recommended": True,
        "price_top": 2.05, "p_now": 0.50, "stake": 12.5, "stake_limit": "kelly", "shares": 25.0, "fill_price": 0.49,
        "fee": 0.25, "fee_rate": 0.25 / 12.25, "fee_terms": "0.03·(p(1−p))^1", "fee_assumed": False, "token_id": "7",
        "depth_ok": True, "depth_dollars": 500.0, "book_time": NOW, "home_team": "Boston Celtics",
        "away_team": "Miami Heat", "commence_time": TIP, "model_id": 3, "decision_time": NOW,
    }  # fmt: skip
    rec.update(over)
    return rec


def test_board_rows_carry_clv_in_points_and_the_return_on_stake() -> None:
    later = _rec(event_id="e2", commence_time=TIP + timedelta(hours=2), recommended=False, stake=0.0)
    spread = _rec(market="spreads", side="away", outcome="Miami Heat", best_point=5.5, best_venue="draftkings",
                  best_price_decimal=1.95, p_close=0.55, predicted_close=6.5, shares=None, fee=None,
                  fee_terms=None)  # fmt: skip
    rows = board_rows([later, spread, _rec()])
    assert [(r["event_id"], r["market"]) for r in rows] == [("e1", "h2h"), ("e1", "spreads"), ("e2", "h2h")]
    first = rows[0]
    assert first["clv_pp"] == pytest.approx(100 * (0.52 - 1 / 2.0))  # 2.0 pp
    assert first["expected_return"] == pytest.approx(0.52 * 2.0 - 1)  # 4 %
    assert first["predicted_line"] is None
    assert rows[1]["predicted_line"] == 6.5
    assert rows[1]["clv_pp"] == pytest.approx(100 * (0.55 - 1 / 1.95))
    cells = dict(zip(BOARD_HEADERS, board_cells(rows[1], ZoneInfo("America/New_York")), strict=True))
    assert cells["tip-off"] == "Fri 04 Dec 19:30 EST"  # 00:30 UTC on the 5th
    assert cells["line"] == "+5.5"
    assert cells["fee"] == ""  # a sportsbook pays no Polymarket fee
    assert board_cells(first, UTC)[BOARD_HEADERS.index("fee")] == "0.25"


def test_board_markdown_is_the_artifact_table() -> None:
    md = board_markdown(board_rows([_rec(fee_terms="0.03·(p(1−p))^1 (assumed)")]), tz=UTC, decision_time=NOW,
                        bankroll=1000.0)  # fmt: skip
    lines = md.splitlines()
    assert lines[0] == "# CLV board at 2026-12-04 18:00 UTC"
    assert "1 sides, 1 picks; stakes for a bankroll of 1,000.00" in md
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 3  # header, rule, one row
    assert "| 0.25 (assumed) |" in table[2]
    assert "No upcoming game" in board_markdown([], decision_time=NOW)


def test_decision_time_must_be_aware_and_in_range() -> None:
    assert check_decision_time(datetime(2024, 1, 2, 3, tzinfo=ZoneInfo("Europe/Paris")), NOW) == datetime(
        2024, 1, 2, 2, tzinfo=UTC
    )
    naive = datetime(2024, 1, 2)  # noqa: DTZ001 - the naive time under test
    for bad in (naive, datetime(1999, 12, 31, tzinfo=UTC), NOW + timedelta(hours=1)):
        with pytest.raises(BadArgument, match="--at"):
            check_decision_time(bad, NOW)


def test_paper_bet_of_a_polymarket_fill_keeps_its_shares_fill_and_fee() -> None:
    rows, skipped = paper_bet_rows([_rec()], default_stake=1.0, fee_rate=0.0)
    assert skipped == []
    row = rows[0]
    assert (row["stake"], row["shares"], row["fill_price"], row["token_id"]) == (12.5, 25.0, 0.49, "7")
    assert row["price_decimal"] == 2.0
    assert row["fill_price"] * (1 + row["fee_rate"]) == pytest.approx(12.25 / 25.0 * (1 + 0.25 / 12.25))


def test_odds_board_piped_is_not_cut_to_80_columns(odds, monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.model

    calls = []

    async def fake_predict(*args: object, **kwargs: object) -> dict:
        calls.append((args, kwargs))
        rows = board_rows([_rec(), _rec(side="away", outcome="Miami Heat", recommended=False, stake=0.0)])
        return {"decision_time": NOW, "bankroll": 500.0, "board": rows, "recommendations": []}

    monkeypatch.setattr(flows.model, "predict", fake_predict)
    code, out, err = odds("board", "--bankroll", "500", "--tz", "UTC")
    assert code == 0, err
    assert calls[0][0][3] == 500.0  # the bankroll reaches the flow
    assert calls[0][1] == {"record": False}  # the board writes nothing
    assert "…" not in out
    header = next(line for line in out.splitlines() if "tip-off" in line)
    assert all(h in header for h in BOARD_HEADERS)
    assert max(len(line) for line in out.splitlines()) > 80
    row = next(line for line in out.splitlines() if "Boston Celtics" in line and "polymarket" in line)
    assert "Sat 05 Dec 00:30 UTC" in row
    assert "+2.00" in row  # CLV pp
    code, out, _ = odds("board", "--json", "--picks")
    payload = json.loads(out)
    assert [r["side"] for r in payload["rows"]] == ["Boston Celtics"]
    assert payload["rows"][0]["commence_time"] == "2026-12-05T00:30:00+00:00"


def test_odds_model_predict_shows_price_at_stake_fee_and_stake(odds, monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.model

    async def fake_predict(*args: object, **kwargs: object) -> dict:
        assert args[3] == 250.0  # --bankroll
        assert args[4] == datetime(2026, 12, 4, 17, 0, tzinfo=UTC)  # --at, in UTC
        rec = _rec(fee_assumed=True)
        models = {"h2h": {"status": "live", "label": "model 3 ols"},
                  "spreads": {"status": "no validated model", "model": None}}  # fmt: skip
        return {"decision_time": args[4], "bankroll": 250.0, "board": board_rows([rec]), "recommendations": [rec],
                "predictions_written": 2, "paper_bets": None, "models": models, "picks": 1}  # fmt: skip

    monkeypatch.setattr(flows.model, "predict", fake_predict)
    monkeypatch.setattr("odds_models.clock.now", lambda: NOW)
    code, out, err = odds("model", "predict", "--bankroll", "250", "--at", "2026-12-04T12:00:00-05:00")
    assert code == 0, err
    row = next(line for line in out.splitlines() if "polymarket" in line)
    for cell in ("2.050", "2.000", "0.25 (assumed)", "12.50", "+2.00", "+4.00%"):
        assert cell in row  # top, paid, fee, stake, CLV pp, expected return
    assert "stakes for a bankroll of 250.00" in out
    assert "h2h: model 3 ols" in out
    assert "spreads: no validated model: no pick" in out
    odds.fails(2, "--at.*no time zone", "model", "predict", "--at", "2026-12-04T12:00:00")
