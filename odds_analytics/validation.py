"""Pure data-quality checks of parsed Odds API odds → findings (no I/O).

Checks, per event / bookmaker / market:

| check_type | severity | rows affected |
|---|---|---|
| `price_out_of_range` | error | the outcome (decimal price ≤ 1.0 or > `MAX_DECIMAL`, American with |a| < 100) |
| `negative_overround` | error | the market (implied probabilities sum below 1: an arbitrage or a bad price) |
| `overround_too_large` | warning | the market (sum above 1 + `MAX_OVERROUND`) |
| `missing_outcome` | error | the market (a two-way market without exactly two sides) |
| `duplicate_outcome` | warning | none (the duplicate is dropped by the parser; the first one is kept) |
| `spread_not_mirrored` | error | the market (spread points are not negatives of each other) |
| `total_points_mismatch` | error | the market (Over and Under on different totals) |
| `unknown_outcome_name` | error | the outcome (not one of the event's teams, or not Over/Under) |
| `future_timestamp` | warning | the bookmaker's rows (last_update after the snapshot time) |
| `malformed_event` | error | the whole event (it did not parse; the other events of the response are kept) |

A finding lists the row keys it affects; the writer marks them `is_valid=false` (or drops them when
`REJECT_INVALID_ODDS=true`). Lay markets (`h2h_lay`) and player props are checked for prices and
duplicates only (their probabilities do not sum to one per pair).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from odds_analytics.oddsapi import EventOdds, OddsRow, RejectedEvent, odds_row_key

__all__ = [
    "FUTURE_TOLERANCE",
    "MAX_DECIMAL",
    "MAX_OVERROUND",
    "MIN_OVERROUND",
    "OddsFinding",
    "base_market",
    "rejected_event_findings",
    "validate_event_odds",
]

MAX_DECIMAL = 1001.0
MAX_OVERROUND = 0.25  # 25 % above fair: no NBA book prices a two-way market like that
MIN_OVERROUND = -0.005  # rounding of American prices can give a hair below zero
FUTURE_TOLERANCE = timedelta(minutes=5)

RowKey = tuple[str, str, str, str, float | None]


@dataclass(frozen=True)
class OddsFinding:
    """One data-quality issue. `rows` are the odds-row keys (within the snapshot) it invalidates."""

    severity: str
    check_type: str
    event_id: str
    bookmaker: str | None
    market: str | None
    detail: str
    rows: frozenset[RowKey] = field(default_factory=frozenset)
    dropped: bool = False  # the data it describes was not stored at all (an event that did not parse)

    def fingerprint(self, *, source: str, snapshot_time: datetime | None) -> str:
        """Stable id: the same finding on the same data is one `data_quality_logs` row."""
        stamp = snapshot_time.isoformat() if snapshot_time else ""
        text = "|".join((source, stamp, self.check_type, self.event_id, self.bookmaker or "", self.market or "",
                         self.detail))  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()[:40]


def base_market(key: str) -> str:
    """`spreads_h1` → `spreads`, `h2h_q3` → `h2h`, `h2h_lay` → `h2h_lay`."""
    if key.endswith("_lay"):
        return key
    for base in ("h2h", "spreads", "totals", "alternate_spreads", "alternate_totals", "team_totals"):
        if key == base or key.startswith(base + "_"):
            return base
    return key


def _check_market(event: EventOdds, book: str, market: str, rows: list[OddsRow]) -> list[OddsFinding]:
    ev = event.event
    findings: list[OddsFinding] = []
    base = base_market(market)

    def finding(severity: str, check: str, detail: str, affected: list[OddsRow]) -> None:
        findings.append(OddsFinding(severity, check, ev.id, book, market, detail,
                                frozenset(odds_row_key(r) for r in affected)))  # fmt: skip

    for row in rows:
        if not row.price_valid or not (1.0 < row.price_decimal <= MAX_DECIMAL):
            finding(
                "error",
                "price_out_of_range",
                f"{row.outcome}: price {row.raw_price!r} is out of range",
                [row],
            )
    if base in ("h2h", "spreads"):
        teams = {ev.home_team, ev.away_team}
        for row in rows:
            if row.outcome not in teams:
                finding("error", "unknown_outcome_name",
                        f"{row.outcome!r} is not {ev.away_team} or {ev.home_team}", [row])  # fmt: skip
    elif base == "totals":
        for row in rows:
            if row.outcome not in ("Over", "Under"):
                finding("error", "unknown_outcome_name", f"{row.outcome!r} is not Over/Under", [row])
    if base not in ("h2h", "spreads", "totals"):
        return findings
    # two-way markets: exactly two sides (alternate lines would have their own market key)
    if len(rows) != 2:
        names = sorted(r.outcome for r in rows)
        finding("error", "missing_outcome", f"{len(rows)} outcome(s) {names}, expected 2", rows)
        return findings
    a, b = rows
    if base == "spreads" and (a.point is None or b.point is None or abs(a.point + b.point) > 1e-9):
        finding("error", "spread_not_mirrored", f"spread points {a.point} / {b.point} do not mirror", rows)
    if base == "totals" and (a.point is None or b.point is None or abs(a.point - b.point) > 1e-9):
        finding("error", "total_points_mismatch", f"total points {a.point} / {b.point} differ", rows)
    if a.price_valid and b.price_valid and a.price_decimal > 1.0 and b.price_decimal > 1.0:
        overround = 1.0 / a.price_decimal + 1.0 / b.price_decimal - 1.0
        if overround < MIN_OVERROUND:
            finding("error", "negative_overround", f"overround {overround:.2%} is negative", rows)
        elif overround > MAX_OVERROUND:
            finding("warning", "overround_too_large", f"overround {overround:.2%} is implausibly large", rows)
    return findings


def validate_event_odds(event: EventOdds, *, snapshot_time: datetime | None) -> list[OddsFinding]:
    """Every finding for one event's odds in one snapshot (empty list: clean)."""
    findings: list[OddsFinding] = []
    ev = event.event
    findings.extend(
        OddsFinding("warning", "duplicate_outcome", ev.id, dup.bookmaker, dup.market,
                f"duplicate outcome {dup.outcome!r} {dup.description!r} point {dup.point}; the first one is kept")
        for dup in event.duplicates
    )  # fmt: skip
    groups: dict[tuple[str, str], list[OddsRow]] = defaultdict(list)
    for row in event.rows:
        groups[(row.bookmaker, row.market)].append(row)
    future_books: dict[str, list[OddsRow]] = defaultdict(list)
    for (book, market), rows in groups.items():
        findings.extend(_check_market(event, book, market, rows))
        if snapshot_time is not None and rows:
            # every row of a (bookmaker, market) group carries the same two update times
            limit = snapshot_time + FUTURE_TOLERANCE
            first = rows[0]
            if (first.bookmaker_last_update is not None and first.bookmaker_last_update > limit) or (
                first.market_last_update is not None and first.market_last_update > limit
            ):
                future_books[book].extend(rows)
    for book, rows in future_books.items():
        latest = max(
            s for r in rows for s in (r.bookmaker_last_update, r.market_last_update) if s is not None
        )
        findings.append(OddsFinding("warning", "future_timestamp", ev.id, book, None,
                                f"last_update {latest.isoformat()} is after the snapshot time",
                                frozenset(odds_row_key(r) for r in rows)))  # fmt: skip
    return findings


def rejected_event_findings(rejected: Sequence[RejectedEvent]) -> list[OddsFinding]:
    """One `malformed_event` error per event of a response that did not parse (and was left out)."""
    return [
        OddsFinding("error", "malformed_event", r.event_id or f"#{r.index}", None, None,
                f"event #{r.index} of the response was not stored: {r.reason}", dropped=True)
        for r in rejected
    ]  # fmt: skip
