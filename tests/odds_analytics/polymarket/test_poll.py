"""What one price poll collects (`plan_poll`) and the snapshot time it stores (`poll_bucket`): pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from odds_analytics.polymarket.poll import PollTarget, plan_poll, poll_bucket
from odds_analytics.tiers import TierSpec

NOW = datetime(2026, 3, 1, 18, 7, 31, tzinfo=UTC)
SPEC = TierSpec()  # >72h, 24-72h, 12-24h, 3-12h, <3h


def _target(
    market_id: str, hours: float | None, *, kind: str = "moneyline", period: str = "game"
) -> PollTarget:
    start = NOW + timedelta(hours=hours) if hours is not None else None
    return PollTarget(market_id, kind, period, ("A", "B"), (f"{market_id}a", f"{market_id}b"), start)


def test_default_tiers_skip_far_games_started_games_and_unknown_times() -> None:
    targets = [
        _target("near", 2),
        _target("day", 30),
        _target("far", 100),
        _target("gone", -1),
        _target("x", None),
    ]
    plan = plan_poll(targets, now=NOW, tiers=None, spec=SPEC, books_all_markets=False)
    assert plan.markets == 2
    assert plan.by_tier == {"<3h": 1, "24-72h": 1}
    assert plan.tokens == {"neara": ("near", "A"), "nearb": ("near", "B"), "daya": ("day", "A"),
                           "dayb": ("day", "B")}  # fmt: skip


def test_books_for_game_moneylines_spreads_and_totals_unless_all_markets() -> None:
    # picks fill a stake on the book of a game moneyline, spread or total (odds_analytics.venues)
    targets = [
        _target("ml", 2),
        _target("sp", 2, kind="spread"),
        _target("to", 2, kind="total"),
        _target("h1", 2, period="1h"),
        _target("pp", 2, kind="player_prop"),
    ]
    plan = plan_poll(targets, now=NOW, tiers=["<3h"], spec=SPEC, books_all_markets=False)
    assert plan.book_tokens == ["mla", "mlb", "spa", "spb", "toa", "tob"]
    every = plan_poll(targets, now=NOW, tiers=["<3h"], spec=SPEC, books_all_markets=True)
    assert sorted(every.book_tokens) == sorted(every.tokens)


def test_explicit_tiers_and_missing_outcomes() -> None:
    short = PollTarget("m", "moneyline", "game", ("A",), ("t1", "t2"), NOW + timedelta(hours=100))
    plan = plan_poll([short], now=NOW, tiers=[">72h"], spec=SPEC, books_all_markets=False)
    assert plan.tokens == {"t1": ("m", "A"), "t2": ("m", None)}
    assert plan_poll([short], now=NOW, tiers=["<3h"], spec=SPEC, books_all_markets=False).markets == 0


def test_poll_bucket_floors_to_the_interval() -> None:
    assert poll_bucket(NOW, 300) == datetime(2026, 3, 1, 18, 5, tzinfo=UTC)
    assert poll_bucket(NOW + timedelta(seconds=100), 300) == poll_bucket(NOW, 300)  # two polls, one row
    assert poll_bucket(NOW, 0) == NOW.replace(microsecond=0)  # a zero interval never divides by zero
