"""Polymarket speed figures: one price poll of a busy night, and backfill throughput.

    uv run python benchmarks/polymarket_bench.py [--games 15] [--markets 40] [--latency-ms 150]
        [--tokens 10] [--days 30] [--concurrency 4]

Runs the flows (`poll_polymarket_prices`, `backfill_polymarket_history`) under a throw-away Prefect test
server, against a fake CLOB (httpx.MockTransport with an injected per-request latency, routed with
`tasks.http.use_client_factory`) and a throw-away embedded PostgreSQL under a temporary ODDS_HOME (or
TEST_DATABASE_URL when set; its name must end in _test). Prints: poll wall time, HTTP calls and rows;
backfill windows, points, wall time and points per second (the backfill sees `--tokens` tokens only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

os.environ.setdefault("ODDS_HOME", tempfile.mkdtemp(prefix="pm-bench-"))
os.environ.pop("DATABASE_URL", None)


class FakeClob:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        await asyncio.sleep(self.latency)
        if request.url.path == "/prices":
            body = json.loads(request.content)
            return httpx.Response(200, json={i["token_id"]: {"BUY": "0.45", "SELL": "0.47"} for i in body})
        if request.url.path == "/books":
            body = json.loads(request.content)
            levels = [{"price": f"{p / 100:.2f}", "size": "100"} for p in range(1, 46)]
            asks = [{"price": f"{p / 100:.2f}", "size": "100"} for p in range(99, 46, -1)]
            return httpx.Response(
                200, json=[{"asset_id": i["token_id"], "bids": levels, "asks": asks} for i in body]
            )
        if request.url.path == "/prices-history":
            lo, hi = int(request.url.params["startTs"]), int(request.url.params["endTs"])
            first = -(-lo // 60) * 60
            return httpx.Response(
                200, json={"history": [{"t": t, "p": 0.5} for t in range(first, hi + 1, 60)]}
            )
        return httpx.Response(404)


async def _setup_db() -> None:
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401
    from odds_models.db import get_engine

    async with get_engine().begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
        await conn.run_sync(SQLModel.metadata.create_all)


def _events(games: int, markets: int, now: datetime, market_start: datetime) -> list[dict]:
    events = []
    for g in range(games):
        start = now + timedelta(hours=1 + g * 0.1)
        slug = f"nba-bos-nyk-{start.date().isoformat()}-{g}"
        mkts = []
        for m in range(markets):
            tokens = [str(10**76 + g * 1000 + m * 2), str(10**76 + g * 1000 + m * 2 + 1)]
            mkts.append(
                {
                    "id": f"{g}-{m}",
                    "question": "Celtics vs. Knicks" if m == 0 else f"Spread: Knicks (-{m}.5)",
                    "slug": slug if m == 0 else f"{slug}-spread-{m}",
                    "outcomes": '["Celtics", "Knicks"]',
                    "clobTokenIds": json.dumps(tokens),
                    "sportsMarketType": "moneyline" if m == 0 else "spreads",
                    "gameStartTime": start.strftime("%Y-%m-%d %H:%M:%S+00"),
                    "startDate": market_start.isoformat(),
                    "closed": False,
                }
            )
        events.append({"id": f"e{g}", "slug": slug, "title": "Celtics vs. Knicks", "markets": mkts})
    return events


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--games", type=int, default=15)
    parser.add_argument("--markets", type=int, default=40)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--tokens", type=int, default=10)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if os.environ.get("TEST_DATABASE_URL"):
        os.environ["DATABASE_URL"] = os.environ["TEST_DATABASE_URL"]

    from flows.polymarket import backfill_polymarket_history, poll_polymarket_prices
    from odds_models.clock import FrozenClock, set_clock
    from odds_models.db import dispose_engine
    from tasks.http import use_client_factory
    from tasks.import_polymarket import import_payload

    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    set_clock(FrozenClock(now))
    await _setup_db()
    events = _events(args.games, args.markets, now, now - timedelta(days=args.days + 5))
    await import_payload(events, name="bench", at=now)

    fake = FakeClob(args.latency_ms / 1000)
    started = time.perf_counter()
    with use_client_factory("clob", lambda: httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))):
        result = await poll_polymarket_prices()
    poll_s = time.perf_counter() - started
    tokens = args.games * args.markets * 2
    print(
        f"poll: {args.games} games x {args.markets} markets = {tokens} tokens, {fake.calls} HTTP calls "
        f"at {args.latency_ms:.0f} ms each -> {poll_s:.2f} s wall; stored {result['prices']} prices, "
        f"{result['books']} books"
    )

    # the backfill sees one game of --tokens tokens (two per market)
    await _setup_db()
    await import_payload(
        _events(1, -(-args.tokens // 2), now, now - timedelta(days=args.days + 5)), name="bench", at=now
    )
    fake = FakeClob(args.latency_ms / 1000)
    started = time.perf_counter()
    with use_client_factory("clob", lambda: httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))):
        summary = await backfill_polymarket_history(lookback_days=args.days, concurrency=args.concurrency)
    wall = time.perf_counter() - started
    points, windows = summary["points"], summary["windows"]
    print(
        f"backfill: {summary['tokens']} tokens x {args.days} days at 1-minute fidelity, concurrency "
        f"{args.concurrency}: {windows} windows, {points} points in {wall:.2f} s = {points / wall:,.0f} points/s"
    )
    await dispose_engine()
    print(f"(ODDS_HOME={Path(os.environ['ODDS_HOME'])})")


if __name__ == "__main__":
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=120):
        asyncio.run(main())
