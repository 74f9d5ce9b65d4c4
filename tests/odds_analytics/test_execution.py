"""Polymarket execution price: fee terms from Gamma, the taker fee formula, filling a stake on the asks.

Every expected number is worked out by hand in the comment next to it.
"""

from __future__ import annotations

import json
import math

import pytest

from odds_analytics.execution import (
    DEFAULT_FEE_TERMS,
    FeeTerms,
    GammaFees,
    fee_terms,
    fill_buy,
    parse_gamma_fees,
    sorted_asks,
    taker_fee,
)
from odds_analytics.polymarket.gamma import parse_gamma_market

SPORTS = FeeTerms(enabled=True, rate=0.03, exponent=1.0)
CRYPTO = FeeTerms(enabled=True, rate=0.25, exponent=2.0)


# ---------------------------------------------------------------------------------------------------------
# Fee terms
# ---------------------------------------------------------------------------------------------------------


def test_fee_schedule_is_read_from_a_real_gamma_market(fixtures_dir) -> None:
    payload = json.loads((fixtures_dir / "gamma_markets_single_NONNBA_btc5m_ra1nty.json").read_text())
    market = payload[0] if isinstance(payload, list) else payload
    parsed = parse_gamma_market(market)
    assert parsed.fees == GammaFees(
        fees_enabled=True, rate=0.25, exponent=2.0, taker_only=True, rebate_rate=0.2, fee_type="crypto_fees"
    )
    terms = fee_terms(parsed.fees)
    assert (terms.enabled, terms.rate, terms.exponent, terms.assumed) == (True, 0.25, 2.0, False)


def test_fees_disabled_in_real_gamma_events_means_free(fixtures_dir) -> None:
    payload = json.loads(
        (fixtures_dir / "gamma_events_nba_2890-mavs-grizzlies-2021_wom-strategy.json").read_text()
    )
    event = payload[0] if isinstance(payload, list) else payload
    market = parse_gamma_market(event["markets"][0])
    assert market.fees is not None
    assert market.fees.fees_enabled is False
    terms = fee_terms(market.fees)
    assert not terms.enabled
    assert not terms.assumed
    assert taker_fee(100, 0.5, terms) == 0.0


@pytest.mark.parametrize(
    "payload",
    [
        {},  # an older market: no fee fields at all
        {"feesEnabled": True},  # enabled, schedule missing
        {"feesEnabled": True, "feeSchedule": {"rate": "abc", "exponent": 1}},  # unreadable rate
        {"feesEnabled": True, "feeSchedule": {"rate": -0.1, "exponent": 1}},  # negative rate
        {"feesEnabled": None, "feeSchedule": "0.02"},  # a schedule that is not an object
    ],
)
def test_missing_terms_take_the_flagged_conservative_default_never_zero(payload) -> None:
    terms = fee_terms(parse_gamma_fees(payload))
    assert terms.assumed
    assert terms.enabled
    assert terms.rate == DEFAULT_FEE_TERMS.rate > 0
    assert "(assumed)" in terms.label


def test_numeric_strings_are_read_and_takers_only_pay() -> None:
    fees = parse_gamma_fees({"feesEnabled": "true", "feeSchedule": {"rate": "0.0175", "exponent": "1"}})
    terms = fee_terms(fees)
    assert (terms.rate, terms.exponent, terms.assumed) == (0.0175, 1.0, False)
    # 200 shares at 0.40: 200 x 0.0175 x 0.24 = 0.84; a maker pays nothing
    assert taker_fee(200, 0.40, terms) == pytest.approx(0.84)
    assert taker_fee(200, 0.40, terms, taker=False) == 0.0


@pytest.mark.parametrize(
    ("shares", "price", "terms", "expected"),
    [
        (100, 0.50, SPORTS, 0.75),  # 100 x 0.03 x 0.25
        (100, 0.20, SPORTS, 0.48),  # 100 x 0.03 x 0.16
        (100, 0.54, CRYPTO, 1.5426),  # 100 x 0.25 x (0.2484)^2 = 25 x 0.06170256
        (100, 0.99, SPORTS, 0.0297),  # 100 x 0.03 x 0.0099
    ],
)
def test_taker_fee_formula(shares, price, terms, expected) -> None:
    assert taker_fee(shares, price, terms) == pytest.approx(expected, abs=1e-4)


# ---------------------------------------------------------------------------------------------------------
# Filling a stake
# ---------------------------------------------------------------------------------------------------------


def test_fill_walks_two_levels_with_the_fee() -> None:
    # level 1: 0.40 + 0.03 x 0.24 = 0.4072 per share, 100 shares cost 40.72, leaving 19.28
    # level 2: 0.50 + 0.03 x 0.25 = 0.5075 per share: 19.28 / 0.5075 = 37.990148 shares
    fill = fill_buy([(0.40, 100.0), (0.50, 1000.0)], 60.0, SPORTS)
    assert fill.complete
    assert fill.levels == 2
    assert fill.shares == pytest.approx(137.990148, abs=1e-6)
    assert fill.notional == pytest.approx(40.0 + 37.990148 * 0.50, abs=1e-6)  # 58.995074
    assert fill.fee == pytest.approx(0.72 + 37.990148 * 0.0075, abs=1e-6)  # 1.004926
    assert fill.spent == pytest.approx(60.0)
    assert fill.avg_price == pytest.approx(58.995074 / 137.990148, abs=1e-6)  # 0.427531
    assert fill.decimal == pytest.approx(137.990148 / 60.0, abs=1e-6)  # 2.299836
    assert fill.implied == pytest.approx(60.0 / 137.990148, abs=1e-6)  # 0.434814
    assert fill.best_ask == 0.40
    assert fill.top_decimal == pytest.approx(1 / 0.4072)
    assert fill.depth_dollars == pytest.approx(40.72 + 1000 * 0.5075)
    # price x (1 + fee as a fraction of the notional) is the price paid per share
    assert fill.avg_price * (1 + fill.fee_rate_of_notional) == pytest.approx(fill.implied)


def test_unsorted_book_is_sorted_and_bad_levels_dropped() -> None:
    stored = [{"price": 0.5, "size": 1000}, {"price": "0.4", "size": "100"}, {"price": 0, "size": 5},
              {"price": 0.45, "size": 0}, {"price": 1.2, "size": 3}]  # fmt: skip
    assert sorted_asks(stored) == [(0.4, 100.0), (0.5, 1000.0)]
    assert fill_buy(stored, 60.0, SPORTS) == fill_buy([(0.40, 100.0), (0.50, 1000.0)], 60.0, SPORTS)


def test_free_market_fills_at_the_ask() -> None:
    # 30 dollars at 0.60 with no fee: 50 shares, decimal 1 / 0.6
    fill = fill_buy([(0.60, 500.0)], 30.0, FeeTerms(enabled=False))
    assert fill.shares == pytest.approx(50.0)
    assert fill.fee == 0.0
    assert fill.decimal == pytest.approx(1 / 0.6)


def test_depth_exhausted_is_a_partial_fill_not_the_best_ask() -> None:
    # the whole book: 10 x 0.5075 + 20 x (0.60 + 0.03 x 0.24 = 0.6072) = 5.075 + 12.144 = 17.219 dollars
    fill = fill_buy([(0.60, 20.0), (0.50, 10.0)], 100.0, SPORTS)
    assert not fill.complete
    assert fill.shares == pytest.approx(30.0)
    assert fill.spent == pytest.approx(17.219)
    assert fill.depth_dollars == pytest.approx(17.219)
    assert fill.decimal == pytest.approx(30.0 / 17.219)  # 1.742261, worse than the top's 1.970443
    assert fill.decimal < fill.top_decimal


def test_empty_book_has_no_price() -> None:
    fill = fill_buy([], 10.0, SPORTS)
    assert not fill.complete
    assert fill.shares == 0.0
    assert fill.decimal is None
    assert fill.implied is None
    assert fill.best_ask is None


def test_zero_stake_is_the_marginal_price_at_the_best_ask() -> None:
    fill = fill_buy([(0.55, 10.0), (0.50, 10.0)], 0.0, SPORTS)
    assert fill.complete
    assert fill.shares == 0.0
    assert fill.decimal == pytest.approx(1 / 0.5075)


@pytest.mark.parametrize("stake", [-1.0, math.inf, math.nan])
def test_bad_stake_raises(stake) -> None:
    with pytest.raises(ValueError, match="stake"):
        fill_buy([(0.5, 10.0)], stake, SPORTS)


def test_stake_exactly_the_depth_is_complete() -> None:
    fill = fill_buy([(0.50, 10.0)], 5.075, SPORTS)
    assert fill.complete
    assert fill.shares == pytest.approx(10.0)
