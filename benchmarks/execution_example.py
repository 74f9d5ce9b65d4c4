"""Print the worked examples of docs/POLYMARKET.md ("Execution price"): a fill with the taker fee, a venue that
flips with the fee, and one that flips above a stake as the book's depth runs out.

    uv run python benchmarks/execution_example.py

Pure arithmetic on hand-written books (no database, no network): the numbers do not depend on the machine.
"""

from __future__ import annotations

import pandas as pd

from odds_analytics.execution import FeeTerms, fill_buy
from odds_analytics.recommend import recommend
from odds_analytics.staking import StakePolicy
from odds_analytics.venues import BOOK_COLUMNS, polymarket_sides

SPORTS = FeeTerms(enabled=True, rate=0.03, exponent=1.0)
FREE = FeeTerms(enabled=False)
HOME, AWAY = "Boston Celtics", "Miami Heat"


def _pick(asks: list[tuple[float, float]], fees: dict, book_price: float, bankroll: float) -> pd.Series:
    row = dict.fromkeys(BOOK_COLUMNS)
    row.update(event_id="e", market_id="m", market_type="moneyline", token_id="t", outcome="Celtics",
               asks=[{"price": p, "size": s} for p, s in asks], **fees)  # fmt: skip
    events = pd.DataFrame({"event_id": ["e"], "home_team": [HOME], "away_team": [AWAY]})
    sides = polymarket_sides(pd.DataFrame([row], columns=BOOK_COLUMNS), events)
    pred = pd.DataFrame({"event_id": ["e"], "market": ["h2h"], "home_team": [HOME], "away_team": [AWAY],
                         "current": [0.50], "predicted_delta": [0.02]})  # fmt: skip
    quotes = pd.DataFrame([("e", "h2h", "draftkings", 0.5, book_price, 1.8)],
                          columns=["event_id", "market", "bookmaker", "value", "home_price", "away_price"])  # fmt: skip
    recs = recommend(pred, quotes, polymarket_books=sides, stake_policy=StakePolicy(bankroll=bankroll))
    return recs.set_index("side").loc["home"]


def main() -> None:
    print("1. $60 on asks 0.40 x 100, 0.50 x 1000 (stored in any order), fee 0.03 x (p(1-p))^1")
    for stake in (60.0, 600.0):
        f = fill_buy([(0.50, 1000.0), (0.40, 100.0)], stake, SPORTS)
        print(f"   stake {stake:>6.2f}: shares {f.shares:9.4f}  avg price {f.avg_price:.4f}  fee {f.fee:7.4f}  "
              f"spent {f.spent:7.2f}  decimal {f.decimal:.4f}  implied {f.implied:.4f}  top {f.top_decimal:.4f}  "
              f"complete {f.complete}  depth ${f.depth_dollars:.2f}")  # fmt: skip
    print("2. the fee flips the venue: ask 0.48 vs draftkings 2.06, fair close 0.52")
    for name, fees in (("free", {"fees_enabled": False}),
                       ("fee 0.03", {"fees_enabled": True, "fee_rate": 0.03, "fee_exponent": 1.0})):  # fmt: skip
        r = _pick([(0.48, 1e4)], fees, 2.06, 1000.0)
        print(
            f"   {name:>8}: {r['best_venue']:<10} paid {r['best_price_decimal']:.4f}  stake {r['stake']:.2f}"
        )
    print("3. depth flips the venue: 100 shares at 0.45 then 0.60, free; draftkings 2.10; fair close 0.52")
    for stake in (20.0, 45.0, 57.0, 58.0, 100.0):
        d = fill_buy([(0.45, 100.0), (0.60, 5000.0)], stake, FREE).decimal
        print(f"   fill of ${stake:>6.2f}: decimal {d:.4f} {'>' if d > 2.10 else '<'} 2.10")
    for bankroll in (1000.0, 2800.0, 3000.0):
        r = _pick([(0.45, 100.0), (0.60, 5000.0)], {"fees_enabled": False}, 2.10, bankroll)
        print(
            f"   bankroll {bankroll:>7.0f} (cap ${0.02 * bankroll:.0f}): {r['best_venue']:<10} "
            f"paid {r['best_price_decimal']:.4f}  stake {r['stake']:.2f}"
        )


if __name__ == "__main__":
    main()
