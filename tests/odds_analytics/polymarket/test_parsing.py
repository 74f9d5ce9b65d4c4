"""Gamma JSON-string fields and dates, book ordering and metrics, history windows and staleness."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from odds_analytics.polymarket.clob import BookLevel, book_metrics, parse_book, parse_price_quotes
from odds_analytics.polymarket.gamma import parse_gamma_event, parse_gamma_market
from odds_analytics.polymarket.history import (
    backfill_range,
    backfill_staleness,
    expires_within,
    history_windows,
    parse_price_history,
)
from odds_analytics.polymarket.parsing import detect_kind, parse_gamma_datetime, parse_json_list
from odds_models.errors import PayloadError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TOKEN_A = "4259" + "1" * 72
TOKEN_B = "8537" + "2" * 72


def nba_market(**over: object) -> dict:
    market = {
        "id": "666285",
        "question": "Pistons vs. 76ers",
        "conditionId": "0x" + "a" * 64,
        "slug": "nba-det-phi-2025-11-09",
        "outcomes": '["Pistons", "76ers"]',
        "outcomePrices": '["0.465", "0.535"]',
        "clobTokenIds": json.dumps([TOKEN_A, TOKEN_B]),
        "sportsMarketType": "moneyline",
        "gameStartTime": "2025-11-10 00:30:00+00",
        "active": True,
        "closed": False,
    }
    market.update(over)
    return market


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-10 00:30:00+00", datetime(2025, 11, 10, 0, 30, tzinfo=UTC)),
        ("2025-11-10T00:30:00Z", datetime(2025, 11, 10, 0, 30, tzinfo=UTC)),
        ("2026-03-21T07:58:17.582157Z", datetime(2026, 3, 21, 7, 58, 17, 582157, tzinfo=UTC)),
        ("2025-11-09T19:30:00-05:00", datetime(2025, 11, 10, 0, 30, tzinfo=UTC)),
        ("2025-04-04", datetime(2025, 4, 4, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_gamma_datetimes(text, expected) -> None:
    assert parse_gamma_datetime(text) == expected


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01 00:00:00+00", 1700000000, ["x"]])
def test_bad_datetimes_raise_payload_error(bad) -> None:
    with pytest.raises(PayloadError):
        parse_gamma_datetime(bad)


def test_json_string_fields_keep_token_ids_as_strings() -> None:
    market = parse_gamma_market(nba_market())
    assert market.token_ids == [TOKEN_A, TOKEN_B]
    assert all(isinstance(t, str) for t in market.token_ids)
    assert market.outcomes == ["Pistons", "76ers"]
    assert market.outcome_prices == [0.465, 0.535]
    assert market.game_start_time == datetime(2025, 11, 10, 0, 30, tzinfo=UTC)
    # already-decoded lists are accepted too; an integer token id converts losslessly
    assert parse_json_list([int(TOKEN_A)], name="x", allow_int=True) == [TOKEN_A]


@pytest.mark.parametrize(
    "override",
    [
        {"outcomes": "not json"},
        {"clobTokenIds": "[1.5e75]"},
        {"clobTokenIds": '["abc", "def"]'},
        {"clobTokenIds": json.dumps([TOKEN_A])},
        {"outcomePrices": '["x", "y"]'},
        {"id": None},
        {"gameStartTime": "soon"},
        {"outcomes": '{"a": 1}'},
    ],
)
def test_broken_markets_raise_payload_error(override) -> None:
    with pytest.raises(PayloadError):
        parse_gamma_market(nba_market(**override))


def test_resolution_needs_closed_and_resolved() -> None:
    open_half = parse_gamma_market(nba_market(outcomePrices='["0.5", "0.5"]', closed=False))
    void = parse_gamma_market(
        nba_market(outcomePrices='["0.5", "0.5"]', closed=True, umaResolutionStatus="resolved")
    )
    won = parse_gamma_market(
        nba_market(outcomePrices='["0", "1"]', closed=True, umaResolutionStatus="resolved")
    )
    assert (open_half.resolved_outcome, void.resolved_outcome, won.resolved_outcome) == (
        None,
        "void",
        "76ers",
    )


def test_event_takes_teams_from_ticker_and_game_time_from_markets() -> None:
    event = parse_gamma_event(
        {
            "id": "73679",
            "slug": "nba-det-phi-2025-11-09",
            "ticker": "nba-det-phi-2025-11-09",
            "title": "Pistons vs. 76ers",
            "eventDate": "2025-11-09",
            "startTime": "2025-11-10T00:30:00Z",
            "series": [{"id": "10345"}],
            "closed": False,
            "markets": [nba_market()],
        }
    )
    assert (event.away_team, event.home_team) == ("Detroit Pistons", "Philadelphia 76ers")
    assert event.series_id == "10345"
    assert event.event_date.isoformat() == "2025-11-09"
    assert event.game_start_time == datetime(2025, 11, 10, 0, 30, tzinfo=UTC)
    assert event.markets[0].polymarket_event_id == "73679"
    assert "markets" not in event.raw


def test_api_order_books_come_back_best_first() -> None:
    # the CLOB sends bids ascending and asks descending (best last)
    raw = {
        "asset_id": TOKEN_A,
        "timestamp": "1768131333289",
        "bids": [
            {"price": "0.40", "size": "10"},
            {"price": "0.45", "size": "5"},
            {"price": "0.47", "size": "20"},
        ],
        "asks": [
            {"price": "0.60", "size": "7"},
            {"price": "0.52", "size": "3"},
            {"price": "0.50", "size": "30"},
        ],
    }
    book = parse_book(raw)
    assert [lvl.price for lvl in book.bids] == [0.47, 0.45, 0.40]
    assert [lvl.price for lvl in book.asks] == [0.50, 0.52, 0.60]
    # the same book in any other order gives the same result
    shuffled = {**raw, "bids": list(reversed(raw["bids"])), "asks": list(reversed(raw["asks"]))}
    assert parse_book(shuffled) == book
    assert (book.best_bid, book.best_ask, book.spread) == (0.47, 0.50, pytest.approx(0.03))
    assert book.mid == pytest.approx(0.485)
    assert (book.bid_depth, book.ask_depth) == (35.0, 40.0)
    assert book.imbalance == pytest.approx((35 - 40) / 75)
    # micro-price: leans toward the ask when the bid is heavier (20 bid vs 30 ask: leans to the bid)
    assert book.weighted_mid == pytest.approx((0.47 * 30 + 0.50 * 20) / 50)


def test_book_metrics_of_empty_and_one_sided_books() -> None:
    empty = book_metrics([], [])
    assert empty["best_bid"] is None
    assert empty["imbalance"] is None
    assert empty["bid_depth"] == 0
    one = book_metrics([], [BookLevel(0.9, 5)])
    assert one["best_ask"] == 0.9
    assert one["mid"] is None
    assert one["imbalance"] == -1


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"bids": [{"price": "1.5", "size": "1"}], "asset_id": "1"},
        {"bids": [{"price": "0.5"}], "asset_id": "1"},
        {"bids": "x", "asset_id": "1"},
        {"bids": [], "asks": []},
        {"asset_id": "1", "asks": [{"price": "0.5", "size": "-1"}]},
    ],
)
def test_broken_books_raise_payload_error(raw) -> None:
    with pytest.raises(PayloadError):
        parse_book(raw)


def test_price_quotes_buy_is_bid_sell_is_ask() -> None:
    quotes = parse_price_quotes({TOKEN_A: {"BUY": "0.52", "SELL": "0.55"}, TOKEN_B: {"SELL": "0.48"}})
    assert (quotes[TOKEN_A].best_bid, quotes[TOKEN_A].best_ask) == (0.52, 0.55)
    assert quotes[TOKEN_A].mid == pytest.approx(0.535)
    assert quotes[TOKEN_A].spread == pytest.approx(0.03)
    assert quotes[TOKEN_B].best_bid is None
    assert quotes[TOKEN_B].mid is None


def test_history_drops_bad_points_as_findings_and_dedupes() -> None:
    points, findings = parse_price_history(
        {
            "history": [
                {"t": 1770394217, "p": 0.23},
                {"t": 1770394157, "p": 0.2},
                {"t": 1770394157, "p": 0.2},
                {"t": 1770394300, "p": 1.7},
                {"t": "x", "p": 0.1},
            ]
        },
        token_id=TOKEN_A,
    )
    assert [p.p for p in points] == [0.2, 0.23]
    assert len(findings) == 2
    assert all(f.token_id == TOKEN_A for f in findings)


def test_history_windows_are_contiguous_and_at_most_15_days() -> None:
    windows = history_windows(T0, T0 + timedelta(days=40))
    assert [(e - s).days for s, e in windows] == [15, 15, 10]
    assert windows[0][0] == T0
    assert windows[-1][1] == T0 + timedelta(days=40)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert history_windows(T0, T0) == []


def test_backfill_range_resumes_at_the_watermark() -> None:
    now = T0 + timedelta(days=60)
    full = backfill_range(
        now=now,
        lookback=timedelta(days=30),
        market_start=None,
        market_end=None,
        covered_from=None,
        covered_to=None,
    )
    assert full == (now - timedelta(days=30), now)
    resumed = backfill_range(
        now=now,
        lookback=timedelta(days=30),
        market_start=None,
        market_end=None,
        covered_from=now - timedelta(days=30),
        covered_to=now - timedelta(days=10),
    )
    assert resumed == (now - timedelta(days=10), now)
    closed = backfill_range(
        now=now,
        lookback=timedelta(days=30),
        market_start=now - timedelta(days=5),
        market_end=now - timedelta(days=4),
        covered_from=now - timedelta(days=5),
        covered_to=now - timedelta(days=4),
    )
    assert closed is None


def test_expiry_flags_unfetched_history_older_than_23_days() -> None:
    now = T0 + timedelta(days=60)
    week = timedelta(days=7)
    old = expires_within(
        now=now, horizon=week, market_start=now - timedelta(days=25), market_end=None, covered_to=None
    )
    assert old == now + timedelta(days=5)
    fresh = expires_within(
        now=now, horizon=week, market_start=now - timedelta(days=10), market_end=None, covered_to=None
    )
    assert fresh is None
    done = expires_within(
        now=now,
        horizon=week,
        market_start=now - timedelta(days=25),
        market_end=now - timedelta(days=24),
        covered_to=now - timedelta(days=24),
    )
    assert done is None


@pytest.mark.parametrize(("age_days", "level"), [(1, "ok"), (3.5, "warn"), (5.5, "fail")])
def test_backfill_staleness(age_days: float, level: str) -> None:
    assert backfill_staleness(T0 - timedelta(days=age_days), T0)[0] == level
    assert backfill_staleness(None, T0)[0] == "never"


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ([nba_market()], "markets"),
        ({"markets": [nba_market()], "next_cursor": "x"}, "markets"),
        (nba_market(), "markets"),
        ({"events": []}, "events"),
        ([{"id": "1", "slug": "s", "title": "t"}], "events"),
        ({"history": []}, "history"),
        ({"asset_id": "1", "bids": [], "asks": []}, "book"),
        ([{"asset_id": "1", "bids": []}], "books"),
        ([], "empty"),
        ({"foo": 1}, "unknown"),
    ],
)
def test_detect_kind(payload, kind: str) -> None:
    assert detect_kind(payload) == kind


def test_backfill_verdict_fails_on_lateness_or_retryable_errors_only() -> None:
    from odds_analytics.polymarket.history import BackfillOutcome, backfill_verdict

    ok = [BackfillOutcome("1", windows=2, points=10)]
    final_error = [*ok, BackfillOutcome("2", error="404 gone", transient=False)]
    transient = [*ok, BackfillOutcome("3", error="429 after 5 attempts", transient=True)]
    assert backfill_verdict(ok, ("ok", "")) is None
    assert backfill_verdict(final_error, ("warn", "3.5 days")) is None
    assert "retryable" in backfill_verdict(transient, ("ok", ""))
    assert backfill_verdict(ok, ("fail", "more than 5 days")) == "more than 5 days"


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00Z", "0001-01-01 00:00:00+00", "9999-12-31", "1999-12-31T23:59:59Z"]
)
def test_gamma_times_outside_the_sane_window_are_payload_errors(text: str) -> None:
    with pytest.raises(PayloadError, match="out of range"):
        parse_gamma_datetime(text, name="startDate")


def test_a_year_one_event_date_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match=r"eventDate.*out of range"):
        parse_gamma_event({"id": "73679", "slug": "nba-det-phi-2025-11-09", "title": "Pistons vs. 76ers",
                           "eventDate": "0001-01-01", "markets": [nba_market()]})  # fmt: skip


def test_a_book_stamped_in_1970_or_9999_is_a_payload_error() -> None:
    for stamp in ("86400000", "253402300799000"):  # 1970 and 9999: both parse as times
        with pytest.raises(PayloadError, match="out of range"):
            parse_book(
                {"asset_id": TOKEN_A, "timestamp": stamp, "bids": [], "asks": [{"price": "0.5", "size": "1"}]}
            )


def test_history_points_outside_the_sane_window_are_dropped_as_findings() -> None:
    points, findings = parse_price_history(
        {"history": [{"t": 1770394217, "p": 0.23}, {"t": -62135596800, "p": 0.2}, {"t": 86400, "p": 0.2},
                     {"t": 4102444800, "p": 0.2}]},
        token_id=TOKEN_A,
    )  # fmt: skip
    assert [p.p for p in points] == [0.23]
    assert [f.check_type for f in findings] == ["pm_history_point"] * 3
