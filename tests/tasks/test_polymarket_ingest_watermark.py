"""The backfill watermark covers only what was stored: an empty answer or a missing tail is asked for again
(a rerun fills the gap); a closed market's settled history is final, even empty."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from flows.polymarket import backfill_polymarket_history, discover_polymarket
from odds_models.clock import FrozenClock, use_clock
from odds_models.db import async_session_maker
from tasks.http import use_client_factory
from tasks.polymarket_clob import make_clob_client
from tasks.polymarket_ingest import backfill_token
from tasks.storage import polymarket_prices as store
from tests.support.pm_fakes import FakeClob, gamma_event, now_floor, token

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

NOW = now_floor()
LOOKBACK = timedelta(days=20)


class Answers(FakeClob):
    """The fake CLOB, answering `history` for prices-history while `empty` (no points) or `lag` (the newest
    points not published yet) is set; then like the real API."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.empty = False
        self.lag: timedelta | None = None

    async def handler(self, request: httpx.Request) -> httpx.Response:
        response = await super().handler(request)
        if request.url.path != "/prices-history" or response.status_code != 200:
            return response
        history = response.json()["history"]
        if self.empty:
            history = []
        elif self.lag is not None:
            cutoff = int((NOW - self.lag).timestamp())
            history = [p for p in history if p["t"] <= cutoff]
        return httpx.Response(200, json={"history": history})


async def _seed() -> None:
    events = [gamma_event("950", "nba-bos-nyk-2026-03-01", game_start=NOW + timedelta(hours=1),
                          market_start=NOW - timedelta(days=40), tokens=(token(7), token(8)))]  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"events": events})

    with (
        use_clock(FrozenClock(NOW)),
        use_client_factory("gamma", lambda: httpx.AsyncClient(transport=httpx.MockTransport(handler))),
    ):
        await discover_polymarket(link=False)


async def _points(tok: str) -> list[int]:
    async with async_session_maker() as session:
        rows = await session.execute(
            text("SELECT extract(epoch FROM snapshot_time)::bigint FROM polymarket_price_snapshots "
                 "WHERE token_id = :t AND source = 'backfill' ORDER BY 1"),
            {"t": tok},
        )  # fmt: skip
        return [r[0] for r in rows]


async def _covered(tok: str) -> tuple[datetime | None, datetime | None]:
    async with async_session_maker() as session:
        marks = await store.read_watermarks(session=session, token_ids=[tok])
    mark = marks.get(tok)
    return (mark.covered_from, mark.covered_to) if mark else (None, None)


async def _backfill(clob: FakeClob) -> None:
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", clob.client):
        await backfill_polymarket_history(lookback_days=LOOKBACK.days, concurrency=2)


async def test_an_empty_answer_covers_nothing_and_a_rerun_fills_the_range(db: str) -> None:
    await _seed()
    clob = Answers()
    clob.empty = True
    await _backfill(clob)
    assert await _points(token(7)) == []
    assert await _covered(token(7)) == (None, None)  # nothing stored, nothing claimed
    clob.empty = False
    await _backfill(clob)
    for tok in (token(7), token(8)):
        assert await _points(tok) == clob.expected(tok, NOW - LOOKBACK, NOW)
        assert (await _covered(tok))[1] == NOW


async def test_the_newest_minutes_the_api_has_not_published_are_asked_again(db: str) -> None:
    await _seed()
    clob = Answers()
    clob.lag = timedelta(hours=3)
    await _backfill(clob)
    assert (await _covered(token(7)))[1] == NOW - timedelta(hours=3)  # up to the newest point stored
    clob.lag = None
    await _backfill(clob)  # the same moment: only the missing tail is asked for, and stored
    assert await _points(token(7)) == clob.expected(token(7), NOW - LOOKBACK, NOW)
    assert clob.history_calls[-1][1:3] == (int((NOW - timedelta(hours=3)).timestamp()), int(NOW.timestamp()))


async def test_a_closed_markets_settled_history_is_final_even_when_empty(db: str) -> None:
    await _seed()
    closed_at = NOW - timedelta(days=2)
    clob = Answers()
    clob.empty = True
    start = NOW - LOOKBACK
    for tok, market_end, expected in (
        (token(7), closed_at, (start, closed_at)),
        (token(8), None, (None, None)),
    ):
        target = store.BackfillTarget("9501", tok, None, "", NOW - timedelta(days=40), market_end)
        client = make_clob_client(clob.client())
        with use_clock(FrozenClock(NOW)):
            await backfill_token(client, target, start, market_end or NOW)
        await client.aclose()
        assert await _covered(tok) == expected
