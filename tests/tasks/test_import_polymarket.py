"""Property: importing a generated Gamma events payload writes everything or nothing (never a partial write)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from odds_models.db import async_session_maker, run_coro_blocking
from odds_models.errors import PayloadError
from tasks.import_polymarket import import_payload

pytestmark = pytest.mark.db

AT = datetime(2026, 3, 1, tzinfo=UTC)
good_tokens = st.lists(st.text("0123456789", min_size=70, max_size=78), min_size=2, max_size=2).map(
    json.dumps
)
bad_tokens = st.sampled_from(['["1.5", "x"]', "not json", "[1.0e75, 2]", '["123"]'])


@st.composite
def event_pages(draw: st.DrawFn) -> tuple[list[dict], bool]:
    n = draw(st.integers(min_value=1, max_value=3))
    broken_at = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=n - 1)))
    events = []
    for i in range(n):
        tokens = draw(bad_tokens) if i == broken_at else draw(good_tokens)
        events.append(
            {
                "id": f"e{i}",
                "slug": f"nba-bos-nyk-2026-03-0{i + 1}",
                "title": "Celtics vs. Knicks",
                "markets": [
                    {
                        "id": f"m{i}",
                        "question": draw(st.text(max_size=40)),
                        "outcomes": '["Celtics", "Knicks"]',
                        "clobTokenIds": tokens,
                    }
                ],
            }
        )
    return events, broken_at is not None


async def _counts() -> tuple[int, int]:
    async with async_session_maker() as session:
        events = (await session.execute(text("SELECT count(*) FROM polymarket_events"))).scalar_one()
        markets = (await session.execute(text("SELECT count(*) FROM polymarket_markets"))).scalar_one()
        return events, markets


async def _wipe() -> None:
    async with async_session_maker() as session:
        await session.execute(text("TRUNCATE polymarket_events, polymarket_markets CASCADE"))
        await session.commit()


def test_import_is_all_or_nothing(db: str) -> None:
    tried = {"n": 0}

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(event_pages())
    def check(case: tuple[list[dict], bool]) -> None:
        events, broken = case
        tried["n"] += 1

        async def run() -> None:
            from odds_models.db import dispose_engine

            await dispose_engine()  # each example runs in a fresh event loop
            await _wipe()
            try:
                await import_payload(events, name="gen.json", at=AT)
            except PayloadError:
                assert broken
                assert await _counts() == (0, 0)
            else:
                assert not broken
                assert await _counts() == (len(events), len(events))
            await dispose_engine()

        run_coro_blocking(run())

    check()
    assert tried["n"] >= 10


levels = st.lists(
    st.fixed_dictionaries({"price": st.one_of(st.floats(-0.5, 1.5).map(str), st.text(max_size=4)),
                           "size": st.one_of(st.floats(-5, 500).map(str), st.none())}),
    max_size=4,
)  # fmt: skip


def test_book_and_history_imports_are_all_or_nothing(db: str) -> None:
    """Generated CLOB books (some broken) and histories (some bad points) for a stored market's tokens."""
    from odds_analytics.polymarket.clob import parse_books
    from tests.support.pm_fakes import token

    market = {"id": "mk", "question": "Celtics vs. Knicks", "outcomes": '["Celtics", "Knicks"]',
              "clobTokenIds": json.dumps([token(1), token(2)])}  # fmt: skip
    tried = {"n": 0}

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(st.fixed_dictionaries({"asset_id": st.sampled_from([token(1), token(2)]), "bids": levels,
                                        "asks": levels, "timestamp": st.integers(1.7e12, 1.8e12).map(str)}),
                 min_size=1, max_size=3),
        st.lists(st.fixed_dictionaries({"t": st.integers(1.7e9, 1.8e9), "p": st.floats(-0.5, 1.5)}), max_size=6),
    )  # fmt: skip
    def check(books: list[dict], history: list[dict]) -> None:
        tried["n"] += 1
        try:
            parse_books(books)
            books_ok = True
        except PayloadError:
            books_ok = False
        valid_points = {h["t"] for h in history if 0 <= h["p"] <= 1}

        async def run() -> None:
            from odds_models.db import dispose_engine

            await dispose_engine()
            async with async_session_maker() as session:
                await session.execute(text("TRUNCATE polymarket_events, polymarket_markets CASCADE"))
                await session.commit()
            await import_payload([market], name="markets.json", at=AT)
            try:
                counts = await import_payload(books, name="books.json", at=AT)
            except PayloadError:
                assert not books_ok
                async with async_session_maker() as session:
                    n = (
                        await session.execute(text("SELECT count(*) FROM polymarket_orderbook_snapshots"))
                    ).scalar_one()
                assert n == 0
            else:
                assert books_ok
                assert counts.books >= 1
            counts = await import_payload({"history": history}, name="h.json", token_id=token(1), at=AT)
            assert counts.price_points == len(valid_points)
            await dispose_engine()

        run_coro_blocking(run())

    check()
    assert tried["n"] >= 10
