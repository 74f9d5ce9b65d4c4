"""As-of reads never look ahead: a price planted one second after the decision time is never used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from odds_models.db import async_session_maker
from odds_models.tables import ClosingLine
from tasks.storage.event_reads import read_events_between
from tasks.storage.reads import read_closing_lines, read_odds_at_time, read_odds_at_times
from tests.support.backtest_seed import Seed, new_event_id

pytestmark = pytest.mark.db

TIP = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
HOME, AWAY = "Boston Celtics", "Miami Heat"


def _h2h(event_id: str, book: str, at: datetime, home: float, away: float, **extra: object) -> list[dict]:
    return [
        {"event_id": event_id, "snapshot_time": at, "bookmaker": book, "market": "h2h", "outcome": HOME,
         "price": home, **extra},
        {"event_id": event_id, "snapshot_time": at, "bookmaker": book, "market": "h2h", "outcome": AWAY,
         "price": away, **extra},
    ]  # fmt: skip


def _event(event_id: str, tip: datetime = TIP) -> dict:
    return {"id": event_id, "home_team": HOME, "away_team": AWAY, "commence_time": tip}


async def test_single_read_never_uses_a_price_after_t(seed: Seed) -> None:
    ev = new_event_id()
    t = TIP - timedelta(hours=3)
    prices = (
        _h2h(ev, "pinnacle", t - timedelta(hours=1), 1.50, 2.70)
        + _h2h(ev, "pinnacle", t + timedelta(seconds=1), 9.0, 9.0)  # the planted future price
        + _h2h(ev, "fanduel", t, 1.52, 2.60)  # exactly at t: allowed
        + _h2h(ev, "draftkings", t + timedelta(seconds=1), 9.0, 9.0)  # only a future price: no row at all
    )
    await seed([_event(ev)], prices)
    async with async_session_maker() as session:
        df = await read_odds_at_time(ev, t, session=session, max_staleness=timedelta(days=2))
    assert set(df["bookmaker"]) == {"pinnacle", "fanduel"}
    assert (df["snapshot_time"] <= t).all()
    assert 9.0 not in set(df["price_decimal"])
    pin = df[df.bookmaker == "pinnacle"].set_index("outcome")["price_decimal"].to_dict()
    assert pin == {HOME: 1.50, AWAY: 2.70}
    # One second later the planted price is the latest, as it should be.
    async with async_session_maker() as session:
        later = await read_odds_at_time(
            ev, t + timedelta(seconds=1), session=session, max_staleness=timedelta(days=2)
        )
    assert set(later[later.bookmaker == "pinnacle"]["price_decimal"]) == {9.0}


@pytest.mark.parametrize("markets", [None, ["h2h", "spreads", "totals"]], ids=["from-odds", "from-states"])
async def test_batch_read_never_uses_a_price_after_t(seed: Seed, markets: list[str] | None) -> None:
    evs = [new_event_id() for _ in range(3)]
    decision_times = [TIP - timedelta(hours=h) for h in (1, 3, 12)]
    prices: list[dict] = []
    for ev in evs:
        for dt in decision_times:
            prices += _h2h(ev, "pinnacle", dt - timedelta(minutes=10), 1.9, 1.9)
            prices += _h2h(ev, "pinnacle", dt + timedelta(seconds=1), 9.0, 9.0)
    await seed([_event(ev) for ev in evs], prices)
    pairs = [(ev, dt) for ev in evs for dt in decision_times]
    async with async_session_maker() as session:
        df = await read_odds_at_times(
            pairs, session=session, markets=markets, max_staleness=timedelta(days=2)
        )
    assert len(df) == len(pairs) * 2
    assert (df["snapshot_time"] <= df["decision_time"]).all()
    assert (df["decision_time"] - df["snapshot_time"] == timedelta(minutes=10)).all()
    assert set(df["price_decimal"]) == {1.9}
    # request_index maps each row back to its pair
    for idx, (ev, dt) in enumerate(pairs):
        sub = df[df.request_index == idx]
        assert set(sub["event_id"]) == {ev}
        assert set(sub["decision_time"]) == {dt}
    # the single form answers the same as the batch form
    async with async_session_maker() as session:
        one = await read_odds_at_time(
            evs[1], decision_times[2], session=session, max_staleness=timedelta(days=2)
        )
    assert list(one["snapshot_time"]) == list(df[df.request_index == 5]["snapshot_time"])


async def test_staleness_markets_validity_and_duplicates(seed: Seed) -> None:
    ev = new_event_id()
    t = TIP - timedelta(hours=1)
    prices = (
        _h2h(ev, "pinnacle", t - timedelta(hours=5), 1.8, 2.0)  # too old for a 2 h staleness
        + _h2h(ev, "fanduel", t - timedelta(minutes=30), 1.85, 2.0)
        + _h2h(ev, "fanduel", t - timedelta(minutes=30), 1.86, 2.0, source="other")  # same instant, 2nd source
        + _h2h(ev, "betmgm", t - timedelta(minutes=5), 7.0, 7.0, is_valid=False)  # flagged invalid
        + _h2h(ev, "betmgm", t - timedelta(minutes=50), 1.87, 2.0)
        + [{"event_id": ev, "snapshot_time": t - timedelta(minutes=20), "bookmaker": "fanduel",
            "market": "totals", "outcome": "Over", "point": 220.5, "price": 1.91}]
    )  # fmt: skip
    await seed([_event(ev)], prices)
    async with async_session_maker() as session:
        df = await read_odds_at_time(ev, t, session=session, max_staleness=timedelta(hours=2))
        h2h = await read_odds_at_time(
            ev, t, session=session, markets=["h2h"], max_staleness=timedelta(hours=2)
        )
        fd = await read_odds_at_time(
            ev, t, session=session, bookmakers=["fanduel"], max_staleness=timedelta(hours=2)
        )
    # betmgm's newest snapshot is flagged invalid: it is dropped, never replaced by its staler valid price
    assert set(df["bookmaker"]) == {"fanduel"}
    assert len(df[(df.bookmaker == "fanduel") & (df.market == "h2h")]) == 2  # one row per outcome
    assert 7.0 not in set(df["price_decimal"])
    assert set(h2h["market"]) == {"h2h"}
    assert set(fd["bookmaker"]) == {"fanduel"}
    assert fd[fd.market == "totals"]["point"].tolist() == [220.5]


async def test_naive_time_is_refused(seed: Seed) -> None:
    async with async_session_maker() as session:
        with pytest.raises(ValueError, match="timezone-aware"):
            await read_odds_at_time("x", datetime(2024, 1, 1), session=session)  # noqa: DTZ001


async def test_closing_lines_last_snapshot_before_tip_and_imports(seed: Seed) -> None:
    ev = new_event_id()
    prices = (
        _h2h(ev, "pinnacle", TIP - timedelta(minutes=40), 1.6, 2.4)
        + _h2h(ev, "pinnacle", TIP - timedelta(minutes=5), 1.55, 2.5)
        + _h2h(ev, "pinnacle", TIP, 1.2, 4.5)  # at tip-off: in-play, not the close
        + _h2h(ev, "pinnacle", TIP + timedelta(minutes=10), 1.1, 6.0)
    )
    await seed([_event(ev)], prices)
    async with async_session_maker() as session:
        session.add(ClosingLine(event_id=ev, source="kaggle", market="spreads", outcome=HOME, point=-4.5))
        await session.commit()
        df = await read_closing_lines([ev], session=session)
    snaps = df[df.source == "snapshots"]
    assert set(snaps["snapshot_time"]) == {TIP - timedelta(minutes=5)}
    assert sorted(snaps["price_decimal"]) == [1.55, 2.5]
    imported = df[df.source == "import"]
    assert imported["bookmaker"].tolist() == ["import:kaggle"]
    assert imported["point"].tolist() == [-4.5]
    assert (df["commence_time"] == TIP).all()


async def test_events_between(seed: Seed) -> None:
    a, b = new_event_id(), new_event_id()
    await seed([_event(a), _event(b, TIP + timedelta(days=3))], [])
    async with async_session_maker() as session:
        df = await read_events_between(TIP.date(), (TIP + timedelta(days=1)).date(), session=session)
    assert df["event_id"].tolist() == [a]
