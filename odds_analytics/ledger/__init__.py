"""The bet ledger's pure parts: reading a bet (command line or CSV), checking it against the game, paper bets
from published picks, settling at the close and after the game, and the report (no I/O).

Definitions (docs/BACKTESTING_GUIDE.md, "Tracking your bets"):
- **CLV** (closing-line value) is in fair probability points: the fair closing probability of the side taken
  at the bet's own line (`odds_analytics.fair.closing_value`; the close is the devigged consensus of the
  sharp books' last snapshot before tip-off, of every book when no sharp book quotes the market) minus the
  implied probability paid: 1 / decimal price; for Polymarket the fill price per share including the taker
  fee, `fill_price x (1 + fee_rate)`.
- **Expected return** (as published with a pick) is `p_close x d - 1`, a return on stake: a second figure,
  never called CLV.
- A bet is **settled** once it has both its close and its result, **void** when its game was cancelled, and
  **open** otherwise, with the reason: before tip-off, no close (the game started and no close was found) or
  awaiting the result.
- Intervals (95 %) need at least `MIN_N` bets; below that the report says "n too small". Every CLV figure
  carries its count, n/N bets.

    draft = draft_from_fields({"event": "...", "market": "h2h", "side": "home", "venue": "pinnacle",
                               "price": "1.91", "stake": "10"})
    row = resolve_bet(draft, game, now=now(), default_fee_rate=0.0)      # raises InvalidBet

The parts: `ledger.bets` (reading and checking a bet, the CSV import), `ledger.settle` (paper bets,
settlement, open/settled status), `ledger.report` (the figures, the verdict, Markdown).
"""

from __future__ import annotations

from odds_analytics.ledger.bets import (
    CLOSE_DELAY,
    CSV_COLUMNS,
    CSV_REQUIRED,
    MIN_N,
    PAPER_PICK_COLUMNS,
    BetDraft,
    BetsRejected,
    GameFacts,
    GameRef,
    InvalidBet,
    TokenFacts,
    bet_key,
    draft_from_fields,
    drafts_from_csv,
    duplicate_lines,
    parse_bets_csv,
    parse_game_ref,
    pick_event,
    resolve_bet,
)
from odds_analytics.ledger.report import (
    cumulative_clv,
    ledger_report,
    report_markdown,
    summary_cells,
    verdict,
)
from odds_analytics.ledger.settle import (
    SAMPLE_BET_NOTE,
    bet_status,
    paper_bet_rows,
    sample_bet_rows,
    settlement_updates,
)

__all__ = [
    "CLOSE_DELAY",
    "CSV_COLUMNS",
    "CSV_REQUIRED",
    "MIN_N",
    "PAPER_PICK_COLUMNS",
    "SAMPLE_BET_NOTE",
    "BetDraft",
    "BetsRejected",
    "GameFacts",
    "GameRef",
    "InvalidBet",
    "TokenFacts",
    "bet_key",
    "bet_status",
    "cumulative_clv",
    "draft_from_fields",
    "drafts_from_csv",
    "duplicate_lines",
    "ledger_report",
    "paper_bet_rows",
    "parse_bets_csv",
    "parse_game_ref",
    "pick_event",
    "report_markdown",
    "resolve_bet",
    "sample_bet_rows",
    "settlement_updates",
    "summary_cells",
    "verdict",
]
