"""Property-based tests of every Polymarket parser: typed errors or findings, never an unhandled crash.

Inputs are generated JSON values (and mutations of valid payloads). Each parser must either return data
that meets its invariants or raise `PayloadError`. Run with `--hypothesis-show-statistics` to see how
many inputs were tried.
"""

from __future__ import annotations

import json
import math
from datetime import UTC

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odds_analytics.polymarket.classify import classify_market
from odds_analytics.polymarket.clob import parse_book, parse_price_quotes
from odds_analytics.polymarket.gamma import parse_gamma_event, parse_gamma_market
from odds_analytics.polymarket.history import parse_price_history
from odds_analytics.polymarket.parsing import parse_gamma_datetime, parse_json_list
from odds_models.errors import PayloadError

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**320)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
numberish = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.none()
)
token_ids = st.text(alphabet="0123456789", min_size=1, max_size=80)


def _json_list_field(elements: st.SearchStrategy) -> st.SearchStrategy:
    lists = st.lists(elements, max_size=3)
    return lists.map(json.dumps) | lists | st.text(max_size=20) | json_values


markets = st.fixed_dictionaries(
    {
        "id": st.one_of(st.text(min_size=1, max_size=8), st.integers(), st.none()),
        "question": st.one_of(
            st.text(max_size=80),
            st.sampled_from(
                [
                    "Spread: Knicks (-4.5)",
                    "Pistons vs. 76ers",
                    "Over 239.5",
                    "Joel Embiid: Rebounds O/U 7.5",
                    "Will the Suns beat the Warriors by more than 5.5 points?",
                ]
            ),
            st.none(),
            st.integers(),
        ),
    },
    optional={
        "outcomes": _json_list_field(st.text(max_size=10)),
        "outcomePrices": _json_list_field(numberish),
        "clobTokenIds": _json_list_field(token_ids | st.integers()),
        "gameStartTime": st.one_of(
            st.text(max_size=30),
            st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S+00")),
            st.integers(),
            st.none(),
        ),
        "sportsMarketType": st.one_of(
            st.sampled_from(["moneyline", "spreads", "totals", "points", "first_half_spreads"]), json_scalars
        ),
        "line": numberish,
        "closed": json_scalars,
        "umaResolutionStatus": st.sampled_from(["resolved", "proposed"]),
        "slug": json_scalars,
        "endDate": json_scalars,
        "events": json_values,
    },
)


@SETTINGS
@given(markets)
def test_gamma_market_parses_or_raises_payload_error(payload: dict) -> None:
    try:
        market = parse_gamma_market(payload)
    except PayloadError:
        return
    assert all(isinstance(t, str) and t.isdigit() for t in market.token_ids)
    assert not market.token_ids or not market.outcomes or len(market.token_ids) == len(market.outcomes)
    assert market.classification.market_type in (
        "moneyline",
        "spread",
        "total",
        "player_prop",
        "futures",
        "other",
    )
    assert market.game_start_time is None or market.game_start_time.tzinfo is not None
    assert all(p is None or math.isfinite(p) for p in market.outcome_prices)


@SETTINGS
@given(
    st.fixed_dictionaries(
        {"id": json_scalars, "slug": json_scalars},
        optional={
            "title": json_scalars,
            "ticker": json_scalars,
            "series": json_values,
            "eventDate": json_scalars,
            "startTime": json_scalars,
            "markets": st.lists(markets, max_size=3) | json_values,
        },
    )
)
def test_gamma_event_parses_or_raises_payload_error(payload: dict) -> None:
    try:
        event = parse_gamma_event(payload)
    except PayloadError:
        return
    assert isinstance(event.id, str)
    assert event.slug
    assert all(m.polymarket_event_id == event.id for m in event.markets)


@SETTINGS
@given(json_values | st.text(max_size=40))
def test_json_list_fields_never_crash(value: object) -> None:
    try:
        out = parse_json_list(value, name="f", allow_int=True)
    except PayloadError:
        return
    assert all(isinstance(x, str) for x in out)


@SETTINGS
@given(st.text(max_size=40) | json_scalars)
def test_dates_parse_to_aware_utc_or_raise(value: object) -> None:
    try:
        parsed = parse_gamma_datetime(value)
    except PayloadError:
        return
    assert parsed is None or (parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0)


levels = st.lists(st.fixed_dictionaries({"price": numberish, "size": numberish}), max_size=6) | json_values


@SETTINGS
@given(
    st.fixed_dictionaries(
        {"asset_id": st.one_of(token_ids, json_scalars)},
        optional={
            "bids": levels,
            "asks": levels,
            "timestamp": numberish,
            "hash": json_scalars,
            "tick_size": numberish,
            "last_trade_price": numberish,
        },
    )
)
def test_books_are_sorted_or_rejected(payload: dict) -> None:
    try:
        book = parse_book(payload)
    except PayloadError:
        return
    bids, asks = [lvl.price for lvl in book.bids], [lvl.price for lvl in book.asks]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert book.best_bid == (bids[0] if bids else None)
    assert book.best_ask == (asks[0] if asks else None)
    assert book.imbalance is None or -1 <= book.imbalance <= 1
    assert book.bid_depth >= 0
    assert book.ask_depth >= 0


@SETTINGS
@given(
    st.dictionaries(
        token_ids, st.dictionaries(st.sampled_from(["BUY", "SELL"]), numberish) | json_scalars, max_size=3
    )
    | json_values
)
def test_price_quotes_never_crash(payload: object) -> None:
    try:
        quotes = parse_price_quotes(payload)
    except PayloadError:
        return
    for q in quotes.values():
        assert q.best_bid is None or 0 <= q.best_bid <= 1
        assert q.best_ask is None or 0 <= q.best_ask <= 1


@SETTINGS
@given(
    st.fixed_dictionaries(
        {
            "history": st.lists(st.fixed_dictionaries({"t": numberish, "p": numberish}), max_size=8)
            | json_values
        }
    )
    | json_values
)
def test_price_history_keeps_valid_points_and_reports_the_rest(payload: object) -> None:
    try:
        points, findings = parse_price_history(payload)
    except PayloadError:
        return
    assert all(0 <= p.p <= 1 for p in points)
    assert [p.t for p in points] == sorted({p.t for p in points})
    history = payload.get("history") if isinstance(payload, dict) else None
    if isinstance(history, list):
        assert len(points) + len(findings) <= len(history)


@SETTINGS
@given(
    st.text(max_size=120),
    st.one_of(st.none(), st.text(max_size=20)),
    numberish,
    st.one_of(st.none(), st.lists(st.text(max_size=12), max_size=3)),
)
def test_classify_never_crashes(
    question: str, smt: str | None, line: object, outcomes: list[str] | None
) -> None:
    numeric = line if isinstance(line, float) and math.isfinite(line) else None
    result = classify_market(question, sports_market_type=smt, line=numeric, outcomes=outcomes)
    assert result.market_type in ("moneyline", "spread", "total", "player_prop", "futures", "other")
