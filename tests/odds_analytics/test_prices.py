"""Conversions and every devig method against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from odds_analytics.devig import DEVIG_METHODS, DevigError, devig, devig_decimal, devig_two_way
from odds_analytics.prices import (
    InvalidPriceError,
    american_to_decimal,
    american_to_implied,
    decimal_to_american,
    decimal_to_implied,
    implied_to_american,
    implied_to_decimal,
    overround,
    profit_per_unit,
)


@pytest.mark.parametrize(
    ("american", "decimal"),
    [(150, 2.5), (-200, 1.5), (100, 2.0), (-100, 2.0), (-110, 1 + 100 / 110), (250, 3.5), (-400, 1.25)],
)
def test_american_decimal_round_trip(american: int, decimal: float) -> None:
    assert american_to_decimal(american) == pytest.approx(decimal)
    expected_back = 100 if american == -100 else american  # even money is +100 by convention
    assert decimal_to_american(decimal) == expected_back


def test_implied_conversions_by_hand() -> None:
    assert decimal_to_implied(2.5) == pytest.approx(0.4)
    assert implied_to_decimal(0.4) == pytest.approx(2.5)
    assert american_to_implied(-110) == pytest.approx(110 / 210)
    assert implied_to_american(0.4) == 150
    assert implied_to_american(2 / 3) == -200
    assert profit_per_unit(2.5) == pytest.approx(1.5)


def test_overround_by_hand() -> None:
    # -110 / -110: 2 * 110/210 - 1 = 0.047619...
    assert overround([110 / 210, 110 / 210]) == pytest.approx(0.0476190476)
    assert overround([0.5, 0.5]) == pytest.approx(0.0)


@pytest.mark.parametrize("bad", [50, -99, math.nan, math.inf, "x"])
def test_american_rejects_impossible(bad: object) -> None:
    with pytest.raises(InvalidPriceError):
        american_to_decimal(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [1.0, 0.5, -2.0, math.nan, math.inf])
def test_decimal_rejects_impossible(bad: float) -> None:
    with pytest.raises(InvalidPriceError):
        decimal_to_implied(bad)
    with pytest.raises(InvalidPriceError):
        decimal_to_american(bad)


def test_invalid_price_is_value_error() -> None:
    assert issubclass(InvalidPriceError, ValueError)
    assert issubclass(DevigError, ValueError)


# Hand computation for decimal 1.80 / 2.10: q = (0.555556, 0.476190), S = 1.031746.
Q = [1 / 1.8, 1 / 2.1]


def test_multiplicative_by_hand() -> None:
    p = devig(Q, "multiplicative")
    assert p[0] == pytest.approx((1 / 1.8) / (1 / 1.8 + 1 / 2.1))  # = 2.1 / 3.9 = 0.538462
    assert p[0] == pytest.approx(2.1 / 3.9)


def test_additive_by_hand() -> None:
    margin = (1 / 1.8 + 1 / 2.1 - 1) / 2  # 0.015873
    p = devig(Q, "additive")
    assert p[0] == pytest.approx(1 / 1.8 - margin)
    assert p[0] == pytest.approx(0.5396825397)


def test_power_by_hand() -> None:
    p = devig(Q, "power")
    # k solves q1^k + q2^k = 1; check the defining equation and the value found by hand (k ~ 1.0441).
    k = math.log(p[0]) / math.log(Q[0])
    assert Q[0] ** k + Q[1] ** k == pytest.approx(1.0)
    assert math.log(p[1]) / math.log(Q[1]) == pytest.approx(k)
    assert p[0] == pytest.approx(0.54028, abs=1e-5)


def test_shin_equals_additive_for_two_outcomes() -> None:
    for q in ([1 / 1.8, 1 / 2.1], [1 / 1.25, 1 / 4.2], [110 / 210, 110 / 210], [0.7, 0.35]):
        assert devig(q, "shin") == pytest.approx(devig(q, "additive"), abs=1e-10)


def test_shin_three_outcomes_solves_its_equation() -> None:
    q = [0.5, 0.3, 0.3]
    p = devig(q, "shin")
    s = sum(q)
    # Recover z from the first outcome and check every outcome obeys the same z.
    z_candidates = []
    for qi, pi in zip(q, p, strict=True):
        # p = (sqrt(z^2 + 4(1-z) q^2/S) - z) / (2(1-z))  =>  solve for z numerically by hand-formula check
        def f(z: float, qi: float = qi, pi: float = pi) -> float:
            return (math.sqrt(z * z + 4 * (1 - z) * qi * qi / s) - z) / (2 * (1 - z)) - pi

        lo, hi = 0.0, 0.99
        for _ in range(100):
            mid = (lo + hi) / 2
            if (f(mid) > 0) == (f(lo) > 0):
                lo = mid
            else:
                hi = mid
        z_candidates.append(lo)
    assert max(z_candidates) - min(z_candidates) < 1e-6
    assert 0 < z_candidates[0] < 0.2
    # Shin shifts less margin to the favourite than additive does.
    assert p[0] < devig(q, "additive")[0]


def test_equal_prices_give_equal_fair() -> None:
    for method in DEVIG_METHODS:
        assert devig([0.55, 0.55, 0.55], method) == pytest.approx([1 / 3] * 3)


def test_no_margin_is_unchanged() -> None:
    for method in DEVIG_METHODS:
        assert devig([0.4, 0.6], method) == pytest.approx([0.4, 0.6])


@pytest.mark.parametrize(
    "bad", [[0.5], [], [0.5, 0.0], [0.5, -0.1], [0.5, math.nan], [0.5, math.inf], [0.5, 1.0], [0.5, "a"]]
)
def test_devig_rejects_bad_input(bad: list[float]) -> None:
    for method in DEVIG_METHODS:
        with pytest.raises(DevigError):
            devig(bad, method)


def test_unknown_method_and_additive_negative() -> None:
    with pytest.raises(DevigError, match="unknown devig method"):
        devig([0.5, 0.55], "bogus")
    with pytest.raises(DevigError, match="non-positive"):
        devig([0.9, 0.05, 0.3], "additive")


def test_devig_decimal() -> None:
    assert devig_decimal([1.8, 2.1]) == pytest.approx(devig(Q))
    with pytest.raises(DevigError):
        devig_decimal([1.0, 2.0])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=0.02, max_value=0.95), min_size=2, max_size=6),
    st.sampled_from(["multiplicative", "power", "shin"]),
)
def test_devig_sums_to_one_and_keeps_order(q: list[float], method: str) -> None:
    p = devig(q, method)
    assert math.fsum(p) == pytest.approx(1.0, abs=1e-9)
    assert all(0 < x < 1 for x in p)
    order_q = sorted(range(len(q)), key=lambda i: q[i])
    assert all(p[order_q[i]] <= p[order_q[i + 1]] + 1e-12 for i in range(len(q) - 1))


def test_two_way_vectorised_matches_scalar() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(0.1, 0.85, 300)
    b = np.clip(1.045 - a + rng.normal(0, 0.01, 300), 0.05, 0.95)
    for method in DEVIG_METHODS:
        p1, p2 = devig_two_way(a, b, method)
        for i in range(0, 300, 37):
            try:
                expected = devig([a[i], b[i]], method)
            except DevigError:
                assert np.isnan(p1[i])
                continue
            assert p1[i] == pytest.approx(expected[0], abs=1e-9)
            assert p2[i] == pytest.approx(expected[1], abs=1e-9)


def test_two_way_marks_bad_rows_nan() -> None:
    p1, _ = devig_two_way(np.array([0.5, np.nan, 1.2]), np.array([0.55, 0.5, 0.5]), "power")
    assert not np.isnan(p1[0])
    assert np.isnan(p1[1])
    assert np.isnan(p1[2])
