"""Fair prices from one book, a sharp priority list and a consensus; spreads at the book's point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from odds_analytics.devig import devig_decimal
from odds_analytics.fair import closing_fair_prices, devig_books, fair_prices, shift_probability


def _rows(
    book: str, market: str, a: tuple[str, float, float | None], b: tuple[str, float, float | None]
) -> list:
    return [
        {"event_id": "e1", "bookmaker": book, "market": market, "outcome": a[0], "price_decimal": a[1], "point": a[2]},
        {"event_id": "e1", "bookmaker": book, "market": market, "outcome": b[0], "price_decimal": b[1], "point": b[2]},
    ]  # fmt: skip


ODDS = pd.DataFrame(
    _rows("fanduel", "h2h", ("Home", 1.80, None), ("Away", 2.10, None))
    + _rows("lowvig", "h2h", ("Home", 1.75, None), ("Away", 2.25, None))
    + _rows("betmgm", "h2h", ("Home", 1.70, None), ("Away", 2.20, None))
    + _rows("fanduel", "spreads", ("Home", 1.91, -4.5), ("Away", 1.91, 4.5))
    + _rows("betmgm", "spreads", ("Home", 1.87, -4.5), ("Away", 1.95, 4.5))
    + _rows("lowvig", "spreads", ("Home", 2.00, -5.5), ("Away", 1.87, 5.5))
)


def test_devig_books_each_book_sums_to_one() -> None:
    books = devig_books(ODDS, "multiplicative")
    sums = books.groupby(["bookmaker", "market"])["fair_prob"].sum()
    assert np.allclose(sums, 1.0)
    fd = books[(books.bookmaker == "fanduel") & (books.market == "h2h")].set_index("outcome")["fair_prob"]
    # Away sorts first: multiplicative Away = (1/2.1)/(1/1.8+1/2.1) = 1.8/3.9
    assert fd["Away"] == pytest.approx(1.8 / 3.9)
    lv = books[(books.bookmaker == "lowvig") & (books.market == "spreads")]
    assert set(lv["line"]) == {5.5}  # "Away" is the first outcome in name order


def test_book_basis() -> None:
    fair = fair_prices(ODDS, basis="book", book="betmgm")
    h2h = fair[fair.market == "h2h"].set_index("outcome")["fair_prob"]
    assert h2h["Home"] == pytest.approx(devig_decimal([1.70, 2.20])[0])
    assert set(fair["basis"]) == {"betmgm"}


def test_sharp_priority_list_takes_first_available() -> None:
    fair = fair_prices(ODDS, basis="sharp", sharp_books=["pinnacle", "lowvig", "fanduel"])
    h2h = fair[fair.market == "h2h"].set_index("outcome")
    assert set(h2h["basis"]) == {"lowvig"}  # no pinnacle: the next one
    assert h2h.loc["Home", "fair_prob"] == pytest.approx(devig_decimal([1.75, 2.25])[0])


def test_sharp_falls_back_to_consensus_for_uncovered_markets() -> None:
    only_h2h_sharp = ODDS[~((ODDS.bookmaker == "lowvig") & (ODDS.market == "spreads"))]
    fair = fair_prices(only_h2h_sharp, basis="sharp", sharp_books=["lowvig"])
    assert set(fair[fair.market == "spreads"]["basis"]) == {"consensus"}
    strict = fair_prices(only_h2h_sharp, basis="sharp", sharp_books=["lowvig"], fallback_to_consensus=False)
    assert set(strict["market"]) == {"h2h"}


def test_consensus_is_median_renormalised_and_at_modal_line() -> None:
    fair = fair_prices(ODDS, basis="consensus", method="multiplicative")
    h2h = fair[fair.market == "h2h"].set_index("outcome")
    home = np.median([devig_decimal([p, q])[0] for p, q in ((1.80, 2.10), (1.75, 2.25), (1.70, 2.20))])
    away = np.median([devig_decimal([p, q])[1] for p, q in ((1.80, 2.10), (1.75, 2.25), (1.70, 2.20))])
    assert h2h.loc["Home", "fair_prob"] == pytest.approx(home / (home + away))
    assert h2h["fair_prob"].sum() == pytest.approx(1.0)
    assert h2h.loc["Home", "n_books"] == 3
    spreads = fair[fair.market == "spreads"].set_index("outcome")
    assert spreads.loc["Home", "point"] == -4.5  # two books at -4.5, one at -5.5
    assert spreads.loc["Home", "n_books"] == 2
    exp = np.median([devig_decimal([1.91, 1.91])[0], devig_decimal([1.87, 1.95])[0]])
    assert spreads.loc["Home", "fair_prob"] == pytest.approx(exp, abs=1e-9)


def test_methods_change_the_answer_and_bad_basis() -> None:
    a = fair_prices(ODDS, method="multiplicative")
    b = fair_prices(ODDS, method="power")
    assert not np.allclose(a["fair_prob"], b["fair_prob"])
    with pytest.raises(ValueError, match="unknown fair-price basis"):
        fair_prices(ODDS, basis="magic")
    with pytest.raises(ValueError, match="book="):
        fair_prices(ODDS, basis="book")


def test_shift_probability() -> None:
    assert shift_probability(0.5, -4.5, -4.5, "spreads") == pytest.approx(0.5)
    better = shift_probability(0.5, -4.5, -3.5, "spreads")
    assert better > 0.5
    assert better == pytest.approx(0.5 + 1 / (12.5 * np.sqrt(2 * np.pi)), abs=2e-3)
    assert shift_probability(0.5, 220.5, 219.5, "totals", "Over") > 0.5
    assert shift_probability(0.5, 220.5, 219.5, "totals", "Under") < 0.5
    assert shift_probability(0.6, 0, 5, "h2h") == pytest.approx(0.6)


def test_closing_fair_prefers_own_snapshots_near_tip_then_imports() -> None:
    tip = pd.Timestamp("2024-01-10T00:30:00Z")
    rows = [
        # own close 10 min before tip for h2h
        ("e1", "fanduel", "h2h", "Home", None, 1.8, tip - pd.Timedelta(minutes=10), "snapshots"),
        ("e1", "fanduel", "h2h", "Away", None, 2.1, tip - pd.Timedelta(minutes=10), "snapshots"),
        # spreads snapshot 13 h before tip: not a close
        ("e1", "fanduel", "spreads", "Home", -4.5, 1.91, tip - pd.Timedelta(hours=13), "snapshots"),
        ("e1", "fanduel", "spreads", "Away", 4.5, 1.91, tip - pd.Timedelta(hours=13), "snapshots"),
        ("e1", "import:kaggle", "spreads", "Home", -5.0, None, pd.NaT, "import"),
        ("e1", "import:kaggle", "spreads", "Away", 5.0, None, pd.NaT, "import"),
        ("e1", "import:kaggle", "h2h", "Home", None, 1.5, pd.NaT, "import"),
        ("e1", "import:kaggle", "h2h", "Away", None, 2.8, pd.NaT, "import"),
    ]
    cols = ["event_id", "bookmaker", "market", "outcome", "point", "price_decimal", "snapshot_time", "source"]
    closing = pd.DataFrame(rows, columns=cols).assign(commence_time=tip)
    fair = closing_fair_prices(closing).set_index(["market", "outcome"])
    assert fair.loc[("h2h", "Home"), "fair_prob"] == pytest.approx(2.1 / 3.9)
    assert fair.loc[("spreads", "Home"), "fair_prob"] == pytest.approx(0.5)
    assert fair.loc[("spreads", "Home"), "point"] == -5.0
    assert fair.loc[("spreads", "Home"), "basis"] == "import:kaggle"
