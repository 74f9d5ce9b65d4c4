"""Paper bets from published picks, and settling bets at the close and after the game (pure)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from odds_analytics.backtest.settlement import settle
from odds_analytics.fair import closing_value
from odds_analytics.ledger.bets import CLOSE_DELAY, bet_key

# --------------------------------------------------------------------------------------------------------
# Paper bets
# --------------------------------------------------------------------------------------------------------


def paper_bet_rows(
    picks: Iterable[Mapping[str, Any]],
    *,
    default_stake: float,
    fee_rate: float,
    tokens: Mapping[tuple[str, str], str] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Ledger rows of published picks (`PAPER_PICK_COLUMNS`), and why any pick was left out.

    A Polymarket pick needs its token: `token_id` on the pick, or `tokens[(event_id, outcome)]`.
    """
    rows, skipped = [], []
    for pick in picks:
        venue = str(pick["best_venue"])
        price = float(pick["best_price_decimal"])
        placed_at = pick["decision_time"]
        if not (math.isfinite(price) and price > 1.0) or placed_at is None:
            skipped.append(f"{pick['event_id']} {pick['market']} {pick['outcome']}: no price or time")
            continue
        stake = float(pick.get("stake") or default_stake)
        point = pick.get("best_point")
        # the pick's expected return on stake (`recommend.exp_return`), never its expected CLV (probability)
        expected = pick.get("exp_return", pick.get("expected_return"))
        row: dict[str, Any] = {
            "source": "paper",
            "placed_at": pd.Timestamp(placed_at).to_pydatetime(),
            "event_id": pick["event_id"],
            "market": pick["market"],
            "side": pick["side"],
            "outcome": pick["outcome"],
            "line": None if point is None or pd.isna(point) else float(point),
            "venue": venue,
            "token_id": None,
            "price_decimal": price,
            "fill_price": None,
            "fee_rate": None,
            "shares": None,
            "stake": stake,
            "model_id": pick.get("model_id"),
            "prediction_id": None,
            "expected_return": None if expected is None or pd.isna(expected) else float(expected),
            "note": None,
        }
        if venue == "polymarket":
            token = pick.get("token_id") or (tokens or {}).get((pick["event_id"], pick["outcome"]))
            if not token:
                skipped.append(f"{pick['event_id']} {pick['market']} {pick['outcome']}: no Polymarket token")
                continue
            fee = float(pick["fee_rate"]) if pick.get("fee_rate") is not None else fee_rate
            fill = (
                float(pick["fill_price"])
                if pick.get("fill_price") is not None
                else 1.0 / (price * (1.0 + fee))
            )
            # a pick filled on the book carries its shares (odds_analytics.venues); else stake x price
            shares = float(pick["shares"]) if pick.get("shares") else stake * price
            row.update(token_id=str(token), fill_price=fill, fee_rate=fee, shares=shares)
        row["bet_key"] = bet_key(row)
        rows.append(row)
    return rows, skipped


# --------------------------------------------------------------------------------------------------------
# Settlement
# --------------------------------------------------------------------------------------------------------


SAMPLE_BET_NOTE = (
    "sample bet: a fixed rule (home spread at the best current price), not a model's recommendation"
)


def sample_bet_rows(
    odds: pd.DataFrame,
    events: pd.DataFrame,
    *,
    placed_at: datetime,
    horizon: timedelta,
    max_age: timedelta,
    stake: float = 1.0,
) -> list[dict[str, Any]]:
    """Manual sample bets, one per game tipping off in (placed_at, placed_at + horizon]: the home side of the
    spread at the book with the best current price (no older than `max_age`; ties: the first book by name).

    What the demo records when no model passed the gate, so its ledger still shows bets settled against the
    close, marked `SAMPLE_BET_NOTE` (never a recommendation). `odds`: as-of rows (event_id, bookmaker,
    market, outcome, point, price_decimal, snapshot_time); `events`: event_id, home_team, commence_time.
    """
    from odds_analytics.staleness import fresh_quotes

    moment = pd.Timestamp(placed_at)
    tips = pd.to_datetime(events["commence_time"], utc=True)
    games = events[(tips > moment) & (tips <= moment + pd.Timedelta(horizon))]
    if games.empty or odds.empty:
        return []
    quotes = odds[(odds["market"] == "spreads") & odds["snapshot_time"].le(moment)]
    quotes, _ = fresh_quotes(quotes, max_age, moment)
    home = quotes.merge(games[["event_id", "home_team"]], on="event_id")
    home = home[(home["outcome"].astype(str) == home["home_team"]) & home["point"].notna()]
    home = home[home["price_decimal"].astype(float) > 1.0]
    rows = []
    for event_id, offers in home.groupby("event_id", sort=True):
        best = offers.sort_values(
            ["price_decimal", "bookmaker"], ascending=[False, True], kind="stable"
        ).iloc[0]
        row: dict[str, Any] = {
            "source": "manual", "placed_at": moment.to_pydatetime(), "event_id": str(event_id),
            "market": "spreads", "side": "home", "outcome": str(best["outcome"]), "line": float(best["point"]),
            "venue": str(best["bookmaker"]), "token_id": None, "price_decimal": float(best["price_decimal"]),
            "fill_price": None, "fee_rate": None, "shares": None, "stake": stake, "model_id": None,
            "prediction_id": None, "expected_return": None, "note": SAMPLE_BET_NOTE,
        }  # fmt: skip
        row["bet_key"] = bet_key(row)
        rows.append(row)
    return rows


def settlement_updates(
    bets: pd.DataFrame, closing_fair: pd.DataFrame, *, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What to write on open bets: (closes, results).

    `bets`: ledger rows still missing a close or a result, with their game's commence_time, status,
    home_score, away_score. A close is taken `CLOSE_DELAY` after tip-off (not for a postponed or cancelled
    game); a result once the game is final (win/loss/push, profit = stake x (price - 1), -stake, 0) or
    cancelled (void, 0). A bet with no close stays open: it is counted, never dropped.
    """
    if bets.empty:
        return [], []
    started = (pd.to_datetime(bets["commence_time"], utc=True) <= pd.Timestamp(now) - CLOSE_DELAY) & ~bets[
        "status"
    ].isin(["postponed", "cancelled"])
    need_close = bets[bets["close_prob"].isna() & started]
    closes = []
    if len(need_close):
        valued = closing_value(need_close.rename(columns={"line": "point"}), closing_fair)
        valued = valued[np.isfinite(valued["clv_prob"].to_numpy(dtype=float))]
        closes = [
            {"id": int(row.id), "close_prob": float(row.close_prob), "clv_prob": float(row.clv_prob),
             "close_line": None if pd.isna(row.close_point) else float(row.close_point),
             "close_basis": None if row.close_basis is None or pd.isna(row.close_basis) else str(row.close_basis)}
            for row in valued.itertuples(index=False)
        ]  # fmt: skip
    open_result = bets[bets["result"].isna()]
    final = open_result[open_result["status"] == "final"]
    settled = settle(final.rename(columns={"line": "point"})) if len(final) else final.assign(result=[])
    results = [
        {"id": int(row.id), "result": str(row.result), "profit": float(row.profit)}
        for row in settled[settled["result"] != "void"].itertuples(index=False)
    ]
    results += [
        {"id": int(row.id), "result": "void", "profit": 0.0}
        for row in open_result[open_result["status"] == "cancelled"].itertuples(index=False)
    ]
    return closes, results


def bet_status(bets: pd.DataFrame, *, now: datetime) -> pd.DataFrame:
    """`status` (settled, open, void) and `open_reason` per bet: before tip-off, awaiting close (in the
    `CLOSE_DELAY` after tip-off), no close (none was found), awaiting result."""
    result = bets["result"]
    has_close = bets["clv_prob"].notna()
    decided = result.isin(["win", "loss", "push"])
    tip = pd.to_datetime(bets["commence_time"], utc=True)
    before = tip > pd.Timestamp(now)
    closing = tip > pd.Timestamp(now) - CLOSE_DELAY
    status = np.where(result.eq("void"), "void", np.where(decided & has_close, "settled", "open"))
    reason = np.select(
        [before, ~has_close & closing, ~has_close], ["before tip-off", "awaiting close", "no close"],
        default="awaiting result",
    )  # fmt: skip
    reason = pd.Series(reason, index=bets.index, dtype=object).where(status == "open", None)
    return bets.assign(status=status, open_reason=reason)
