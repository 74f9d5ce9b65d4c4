"""Fair (no-vig) prices of a market at a moment: from one book, a sharp-book priority list, or a consensus.

Input is a DataFrame of quoted prices in the shape `tasks.storage.reads.read_odds_at_time(s)` returns: one
row per (bookmaker, market, outcome) with `price_decimal` and `point`, plus any grouping keys
(`request_index`, `event_id`, `decision_time`). Everything here is pure and vectorised.

- `devig_books(odds, method)`: each book's own fair probability per outcome (its margin removed), with its
  `line` (spreads/totals: the point of the book's first outcome in name order, so both sides share it).
- `fair_prices(odds, basis=..., ...)`: one fair probability per (keys, market, outcome):
  - `book`: one named bookmaker;
  - `sharp`: the first bookmaker of a priority list (e.g. pinnacle, circasports, lowvig, betonlineag) that
    quotes the market; optionally falling back to the consensus;
  - `consensus`: the median of the devigged books, renormalised to sum to 1. For spreads and totals only the
    books quoting the most common line take part, so the fair price is "at the book's point";
  - `sharp_consensus`: the consensus of the sharp books that quote the market, else of every book.
- `shift_probability(p, from_point, to_point, market, side)`: moves a spread/total probability to another
  point with a normal approximation of the final margin (sd 12.5 points) or total (sd 18 points); used only
  to compare a bet with a closing line quoted at a different point.
- `closing_value(bets, closing_fair)`: each bet's CLV in probability points: the fair closing probability
  of its outcome at its own point minus the implied probability it paid (1 / decimal price).

>>> import pandas as pd
>>> odds = pd.DataFrame({"bookmaker": ["a", "a"], "market": ["h2h", "h2h"], "outcome": ["X", "Y"],
...                      "point": [None, None], "price_decimal": [1.8, 2.1]})
>>> round(float(fair_prices(odds, basis="consensus")["fair_prob"].iloc[0]), 4)
0.5385
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

from odds_analytics import grouping
from odds_analytics.devig import DevigError, DevigMethod, devig, devig_two_way

__all__ = [
    "GROUP_KEYS",
    "MARGIN_SD",
    "FairBasis",
    "closing_fair_prices",
    "closing_value",
    "devig_books",
    "fair_prices",
    "shift_probability",
]

FairBasis = Literal["book", "sharp", "consensus", "sharp_consensus"]
GROUP_KEYS = ("request_index", "event_id", "decision_time")
# Standard deviation of the final margin around the spread, and of the total around the total line (NBA).
MARGIN_SD = {"spreads": 12.5, "totals": 18.0}


def _keys(df: pd.DataFrame) -> list[str]:
    return [k for k in GROUP_KEYS if k in df.columns]


def devig_books(odds: pd.DataFrame, method: DevigMethod | str = "multiplicative") -> pd.DataFrame:
    """Each book's fair probability per outcome: adds `implied`, `overround`, `fair_prob`, `line`, `n_outcomes`.

    Books whose market cannot be devigged (one outcome only, a bad price) get NaN `fair_prob`. Rows come
    back sorted by (keys, market, bookmaker, outcome): the order the as-of reads return them in, so a
    backtest's half-million rows need no sort here.
    """
    keys = _keys(odds)
    group = [*keys, "market", "bookmaker"]
    price = odds["price_decimal"].to_numpy(dtype=float)
    df = odds[np.isfinite(price) & (price > 1.0)]
    if df.empty:
        return df.assign(implied=[], overround=[], fair_prob=[], line=[], n_outcomes=[])
    codes = [grouping.sort_codes(df[c]) for c in [*group, "outcome"]]
    order = grouping.lexsort(codes)
    if order is not None:
        df = df.iloc[order]
        codes = [c[order] for c in codes]
    df = df.reset_index(drop=True)
    starts = grouping.runs(codes[:-1])
    ids = grouping.run_ids(starts, len(df))
    size = np.diff(np.append(starts, len(df)))
    implied = 1.0 / df["price_decimal"].to_numpy(dtype=float)
    fair = np.full(len(df), np.nan)
    two = starts[size == 2]
    if len(two):
        # Rows are sorted by group then outcome, so each two-outcome group is a pair of adjacent rows.
        fair[two], fair[two + 1] = devig_two_way(implied[two], implied[two + 1], method)
    for start, n in zip(starts[size > 2].tolist(), size[size > 2].tolist(), strict=True):
        try:
            fair[start : start + n] = devig(implied[start : start + n].tolist(), method)
        except DevigError:
            continue
    point = df["point"].to_numpy(dtype=float)
    return df.assign(
        implied=implied,
        n_outcomes=size[ids],
        overround=pd.Series(implied).groupby(ids).transform("sum").to_numpy() - 1.0,
        line=grouping.first_valid(point, starts)[ids],
        fair_prob=fair,
    )


def _consensus(books: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Median of the devigged books at the modal line, renormalised (see module docstring).

    Per (keys, market): the line quoted by most books (ties: the one nearest the median line, then the
    lower one); per outcome, the median fair probability of the books on that line, the first book's point
    and the number of books; the medians are rescaled to sum to 1.
    """
    books = books[books["fair_prob"].notna()]
    if books.empty:
        return _empty_fair(keys)
    market_keys = [grouping.sort_codes(books[c]) for c in [*keys, "market"]]
    book = grouping.sort_codes(books["bookmaker"])
    outcome = grouping.sort_codes(books["outcome"])
    order = grouping.lexsort([*market_keys, book, outcome])
    if order is not None:
        books = books.iloc[order]
        market_keys, book, outcome = [c[order] for c in market_keys], book[order], outcome[order]
    line = books["line"].to_numpy(dtype=float)
    modal = _modal_lines(market_keys, book, line)
    at_modal = (line == modal) | (np.isnan(line) & np.isnan(modal))
    books = books[at_modal]
    keys_at = [c[at_modal] for c in market_keys]
    outcome, book = outcome[at_modal], book[at_modal]

    # Per (keys, market, outcome), keeping the books' order inside each group.
    order = grouping.lexsort([*keys_at, outcome])
    if order is not None:
        books, book = books.iloc[order], book[order]
        keys_at, outcome = [c[order] for c in keys_at], outcome[order]
    starts = grouping.runs([*keys_at, outcome])
    ids = grouping.run_ids(starts, len(books))
    median = grouping.group_median(books["fair_prob"].to_numpy(dtype=float), starts)
    point = grouping.first_valid(books["point"].to_numpy(dtype=float), starts)
    # Inside a group the rows are in bookmaker order: count the changes of bookmaker.
    new_book = np.ones(len(book), dtype=np.int64)
    new_book[1:] = (book[1:] != book[:-1]) | (ids[1:] != ids[:-1])
    n_books = np.add.reduceat(new_book, starts)
    market_starts = grouping.runs([k[starts] for k in keys_at])
    market_ids = grouping.run_ids(market_starts, len(starts))
    total = pd.Series(median).groupby(market_ids).transform("sum").to_numpy()  # pandas' (compensated) sum
    out = books.iloc[starts][[*keys, "market", "outcome"]].reset_index(drop=True)
    return out.assign(fair_prob=median / total, point=point, n_books=n_books, basis="consensus")


def _modal_lines(market_keys: list[np.ndarray], book: np.ndarray, line: np.ndarray) -> np.ndarray:
    """Per row (sorted by market keys then book): the modal line of its (keys, market), as `_consensus` says."""
    n = len(line)
    market_starts = grouping.runs(market_keys)
    market_of_row = grouping.run_ids(market_starts, n)
    # one line per (keys, market, bookmaker): its first row
    firsts = grouping.runs([*market_keys, book])
    m, ln = market_of_row[firsts], line[firsts]
    median = grouping.group_median(ln, grouping.runs([m]))
    line_code = grouping.sort_codes(ln)
    order = np.lexsort((line_code, m))
    m, ln, line_code = m[order], ln[order], line_code[order]
    starts = grouping.runs([m, line_code])
    count = np.diff(np.append(starts, len(m)))
    cand_market, cand_line = m[starts], ln[starts]
    dist = np.abs(cand_line - median[cand_market])
    dist = np.where(np.isnan(dist), 0.0, dist)
    best = np.lexsort((line_code[starts], dist, -count, cand_market))
    chosen = best[grouping.runs([cand_market[best]])]
    modal = np.full(len(market_starts), np.nan)
    modal[cand_market[chosen]] = cand_line[chosen]
    return modal[market_of_row]


def _from_books(books: pd.DataFrame, keys: list[str], priority: Sequence[str]) -> pd.DataFrame:
    books = books[books["fair_prob"].notna() & books["bookmaker"].isin(priority)].copy()
    if books.empty:
        return _empty_fair(keys)
    rank = {b: i for i, b in enumerate(priority)}
    books["rank"] = books["bookmaker"].map(rank)
    first = books.groupby([*keys, "market"], dropna=False)["rank"].transform("min")
    chosen = books[books["rank"] == first]
    out = chosen[[*keys, "market", "outcome", "fair_prob", "point", "bookmaker"]].rename(
        columns={"bookmaker": "basis"}
    )
    return out.assign(n_books=1).reset_index(drop=True)


def _empty_fair(keys: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=[*keys, "market", "outcome", "fair_prob", "point", "n_books", "basis"])


def fair_prices(
    odds: pd.DataFrame,
    *,
    basis: FairBasis | str = "consensus",
    method: DevigMethod | str = "multiplicative",
    book: str | None = None,
    sharp_books: Sequence[str] = ("pinnacle", "circasports", "lowvig", "betonlineag"),
    fallback_to_consensus: bool = True,
) -> pd.DataFrame:
    """One fair probability per (keys, market, outcome), with the `point` it applies to.

    Returns columns: the grouping keys present in `odds`, `market`, `outcome`, `fair_prob` (sums to 1 over
    a market's outcomes), `point`, `n_books` and `basis` (the book used, or `consensus`).
    """
    keys = _keys(odds)
    books = devig_books(odds, method)
    if books.empty:
        return _empty_fair(keys)
    if basis == "consensus":
        return _consensus(books, keys)
    if basis == "book":
        if not book:
            raise ValueError("fair_prices(basis='book') needs book=<bookmaker key>")
        return _from_books(books, keys, [book])
    if basis in ("sharp", "sharp_consensus"):
        if basis == "sharp":
            sharp = _from_books(books, keys, list(sharp_books))
        else:
            sharp = _consensus(books[books["bookmaker"].isin(list(sharp_books))], keys).assign(basis="sharp")
        if not fallback_to_consensus:
            return sharp
        return _fill_uncovered(sharp, _consensus(books, keys), keys)
    raise ValueError(f"unknown fair-price basis {basis!r}; choose book, sharp, consensus or sharp_consensus")


def _fill_uncovered(first: pd.DataFrame, rest: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`first`, plus the markets of `rest` that `first` does not price."""
    covered = first[[*keys, "market"]].drop_duplicates().assign(_covered=True)
    rest = rest.merge(covered, on=[*keys, "market"], how="left")
    rest = rest[rest["_covered"].isna()].drop(columns="_covered")
    return pd.concat([first, rest], ignore_index=True) if len(rest) else first


def shift_probability(
    prob: np.ndarray | float,
    from_point: np.ndarray | float,
    to_point: np.ndarray | float,
    market: str,
    side: np.ndarray | str = "",
) -> np.ndarray:
    """Probability of the same outcome at another point (normal approximation; h2h is returned unchanged).

    Spreads: the bettor's point is added to their team's margin, so a larger point is better. Totals: for
    `side="over"` a lower total is better, for `"under"` a higher one.
    """
    p = np.clip(np.asarray(prob, dtype=float), 1e-9, 1 - 1e-9)
    if market not in MARGIN_SD:
        return np.asarray(prob, dtype=float)
    diff = np.asarray(to_point, dtype=float) - np.asarray(from_point, dtype=float)
    if market == "totals":
        sign = np.where(np.char.lower(np.asarray(side, dtype=str)) == "over", -1.0, 1.0)
        diff = diff * sign
    return norm.cdf(norm.ppf(p) + diff / MARGIN_SD[market])


def closing_fair_prices(
    closing: pd.DataFrame,
    *,
    basis: FairBasis | str = "consensus",
    method: DevigMethod | str = "multiplicative",
    sharp_books: Sequence[str] = ("pinnacle", "circasports", "lowvig", "betonlineag"),
    close_window: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Fair closing probability per (event_id, market, outcome) from `read_closing_lines` rows.

    Our own snapshots count as a close when taken within `close_window` (default 2 h) of tip-off; otherwise
    an imported closing line is used. Imported spreads and totals without prices are taken as a fair
    50/50 at the closing point (the standard -110/-110 market). Returns `event_id, market, outcome,
    fair_prob, point, n_books, basis`.
    """
    window = close_window if close_window is not None else pd.Timedelta(hours=2)
    if closing.empty:
        return _empty_fair(["event_id"])
    snaps = closing[closing["source"] == "snapshots"]
    snaps = snaps[snaps["commence_time"] - snaps["snapshot_time"] <= window]
    own = fair_prices(
        snaps[["event_id", "bookmaker", "market", "outcome", "point", "price_decimal"]],
        basis=basis,
        method=method,
        sharp_books=sharp_books,
    )
    imported = closing[closing["source"] == "import"].copy()
    if imported.empty:
        return own
    priced = imported[imported["price_decimal"].notna()]
    unpriced = imported[imported["price_decimal"].isna() & imported["market"].isin(["spreads", "totals"])]
    parts = []
    if len(priced):
        parts.append(
            fair_prices(
                priced[["event_id", "bookmaker", "market", "outcome", "point", "price_decimal"]].astype(
                    {"price_decimal": float}
                ),
                basis="consensus",
                method=method,
            )
        )
    if len(unpriced):
        parts.append(
            unpriced[["event_id", "market", "outcome", "point"]]
            .assign(fair_prob=0.5, n_books=1, basis=unpriced["bookmaker"])
            .drop_duplicates(["event_id", "market", "outcome"])
        )
    imp = pd.concat(parts, ignore_index=True) if parts else _empty_fair(["event_id"])
    # Our own close wins where it exists; the import fills the rest.
    if own.empty:
        return imp.reset_index(drop=True)
    return _fill_uncovered(own, imp, ["event_id"])


def closing_value(bets: pd.DataFrame, closing_fair: pd.DataFrame) -> pd.DataFrame:
    """Each bet's closing-line value in probability points (the backtest and the bet ledger both use it).

    `bets`: event_id, market, outcome, side (home/away/over/under), point (the bet's own line; NaN for h2h),
    price_decimal (what was paid, a Polymarket taker fee included). `closing_fair`: `closing_fair_prices`
    rows. Adds `close_prob` (the fair closing probability of the bet's outcome at the bet's own point: a
    spread or total that closed at another point is moved with `shift_probability`), `close_point` (the
    outcome's closing point), `close_basis`, `clv_prob` (= close_prob - 1 / price_decimal; NaN without a
    close) and `beat_close`.

    >>> bets = pd.DataFrame({"event_id": ["e"], "market": ["h2h"], "outcome": ["X"], "side": ["home"],
    ...                      "point": [float("nan")], "price_decimal": [2.0]})
    >>> close = pd.DataFrame({"event_id": ["e"], "market": ["h2h"], "outcome": ["X"], "fair_prob": [0.55],
    ...                       "point": [float("nan")], "basis": ["consensus"]})
    >>> round(float(closing_value(bets, close)["clv_prob"].iloc[0]), 4)
    0.05
    """
    if closing_fair.empty or bets.empty:
        return bets.assign(close_prob=np.nan, close_point=np.nan, close_basis=None, clv_prob=np.nan,
                           beat_close=None)  # fmt: skip
    basis = closing_fair["basis"] if "basis" in closing_fair else pd.Series(None, index=closing_fair.index)
    close = closing_fair.assign(close_basis=basis)[["event_id", "market", "outcome", "fair_prob", "point",
                                                    "close_basis"]]  # fmt: skip
    close = close.rename(columns={"fair_prob": "close_fair", "point": "close_point"})
    bets = bets.merge(close.drop_duplicates(["event_id", "market", "outcome"]), on=["event_id", "market", "outcome"],
                      how="left")  # fmt: skip
    close_prob = bets["close_fair"].to_numpy(dtype=float).copy()
    for market in ("spreads", "totals"):
        m = (bets["market"] == market).to_numpy() & np.isfinite(close_prob)
        if m.any():
            close_prob[m] = shift_probability(
                close_prob[m], bets["close_point"].to_numpy(dtype=float)[m], bets["point"].to_numpy(dtype=float)[m],
                market, bets["side"].to_numpy()[m],
            )  # fmt: skip
    bets["close_prob"] = close_prob
    bets["clv_prob"] = close_prob - 1.0 / bets["price_decimal"].to_numpy(dtype=float)
    bets["beat_close"] = np.where(np.isfinite(bets["clv_prob"]), bets["clv_prob"] > 0, None)
    return bets.drop(columns="close_fair")
