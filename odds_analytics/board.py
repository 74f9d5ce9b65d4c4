"""The board: what a bettor reads after a predict tick, one row per side of every upcoming game market (pure).

Each row: tip-off (shown in a local time zone), the game, market, side and line, the chosen venue and the
price paid at the stake (decimal; Polymarket: the fill of the stake with its fee) beside that venue's top
price, the side's fair probability now (devigged consensus) and at the predicted close, the expected CLV in
probability points (`p_close − 1 / price paid`), the expected return on stake (`p_close × price − 1`), the
stake, the Polymarket fee, and the model that predicted the close. `pick` marks a recommendation.

    rows = board_rows(result["recommendations"])
    print(board_markdown(rows, tz=ZoneInfo("America/New_York")))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import pandas as pd

from odds_analytics.prices import optional_number
from odds_models.errors import BadArgument

__all__ = [
    "BOARD_COLUMNS",
    "BOARD_HEADERS",
    "EARLIEST_DECISION",
    "board_cells",
    "board_markdown",
    "board_rows",
    "check_decision_time",
    "parse_decision_time",
]

# `--at` must be timezone-aware and within [EARLIEST_DECISION, now + FUTURE_SLACK]: a later time would score
# games as of a moment whose prices do not exist yet.
EARLIEST_DECISION = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(minutes=5)

BOARD_COLUMNS = [
    "commence_time", "event_id", "game", "market", "side", "line", "venue", "price_paid", "price_top",
    "fair_now", "fair_close", "predicted_line", "clv_pp", "expected_return", "stake", "stake_limit", "shares",
    "fee", "fee_terms", "depth_ok", "model_id", "pick",
]  # fmt: skip
BOARD_HEADERS = [
    "tip-off", "game", "market", "side", "line", "venue", "paid", "top", "fair now", "fair close",
    "pred. line", "CLV pp", "exp. return", "stake", "fee", "model", "pick",
]  # fmt: skip


def check_decision_time(at: datetime, now: datetime) -> datetime:
    """`at` in UTC if it is timezone-aware and not before 2000 nor after `now` (+5 min); else BadArgument."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise BadArgument(f"--at {at.isoformat()} has no time zone (give e.g. 2026-12-04T18:00:00+00:00)")
    try:
        moment = at.astimezone(UTC)
    except OverflowError:
        raise BadArgument(f"--at {at.isoformat()} is out of range") from None
    if moment < EARLIEST_DECISION or moment > now + FUTURE_SLACK:
        raise BadArgument(
            f"--at {moment.isoformat()} is out of range: between {EARLIEST_DECISION:%Y-%m-%d} and now "
            f"({now.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"
        )
    return moment


def parse_decision_time(text: str, now: datetime) -> datetime:
    """An ISO 8601 time with its offset (`2026-12-04T18:00:00+00:00`, `...Z`), checked by
    `check_decision_time`; BadArgument otherwise."""
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadArgument(f"--at {text!r} is not an ISO time (e.g. 2026-12-04T18:00:00+00:00)") from None
    return check_decision_time(at, now)


def _time(value: Any) -> datetime | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return None
    if stamp.tzinfo is None:
        raise ValueError(f"commence_time {value!r} has no time zone")
    return stamp.to_pydatetime().astimezone(UTC)


def board_rows(recommendations: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """`BOARD_COLUMNS` rows of `recommend` records (with home_team, away_team, commence_time, model_id),
    by tip-off, game, market and side."""
    rows = []
    for rec in recommendations:
        price, p_close = optional_number(rec.get("best_price_decimal")), optional_number(rec.get("p_close"))
        valid = price is not None and price > 1.0 and p_close is not None
        market = rec.get("market")
        rows.append(
            {
                "commence_time": _time(rec.get("commence_time")),
                "event_id": rec.get("event_id"),
                "game": f"{rec.get('away_team')} @ {rec.get('home_team')}",
                "market": market,
                "side": rec.get("outcome"),
                "line": optional_number(rec.get("best_point")),
                "venue": rec.get("best_venue"),
                "price_paid": price,
                "price_top": optional_number(rec.get("price_top")),
                "fair_now": optional_number(rec.get("p_now")),
                "fair_close": p_close,
                "predicted_line": optional_number(rec.get("predicted_close")) if market != "h2h" else None,
                "clv_pp": 100.0 * (p_close - 1.0 / price) if valid else None,
                "expected_return": p_close * price - 1.0 if valid else None,
                "stake": optional_number(rec.get("stake")),
                "stake_limit": rec.get("stake_limit"),
                "shares": optional_number(rec.get("shares")),
                "fee": optional_number(rec.get("fee")),
                "fee_terms": rec.get("fee_terms"),
                "depth_ok": rec.get("depth_ok"),
                "model_id": rec.get("model_id"),
                "pick": bool(rec.get("recommended")),
            }
        )
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        rows, key=lambda r: (r["commence_time"] or far, r["game"], r["market"] or "", r["side"] or "")
    )


def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def board_cells(row: Mapping[str, Any], tz: tzinfo | None = None) -> list[str]:
    """One row as the strings under `BOARD_HEADERS`; tip-off in `tz` (default: this machine's zone)."""
    tip = row["commence_time"]
    local = tip.astimezone(tz) if tip is not None else None
    line = row["line"]
    line_text = "" if line is None else (f"{line:+g}" if row["market"] == "spreads" else f"{line:g}")
    fee = row["fee"]
    fee_text = ""
    if row["venue"] == "polymarket":
        fee_text = f"{fee:.2f}" if fee is not None else ""
        terms = row.get("fee_terms") or ""
        fee_text += " (assumed)" if "assumed" in terms else ""
    stake = row["stake"]
    stake_text = "" if stake is None else f"{stake:.2f}"
    if row.get("stake_limit") == "depth":
        stake_text += " (depth)"
    return [
        local.strftime("%a %d %b %H:%M %Z") if local is not None else "",
        row["game"],
        row["market"] or "",
        row["side"] or "",
        line_text,
        row["venue"] or "",
        _fmt(row["price_paid"], ".3f"),
        _fmt(row["price_top"], ".3f"),
        _fmt(row["fair_now"], ".3f"),
        _fmt(row["fair_close"], ".3f"),
        _fmt(row["predicted_line"], ".1f"),
        _fmt(row["clv_pp"], "+.2f"),
        "" if row["expected_return"] is None else f"{row['expected_return']:+.2%}",
        stake_text,
        fee_text,
        "" if row["model_id"] is None else str(row["model_id"]),
        "yes" if row["pick"] else "",
    ]


def board_markdown(
    rows: Iterable[Mapping[str, Any]],
    *,
    tz: tzinfo | None = None,
    decision_time: datetime | None = None,
    bankroll: float | None = None,
) -> str:
    """The board as a markdown table (the `clv-board` artifact), with a one-line heading."""
    rows = list(rows)
    head = "# CLV board"
    if decision_time is not None:
        head += f" at {decision_time.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    lines = [head, ""]
    picks = sum(1 for r in rows if r["pick"])
    summary = f"{len(rows)} sides, {picks} picks"
    if bankroll is not None:
        summary += f"; stakes for a bankroll of {bankroll:,.2f}"
    lines += [
        summary
        + ". Paid: decimal price at the stake (Polymarket: filled on its book, fee included); CLV pp = "
        "fair close − 1 / paid; exp. return = fair close × paid − 1.",
        "",
    ]
    if not rows:
        return "\n".join([*lines, "No upcoming game has a prediction."])
    lines.append("| " + " | ".join(BOARD_HEADERS) + " |")
    lines.append("|" + "|".join("---" for _ in BOARD_HEADERS) + "|")
    for row in rows:
        cells = [c.replace("|", "/") for c in board_cells(row, tz)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
