"""Polymarket against PostgreSQL and fake APIs, through the flows: discovery + link, polls (idempotent,
concurrent), backfill (15-day chunking, resume, 429), import."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from flows.polymarket import (
    BackfillOverdue,
    backfill_polymarket_history,
    discover_polymarket,
    poll_polymarket_prices,
)
from odds_models.clock import FrozenClock, use_clock
from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from tasks.http import use_client_factory
from tasks.import_polymarket import import_polymarket_paths
from tasks.polymarket_ingest import link_events, read_backfill_plan
from tests.support.pm_fakes import (
    FakeClob,
    gamma_event,
    insert_sportsbook_event,
    now_floor,
    spread_market,
    token,
)

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

NOW = now_floor()
KNICKS, CELTICS = "New York Knicks", "Boston Celtics"


async def _scalar(sql: str, **params: object) -> object:
    async with async_session_maker() as session:
        return (await session.execute(text(sql), params)).scalar_one()


def _gamma(events: list[dict]) -> Callable[[], httpx.AsyncClient]:
    """A Gamma transport factory answering `events` on two keyset pages."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/events/keyset"
        assert request.url.params["closed"] == "false"
        cursor = request.url.params.get("after_cursor")
        if cursor is None:
            return httpx.Response(200, json={"events": events[:1], "next_cursor": "p2"})
        return httpx.Response(200, json={"events": events[1:]})

    return lambda: httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _seed_two_games() -> list[dict]:
    """Game 1 tips in 2 h (tier <3h) with a moneyline and a spread; game 2 in 5 days (>72h)."""
    soon, later = NOW + timedelta(hours=2), NOW + timedelta(days=5)
    await insert_sportsbook_event("sb1", KNICKS, CELTICS, soon + timedelta(minutes=7))
    await insert_sportsbook_event("sb2", KNICKS, CELTICS, later)
    slug1 = f"nba-bos-nyk-{(soon - timedelta(hours=6)).date().isoformat()}"
    slug2 = f"nba-bos-nyk-{(later - timedelta(hours=6)).date().isoformat()}"
    return [
        gamma_event(
            "901",
            slug1,
            game_start=soon,
            market_start=NOW - timedelta(days=3),
            tokens=(token(1), token(2)),
            extra_markets=[spread_market("9015", slug1, (token(3), token(4)))],
        ),
        gamma_event(
            "902", slug2, game_start=later, market_start=NOW - timedelta(days=1), tokens=(token(5), token(6))
        ),
    ]


async def test_discover_upserts_and_links_idempotently(db: str) -> None:
    events = await _seed_two_games()
    with use_clock(FrozenClock(NOW)), use_client_factory("gamma", _gamma(events)):
        first = await discover_polymarket()
        second = await discover_polymarket()
    assert first["events"] == 2
    assert first["markets"] == 3
    assert first["link_linked"] == 2
    assert second["events"] == 2
    assert await _scalar("SELECT count(*) FROM polymarket_markets") == 3
    assert await _scalar("SELECT event_id FROM polymarket_events WHERE id = '901'") == "sb1"
    spread = await _scalar("SELECT team || ' ' || line FROM polymarket_markets WHERE id = '9015'")
    assert spread == "New York Knicks -4.5"
    assert await _scalar("SELECT token_ids[1] FROM polymarket_markets WHERE id = '9011'") == token(1)
    assert await _scalar("SELECT count(*) FROM fetch_logs WHERE api = 'gamma'") == 4


async def test_link_reports_ambiguous_and_unmatched_and_keeps_manual(db: str) -> None:
    events = await _seed_two_games()
    with use_clock(FrozenClock(NOW)), use_client_factory("gamma", _gamma(events)):
        await discover_polymarket(link=False)
    # a back-to-back of the same matchup the day before makes game 1 ambiguous... unless gameStartTime decides
    await insert_sportsbook_event("sb1b", KNICKS, CELTICS, NOW - timedelta(hours=20))
    report = await link_events(dry_run=True)
    assert [r.event_id for r in report.linked] == ["sb1", "sb2"]  # gameStartTime within 2 h picks sb1
    async with async_session_maker() as session:
        await session.execute(text("UPDATE polymarket_events SET game_start_time = NULL WHERE id = '901'"))
        await session.execute(text("UPDATE polymarket_markets SET game_start_time = NULL"))
        await session.execute(text("DELETE FROM events WHERE id = 'sb2'"))
        await session.commit()
    report = await link_events()
    assert [r.polymarket_event_id for r in report.ambiguous] == ["901"]
    assert [r.polymarket_event_id for r in report.unmatched] == ["902"]
    assert await _scalar("SELECT link_status FROM polymarket_events WHERE id = '901'") == "ambiguous"
    assert await _scalar("SELECT count(*) FROM polymarket_events WHERE event_id IS NOT NULL") == 0
    # a manual link survives relinking
    async with async_session_maker() as session:
        await session.execute(
            text("UPDATE polymarket_events SET link_status='manual', event_id='sb1' WHERE id='901'")
        )
        await session.commit()
    await link_events()
    assert await _scalar("SELECT event_id FROM polymarket_events WHERE id = '901'") == "sb1"


async def test_poll_stores_both_tokens_and_game_line_books_best_first(db: str) -> None:
    events = await _seed_two_games()
    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("gamma", _gamma(events)):
        await discover_polymarket()
        with use_client_factory("clob", fake.client):
            result = await poll_polymarket_prices()
    # only game 1 is within the default tiers (≤72 h); both of its markets, both tokens each
    assert result["markets"] == 2
    assert result["prices"] == 4
    assert result["books"] == 4  # the moneyline's and the spread's tokens (picks fill stakes on them)
    assert result["by_tier"] == {"<3h": 2}
    row = await _scalar(
        "SELECT json_build_object('bid', best_bid, 'ask', best_ask, 'mid', mid, 'spread', spread) "
        "FROM polymarket_price_snapshots WHERE token_id = :t",
        t=token(3),
    )
    assert row == {"bid": 0.45, "ask": 0.47, "mid": 0.46, "spread": 0.02}
    bids = await _scalar("SELECT bids FROM polymarket_orderbook_snapshots WHERE token_id = :t", t=token(1))
    asks = await _scalar("SELECT asks FROM polymarket_orderbook_snapshots WHERE token_id = :t", t=token(1))
    assert [lvl["price"] for lvl in bids] == [0.45, 0.44, 0.01]
    assert [lvl["price"] for lvl in asks] == [0.47, 0.50, 0.99]
    assert (
        await _scalar("SELECT best_bid FROM polymarket_orderbook_snapshots WHERE token_id = :t", t=token(1))
        == 0.45
    )


async def test_two_polls_at_once_store_each_row_once(db: str) -> None:
    events = await _seed_two_games()
    with use_clock(FrozenClock(NOW)), use_client_factory("gamma", _gamma(events)):
        await discover_polymarket()
        with use_client_factory("clob", lambda: FakeClob().client()):
            results = await asyncio.wait_for(
                asyncio.gather(*(poll_polymarket_prices() for _ in range(4))), timeout=120
            )
    assert sum(r["prices"] for r in results) == 4
    assert sum(r["books"] for r in results) == 4
    assert await _scalar("SELECT count(*) FROM polymarket_price_snapshots") == 4
    assert await _scalar("SELECT count(*) FROM polymarket_orderbook_snapshots") == 4


async def _seed_backfill_market(days: int) -> None:
    events = [
        gamma_event(
            "950",
            "nba-bos-nyk-2026-03-01",
            game_start=NOW + timedelta(hours=1),
            market_start=NOW - timedelta(days=days),
            tokens=(token(7), token(8)),
        )
    ]
    with use_clock(FrozenClock(NOW)), use_client_factory("gamma", _gamma(events)):
        await discover_polymarket(link=False)


async def _history_rows(tok: str) -> list[int]:
    async with async_session_maker() as session:
        rows = await session.execute(
            text(
                "SELECT extract(epoch FROM snapshot_time)::bigint FROM polymarket_price_snapshots "
                "WHERE token_id = :t AND source = 'backfill' ORDER BY 1"
            ),
            {"t": tok},
        )
        return [r[0] for r in rows]


async def test_backfill_chunks_into_15_day_windows_and_reruns_fetch_nothing(db: str) -> None:
    await _seed_backfill_market(days=40)
    fake = FakeClob(rate_limit_first=2)
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", fake.client):
        plan = await read_backfill_plan(now=NOW, lookback=timedelta(days=30))
        summary = await backfill_polymarket_history(lookback_days=30, concurrency=2)
    assert fake.status_429 == 2  # backed off and retried
    assert len(plan) == 2
    assert (summary["tokens"], summary["windows"], summary["errors"]) == (2, 4, 0)  # 2 windows per token
    assert all(hi - lo <= 15 * 86400 and fid == 1 for _, lo, hi, fid in fake.history_calls)
    for tok in (token(7), token(8)):
        stored = await _history_rows(tok)
        assert stored == fake.expected(tok, NOW - timedelta(days=30), NOW)  # no gap, no duplicate
        wm = await _scalar(
            "SELECT extract(epoch FROM covered_to)::bigint FROM polymarket_backfill_watermarks "
            "WHERE token_id = :t",
            t=tok,
        )
        assert wm == int(NOW.timestamp())
    # a rerun at the same time has nothing to fetch; six hours later only the new six hours
    with use_clock(FrozenClock(NOW)):
        assert await read_backfill_plan(now=NOW, lookback=timedelta(days=30)) == []
    later = NOW + timedelta(hours=6)
    plan = await read_backfill_plan(now=later, lookback=timedelta(days=30))
    assert [rng for _, rng in plan] == [(NOW, later), (NOW, later)]


async def test_backfill_resumes_after_a_failure_half_way(db: str) -> None:
    await _seed_backfill_market(days=40)

    class Crashing(FakeClob):
        async def handler(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/prices-history" and len(self.history_calls) >= 3:
                return httpx.Response(404, json={"error": "gone"})  # final error: this token stops here
            return await super().handler(request)

    crashing = Crashing()
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", crashing.client):
        first = await backfill_polymarket_history(lookback_days=30, concurrency=1)
    assert (first["windows"], first["errors"]) == (3, 1)  # token 7: 2 windows; token 8: 1, then the 404
    assert await _scalar(
        "SELECT last_error IS NOT NULL FROM polymarket_backfill_watermarks WHERE token_id=:t", t=token(8)
    )
    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", fake.client):
        await backfill_polymarket_history(lookback_days=30, concurrency=1)
    assert len(fake.history_calls) == 1  # only the missing window
    assert await _history_rows(token(8)) == fake.expected(token(8), NOW - timedelta(days=30), NOW)


async def test_import_saved_responses_idempotently(db: str, tmp_path: Path) -> None:
    events = await _seed_two_games()
    events_file = tmp_path / "gamma_events.json.gz"
    events_file.write_bytes(gzip.compress(json.dumps({"events": events}).encode()))
    fake = FakeClob()
    book_file = tmp_path / "book.json"
    book_file.write_text(json.dumps(fake.book(token(1))))
    history_file = tmp_path / f"prices_history_{token(2)}.json"
    history_file.write_text(
        json.dumps({"history": [{"t": 1770394157, "p": 0.23}, {"t": 1770394217, "p": 2.0}]})
    )
    first = await import_polymarket_paths([events_file, book_file, history_file])
    again = await import_polymarket_paths([events_file, book_file, history_file])
    assert (first.events, first.markets, first.books, first.price_points, first.skipped) == (2, 3, 1, 1, 1)
    assert (again.books, again.price_points) == (0, 0)
    assert await _scalar("SELECT count(*) FROM polymarket_price_snapshots WHERE source = 'import'") == 1
    assert await _scalar("SELECT count(*) FROM data_quality_logs WHERE check_type = 'pm_history_point'") == 1


async def test_import_history_for_an_unknown_token_writes_nothing(db: str, tmp_path: Path) -> None:
    from odds_models.errors import PayloadError

    path = tmp_path / "history.json"
    path.write_text(json.dumps({"history": [{"t": 1770394157, "p": 0.23}]}))
    with pytest.raises(PayloadError, match="token id"):
        await import_polymarket_paths([path])
    with pytest.raises(PayloadError, match="not a stored market"):
        await import_polymarket_paths([path], token_id=token(99))
    assert await _scalar("SELECT count(*) FROM polymarket_price_snapshots") == 0


async def test_a_detached_window_never_makes_the_watermark_claim_a_gap(db: str) -> None:
    from tasks.storage.polymarket_prices import read_watermarks, store_history_window

    await _seed_backfill_market(days=40)
    day = timedelta(days=1)
    async with async_session_maker() as session:
        for lo, hi in [
            (NOW - 30 * day, NOW - 20 * day),
            (NOW - 10 * day, NOW),
            (NOW - 21 * day, NOW - 12 * day),
        ]:
            await store_history_window(
                session=session,
                market_id="9501",
                token_id=token(7),
                outcome=None,
                points=[],
                window_start=lo,
                window_end=hi,
                at=NOW,
            )
            marks = await read_watermarks(session=session, token_ids=[token(7)])
            if hi == NOW:  # detached from [-30, -20]: the watermark stays put
                assert (marks[token(7)].covered_from, marks[token(7)].covered_to) == (
                    NOW - 30 * day,
                    NOW - 20 * day,
                )
        await session.commit()
    assert (marks[token(7)].covered_from, marks[token(7)].covered_to) == (NOW - 30 * day, NOW - 12 * day)


async def test_a_recreated_event_with_a_taken_slug_is_skipped_not_fatal(db: str) -> None:
    events = await _seed_two_games()
    clone = {**events[0], "id": "999", "markets": []}
    with use_clock(FrozenClock(NOW)):
        with use_client_factory("gamma", _gamma([*events, clone])):
            counts = await discover_polymarket(link=False)
        with use_client_factory("gamma", _gamma([clone, *events])):
            again = await discover_polymarket(link=False)
    assert counts["events"] == 2  # the clone shares a slug with game 1: first one wins, no crash
    assert again["events"] == 2
    assert await _scalar("SELECT count(*) FROM polymarket_events") == 2


async def test_backfill_records_retryable_exhaustion_as_transient(
    db: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("HTTP_MAX_ATTEMPTS", "2")  # RetryPolicy.from_settings: two quick attempts
    settings_env.setenv("HTTP_MAX_RETRY_WAIT_SECONDS", "0.01")
    get_settings.cache_clear()
    await _seed_backfill_market(days=10)

    class Down(FakeClob):
        async def handler(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/prices-history":
                return httpx.Response(503, json={"error": "busy"})
            return await super().handler(request)

    with use_clock(FrozenClock(NOW)), use_client_factory("clob", Down().client):
        state = await backfill_polymarket_history(lookback_days=30, concurrency=2, return_state=True)
    assert state.is_failed()
    with pytest.raises(BackfillOverdue, match="2 tokens stopped on retryable errors"):  # both transient
        await state.result()
    assert await _scalar("SELECT count(*) FROM polymarket_price_snapshots WHERE source = 'backfill'") == 0
    assert (
        await _scalar("SELECT count(*) FROM polymarket_backfill_watermarks WHERE last_error IS NOT NULL") == 2
    )
