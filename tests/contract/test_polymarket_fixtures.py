"""Contract tests: every recorded `gamma_*` and `clob_*` response in ../shared/fixtures parses as documented."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from odds_analytics.polymarket.clob import parse_book, parse_price_quotes
from odds_analytics.polymarket.gamma import parse_gamma_events, parse_gamma_market, parse_gamma_markets
from odds_analytics.polymarket.history import parse_price_history
from odds_analytics.polymarket.parsing import detect_kind
from odds_models.errors import PayloadError
from tasks.polymarket_gamma import GammaClient, check_requested

pytestmark = pytest.mark.shared


def _load(fixtures_dir: Path, name: str) -> object:
    return json.loads((fixtures_dir / name).read_text())


def test_every_polymarket_fixture_is_covered(fixtures_dir: Path) -> None:
    names = sorted(p.name for p in fixtures_dir.iterdir() if p.name.startswith(("gamma_", "clob_")))
    covered = set(KIND)
    assert names, "no gamma_/clob_ fixtures found"
    assert set(names) <= covered, f"fixtures without a contract test: {sorted(set(names) - covered)}"


KIND = {
    "clob_book_NONNBA_2026-01-11_gorbachev.json": "book",
    "clob_book_NONNBA_btc5m_2026-03-22_ra1nty.json": "book",
    "clob_last_trade_price_NONNBA_ra1nty.json": "last_trade",
    "clob_market_single_NONNBA_trump2024_gorbachev.json": "clob_market",
    "clob_markets_first-page_wom-strategy.json": "clob_markets",
    "clob_midpoint_NONNBA_ra1nty.json": "midpoint",
    "clob_prices_history_NONNBA_btc5m_ra1nty.json": "history",
    "clob_prices_history_empty_wom-strategy.json": "history",
    "clob_prices_history_interval-1d_NONNBA_wom-strategy.json": "history",
    "clob_prices_history_interval-1h_NONNBA_wom-strategy.json": "history",
    "clob_prices_history_interval-1w-fidelity5_NONNBA_wom-strategy.json": "history",
    "gamma_events_default-page_first-is-nba-2890_wom-strategy.json": "events",
    "gamma_events_nba_2890-mavs-grizzlies-2021_wom-strategy.json": "events",
    "gamma_events_single_NONNBA_multimarket_gorbachev.json": "events",
    "gamma_markets_default-page_NONNBA_wom-strategy.json": "markets",
    "gamma_markets_single_NONNBA_btc5m_ra1nty.json": "markets",
    "gamma_markets_single_nba_mem-okc-2025-03-27_total-239pt5_extraction-note.json": "markets",
    "gamma_markets_unknown-param-condition_id-ignored_default-20_NONNBA_wom-strategy.json": "markets",
    "gamma_sports_wom-strategy.json": "sports",
}


@pytest.mark.parametrize("name", sorted(n for n, k in KIND.items() if k == "book"))
def test_books_are_sorted_best_first(fixtures_dir: Path, name: str) -> None:
    raw = _load(fixtures_dir, name)
    book = parse_book(raw)
    assert detect_kind(raw) == "book"
    assert book.token_id == raw["asset_id"]
    assert len(book.token_id) >= 70
    assert [lvl.price for lvl in book.bids] == sorted((float(b["price"]) for b in raw["bids"]), reverse=True)
    assert [lvl.price for lvl in book.asks] == sorted(float(a["price"]) for a in raw["asks"])
    if raw["bids"]:
        assert book.best_bid == max(float(b["price"]) for b in raw["bids"])
    else:  # the no-bids book
        assert book.best_bid is None
        assert book.mid is None
        assert book.weighted_mid is None
        assert book.bid_depth == 0
    assert book.best_ask == min(float(a["price"]) for a in raw["asks"])
    assert book.book_time is not None
    assert book.book_time.year == 2026
    assert book.tick_size in (0.01, 0.001)


def test_gorbachev_book_metrics(fixtures_dir: Path) -> None:
    book = parse_book(_load(fixtures_dir, "clob_book_NONNBA_2026-01-11_gorbachev.json"))
    assert book.best_bid == 0.002
    assert book.best_ask is not None
    assert book.best_ask < 0.999
    assert book.spread == pytest.approx(book.best_ask - book.best_bid)
    assert book.best_bid <= book.weighted_mid <= book.best_ask
    assert -1 <= book.imbalance <= 1


def test_legacy_book_shape_without_tick_size_or_last_trade(fixtures_dir: Path) -> None:
    raw = _load(fixtures_dir, "clob_book_NONNBA_2026-01-11_gorbachev.json")
    legacy = {
        k: v
        for k, v in raw.items()
        if k not in ("min_order_size", "tick_size", "neg_risk", "last_trade_price")
    }
    book = parse_book(legacy)
    assert book.tick_size is None
    assert book.last_trade_price is None
    assert book.best_bid == parse_book(raw).best_bid


@pytest.mark.parametrize("name", sorted(n for n, k in KIND.items() if k == "history"))
def test_price_history(fixtures_dir: Path, name: str) -> None:
    raw = _load(fixtures_dir, name)
    points, findings = parse_price_history(raw)
    assert detect_kind(raw) == "history"
    assert findings == []
    assert len(points) == len({p["t"] for p in raw["history"]})
    assert all(a.t < b.t for a, b in itertools.pairwise(points))
    assert all(0 <= p.p <= 1 and p.t.tzinfo is not None for p in points)
    if "empty" in name:
        assert points == []


def test_midpoint_and_last_trade_are_string_prices(fixtures_dir: Path) -> None:
    mid = _load(fixtures_dir, "clob_midpoint_NONNBA_ra1nty.json")
    last = _load(fixtures_dir, "clob_last_trade_price_NONNBA_ra1nty.json")
    quotes = parse_price_quotes({"1": {"BUY": last["price"], "SELL": "0.002"}}, {"1": mid["mid"]})
    assert quotes["1"].mid == 0.0005
    assert quotes["1"].best_bid == 0.001
    assert quotes["1"].best_ask == 0.002


def test_clob_market_tokens_are_strings(fixtures_dir: Path) -> None:
    single = _load(fixtures_dir, "clob_market_single_NONNBA_trump2024_gorbachev.json")
    page = _load(fixtures_dir, "clob_markets_first-page_wom-strategy.json")
    assert all(isinstance(t["token_id"], str) and t["token_id"].isdigit() for t in single["tokens"])
    assert page["next_cursor"]
    assert len(page["data"]) == page["count"]
    assert detect_kind(single) == "unknown"  # not an import format: the CLOB listing is not our index


def test_gamma_2021_nba_event_classifies_as_spread(fixtures_dir: Path) -> None:
    events = parse_gamma_events(
        _load(fixtures_dir, "gamma_events_nba_2890-mavs-grizzlies-2021_wom-strategy.json")
    )
    assert len(events) == 1
    event = events[0]
    assert event.id == "2890"
    assert event.series_id == "2"
    assert event.away_team is None
    (market,) = event.markets
    assert market.classification.market_type == "spread"
    assert (market.classification.team, market.classification.line) == ("Dallas Mavericks", -5.5)
    assert all(len(t) >= 76 and t.isdigit() for t in market.token_ids)
    assert market.outcomes == ["Yes", "No"]


def test_gamma_default_event_page_parses(fixtures_dir: Path) -> None:
    raw = _load(fixtures_dir, "gamma_events_default-page_first-is-nba-2890_wom-strategy.json")
    events = parse_gamma_events(raw)
    assert [e.id for e in events] == [e["id"] for e in raw]
    types = {m.classification.market_type for e in events for m in e.markets}
    assert "spread" in types
    assert "other" in types


def test_gamma_single_multimarket_event(fixtures_dir: Path) -> None:
    raw = _load(fixtures_dir, "gamma_events_single_NONNBA_multimarket_gorbachev.json")
    (event,) = parse_gamma_events(raw)
    assert len(event.markets) == len(raw["markets"]) > 1
    assert all(m.polymarket_event_id == event.id for m in event.markets)
    assert {m.classification.market_type for m in event.markets} <= {"other", "futures"}


def test_nba_total_market(fixtures_dir: Path) -> None:
    raw = _load(fixtures_dir, "gamma_markets_single_nba_mem-okc-2025-03-27_total-239pt5_extraction-note.json")
    market = parse_gamma_market(raw)
    assert market.classification.market_type == "total"
    assert market.classification.line == 239.5
    assert market.game_start_time is not None
    assert market.game_start_time.isoformat() == "2025-03-28T00:00:00+00:00"
    assert market.closed_time is not None
    assert market.closed_time.hour == 4
    assert market.resolved_outcome == "Under"
    assert (
        market.token_ids[0]
        == "111921395645355300487518569145849548118782457875824781317525262592604421091895"
    )


def test_btc_market_is_other(fixtures_dir: Path) -> None:
    market = parse_gamma_market(_load(fixtures_dir, "gamma_markets_single_NONNBA_btc5m_ra1nty.json"))
    assert market.classification.market_type == "other"
    assert len(market.token_ids) == 2


@pytest.mark.parametrize(
    "name",
    [
        "gamma_markets_default-page_NONNBA_wom-strategy.json",
        "gamma_markets_unknown-param-condition_id-ignored_default-20_NONNBA_wom-strategy.json",
    ],
)
def test_default_market_pages_parse(fixtures_dir: Path, name: str) -> None:
    raw = _load(fixtures_dir, name)
    markets = parse_gamma_markets(raw)
    assert markets[0].id == "12"
    assert "Biden" in markets[0].question


def test_ignored_unknown_parameter_is_detected(fixtures_dir: Path) -> None:
    raw = _load(
        fixtures_dir, "gamma_markets_unknown-param-condition_id-ignored_default-20_NONNBA_wom-strategy.json"
    )
    wanted = ["0x834e57936657ae5ddaea6d9e18ee780d04d588018ab6b9b18a44cc5317e5f6f2"]
    with pytest.raises(PayloadError, match="ignored the filter"):
        check_requested(raw, "conditionId", wanted, endpoint="/markets")


def test_ignored_series_filter_on_events_is_detected(fixtures_dir: Path) -> None:
    raw = _load(fixtures_dir, "gamma_events_default-page_first-is-nba-2890_wom-strategy.json")
    with pytest.raises(PayloadError, match="filter was ignored"):
        GammaClient._check_events(raw, series_id="10345", closed=True)


def test_sports_lists_nba_series(fixtures_dir: Path) -> None:
    sports = _load(fixtures_dir, "gamma_sports_wom-strategy.json")
    nba = next(s for s in sports if s["sport"] == "nba")
    assert nba["series"] == "10345"
    assert "100639" in nba["tags"].split(",")
