"""Credits: the tick pays on the tiers' cadence (a simulated day matches `odds status quota`'s plan), every
attempt of a paid call is counted as the API's ledger counts it, concurrent runs cannot overspend, and one
malformed event never costs the good ones."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from odds_models.clock import FrozenClock, use_clock
from odds_models.db import async_session_maker
from odds_models.errors import BudgetExceeded, PayloadError
from odds_models.settings import get_settings
from tasks.credits import credits_spent_this_month
from tasks.http import use_client_factory
from tasks.odds_ingest import due_event_list, fetch_events, fetch_odds_to_spool, store_events_payload
from tasks.spool import drain_spool, spool_files, store_spool_file

pytestmark = pytest.mark.db

DAY0 = datetime(2030, 1, 31, 0, 0, tzinfo=UTC)  # the month ends 24 h later: the quota plan covers one day
SENTINEL = "SENTINEL-KEY-credits"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _DroppedMidBody(httpx.AsyncByteStream):
    def __init__(self, head: bytes) -> None:
        self.head = head

    async def __aiter__(self) -> Any:
        yield self.head
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


@dataclass
class SlateApi:
    """A fake Odds API with a fixed slate: each game has a tip-off and the moment books open (None: never).

    It charges like the real one (`/odds`: 3 credits when some game has odds, else 0) and keeps the ledger.
    `script[suffix]` queues what the next calls on that path do instead of answering normally:
    `"cut"` (charged; a short body that is not JSON), `"wire"` (charged; the connection drops mid-body),
    `"timeout"` (charged, then no answer), or an httpx.Response to send as it is.
    """

    now: Callable[[], datetime]
    games: list[tuple[str, datetime, datetime | None]]
    used: int = 0
    odds_requests: int = 0
    script: dict[str, list[Any]] = field(default_factory=dict)

    def _events(self) -> list[dict[str, Any]]:
        return [
            {"id": gid, "sport_key": "basketball_nba", "sport_title": "NBA", "commence_time": _iso(tip),
             "home_team": "Boston Celtics", "away_team": "Miami Heat"}
            for gid, tip, _ in self.games if tip > self.now()
        ]  # fmt: skip

    def _odds(self) -> list[dict[str, Any]]:
        open_books = {
            gid for gid, tip, opens in self.games if opens is not None and opens <= self.now() < tip
        }
        return [
            {**ev, "bookmakers": [{"key": "draftkings", "title": "DraftKings", "last_update": _iso(self.now()),
                                   "markets": [{"key": "h2h", "outcomes": [
                                       {"name": "Miami Heat", "price": 2.6}, {"name": "Boston Celtics", "price": 1.55}]}]}]}
            for ev in self._events() if ev["id"] in open_books
        ]  # fmt: skip

    def _answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/events"):
            body, cost = self._events(), 0
        elif path.endswith("/odds"):
            self.odds_requests += 1
            body = self._odds()
            cost = 3 if body else 0
        else:
            return httpx.Response(404, json={"message": "Unknown", "error_code": "UNKNOWN_SPORT"})
        self.used += cost
        headers = {"x-requests-used": str(self.used), "x-requests-remaining": str(20_000 - self.used),
                   "x-requests-last": str(cost)}  # fmt: skip
        return httpx.Response(200, json=body, headers=headers)

    def handler(self, request: httpx.Request) -> httpx.Response:
        for suffix, queue in self.script.items():
            if request.url.path.endswith(suffix) and queue:
                step = queue.pop(0)
                if isinstance(step, httpx.Response):
                    return step
                answer = self._answer(request)  # the server does the work and charges
                if step == "timeout":
                    raise httpx.ReadTimeout("no answer before the client's timeout")
                headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
                half = answer.content[: len(answer.content) // 2]
                if step == "wire":
                    return httpx.Response(200, headers=headers, stream=_DroppedMidBody(half))
                return httpx.Response(200, content=half, headers=headers)
        return self._answer(request)


@pytest.fixture
def day_clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(DAY0)
    with use_clock(frozen):
        yield frozen


def _wire(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: SlateApi, **env: str) -> None:
    monkeypatch.setenv("ODDS_API_KEY", SENTINEL)
    monkeypatch.setenv("HTTP_MAX_RETRY_WAIT_SECONDS", "0.01")
    monkeypatch.setenv("ODDS_HOME", str(tmp_path / "home"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


@pytest.fixture
def slate(day_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[SlateApi]:
    hour = timedelta(hours=1)
    api = SlateApi(now=day_clock, games=[
        ("a" * 32, DAY0 + 2 * hour, DAY0 - 24 * hour),   # books open all along
        ("b" * 32, DAY0 + 10 * hour, DAY0 - 24 * hour),
        ("c" * 32, DAY0 + 20 * hour, DAY0 + 6 * hour),   # listed before its books open
        ("d" * 32, DAY0 + 60 * hour, None),              # listed days ahead, no odds all day
        ("e" * 32, DAY0 + 100 * hour, None),
    ])  # fmt: skip
    _wire(monkeypatch, tmp_path, api)
    with use_client_factory("oddsapi", lambda: httpx.AsyncClient(transport=httpx.MockTransport(api.handler))):
        yield api
    get_settings.cache_clear()


async def _tick() -> None:
    """What the fetch_odds flow does at each tick, without the engine."""
    await drain_spool()
    await store_events_payload(await fetch_events())
    if not await due_event_list():
        return
    spooled = await fetch_odds_to_spool()
    await store_spool_file(Path(spooled.path))


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, content: str) -> None:
    path.write_text(content)


async def _scalar(sql: str, **params: Any) -> Any:
    async with async_session_maker() as session:
        return (await session.execute(text(sql), params)).scalar_one()


def test_a_day_of_5_minute_ticks_spends_what_the_quota_plan_says(
    db: str, slate: SlateApi, day_clock: FrozenClock
) -> None:
    from odds_cli.main import app
    from odds_models.db import dispose_engine, run_coro_blocking

    async def sync() -> None:
        await store_events_payload(await fetch_events())
        await dispose_engine()

    run_coro_blocking(sync())
    result = CliRunner().invoke(app, ["status", "quota", "--json", "--tick-minutes", "5"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)["plan"]
    assert plan["until"] == (DAY0 + timedelta(days=1)).isoformat()

    async def day() -> tuple[int, int]:
        for k in range(24 * 12):
            day_clock.set(DAY0 + timedelta(minutes=5 * k))
            await _tick()
        spent = await credits_spent_this_month()
        snapshots = await _scalar("SELECT count(*) FROM odds_snapshots")
        await dispose_engine()
        return spent, snapshots

    spent, snapshots = run_coro_blocking(day())
    # the games listed before their books open are asked for on their tiers' cadence, not at every tick
    assert slate.odds_requests == plan["paid_calls"] < 40
    assert spent == slate.used == plan["credits_planned"] == 3 * plan["paid_calls"]
    assert snapshots > 0


async def test_a_game_without_odds_is_due_again_only_on_its_tier_cadence(
    db: str, slate: SlateApi, day_clock: FrozenClock
) -> None:
    await _tick()  # every listed game covered by the first paid call, whether books priced it or not
    day_clock.advance(minutes=5)
    assert await due_event_list() == []
    day_clock.set(DAY0 + timedelta(minutes=30))
    assert [d.event_id for d in await due_event_list()] == ["a" * 32]  # <3h: every 30 min
    due_far = await _scalar("SELECT odds_requested_at FROM events WHERE id = :i", i="e" * 32)
    assert due_far == DAY0


@pytest.mark.parametrize("fault", ["cut", "wire", "timeout"])
async def test_a_charged_attempt_that_never_arrived_is_counted(db: str, slate: SlateApi, fault: str) -> None:
    await store_events_payload(await fetch_events())
    slate.script["/odds"] = [fault]
    spooled = await fetch_odds_to_spool()
    await store_spool_file(Path(spooled.path))
    assert slate.odds_requests == 2
    assert slate.used == 6  # the server charged both attempts
    assert await credits_spent_this_month() == 6  # ...and so does fetch_logs (one row, two attempts)
    assert await _scalar("SELECT attempts FROM fetch_logs WHERE endpoint LIKE '%/odds'") == 2


async def test_a_response_cut_on_every_attempt_still_counts_its_credits(db: str, slate: SlateApi) -> None:
    await store_events_payload(await fetch_events())
    slate.script["/odds"] = ["cut"] * 10
    with pytest.raises(PayloadError):
        await fetch_odds_to_spool()
    assert slate.used == 3 * slate.odds_requests > 3
    assert await credits_spent_this_month() == slate.used
    assert await _scalar("SELECT count(*) FROM fetch_logs WHERE settled_at IS NULL") == 0


async def test_a_rejected_response_still_counts_its_credits(db: str, slate: SlateApi) -> None:
    await store_events_payload(await fetch_events())
    charged = httpx.Response(200, json=[{"id": "x" * 32, "bookmakers": []}],
                             headers={"x-requests-used": "3", "x-requests-remaining": "19997", "x-requests-last": "3"})  # fmt: skip
    slate.script["/odds"] = [charged]
    spooled = await fetch_odds_to_spool()
    with pytest.raises(PayloadError, match="home_team"):
        await store_spool_file(Path(spooled.path))
    assert spool_files() == []
    assert await credits_spent_this_month() == 3
    assert (
        await _scalar("SELECT count(*) FROM data_quality_logs WHERE check_type = 'spool_entry_failed'") == 1
    )


async def test_two_runs_at_once_cannot_overspend(
    db: str, slate: SlateApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_events_payload(await fetch_events())
    monkeypatch.setenv("MONTHLY_CREDIT_BUDGET", "4")  # room for one /odds call of 3 credits
    get_settings.cache_clear()
    results = await asyncio.gather(fetch_odds_to_spool(), fetch_odds_to_spool(), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["BudgetExceeded", "SpooledFetch"]
    assert slate.odds_requests == 1
    assert await credits_spent_this_month() == 3


async def test_a_retry_that_would_pass_the_budget_is_not_made(
    db: str, slate: SlateApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_events_payload(await fetch_events())
    monkeypatch.setenv("MONTHLY_CREDIT_BUDGET", "5")
    get_settings.cache_clear()
    slate.script["/odds"] = ["cut"]  # charged 3; a second attempt could cost 3 more
    with pytest.raises(BudgetExceeded, match="A retry of The /odds call"):
        await fetch_odds_to_spool()
    assert slate.odds_requests == 1
    assert slate.used == await credits_spent_this_month() == 3


async def test_one_malformed_event_keeps_the_good_ones(
    db: str, slate: SlateApi, day_clock: FrozenClock
) -> None:
    await store_events_payload(await fetch_events())
    good = slate._odds()
    broken = {**good[0], "id": "f" * 32}
    del broken["home_team"]
    slate.script["/odds"] = [httpx.Response(200, json=[*good, broken],
                                            headers={"x-requests-used": "3", "x-requests-last": "3"})]  # fmt: skip
    spooled = await fetch_odds_to_spool()
    stored = await store_spool_file(Path(spooled.path))
    assert (stored["snapshots"], stored["odds_rows"]) == (2, 4)
    detail = await _scalar("SELECT detail FROM data_quality_logs WHERE check_type = 'malformed_event'")
    assert "home_team" in detail
    assert await credits_spent_this_month() == 3


async def test_a_paid_calls_row_is_its_reservation_settled_once(db: str, slate: SlateApi) -> None:
    await store_events_payload(await fetch_events())
    spooled = await fetch_odds_to_spool()
    reserved = await _scalar(
        "SELECT count(*) FROM fetch_logs WHERE endpoint LIKE '%/odds' AND settled_at IS NULL"
    )
    assert reserved == 1  # before the response is stored, the call is an open reservation
    copy = _read(Path(spooled.path))
    await store_spool_file(Path(spooled.path))
    _write(Path(spooled.path).with_name("zz-the-same-response-again.json"), copy)
    assert (await drain_spool()).stored == 1
    rows = await _scalar(
        "SELECT count(*) FROM fetch_logs WHERE endpoint LIKE '%/odds' AND settled_at IS NOT NULL"
    )
    assert rows == 1
    assert await credits_spent_this_month() == slate.used == 3


async def test_fetch_logs_credits_equal_the_replay_ledger_under_cut_bodies(
    db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The replay service charges each answered request; bodies it then cuts are retried and still counted."""
    from replay.app import DEMO_API_KEY, create_app
    from replay.faults import FaultPlan
    from replay.simulate import SimulatedSource

    source = SimulatedSource(seed=5, days=1)
    clock = FrozenClock(source.default_start() + timedelta(hours=10))
    plan = FaultPlan.from_spec("/oddsapi/*:truncated=0.5,truncate_mode=body,max_consecutive=2", seed=1)
    app = create_app(source, clock=clock, api_keys=(DEMO_API_KEY,), faults=plan)
    for key, value in {"ODDS_API_KEY": DEMO_API_KEY, "ODDS_API_BASE_URL": "http://replay/oddsapi",
                       "HTTP_MAX_RETRY_WAIT_SECONDS": "0.01", "ODDS_HOME": str(tmp_path / "home")}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    transport = httpx.ASGITransport(app=app)
    with use_clock(clock), use_client_factory("oddsapi", lambda: httpx.AsyncClient(transport=transport)):
        await store_events_payload(await fetch_events())
        for _ in range(12):
            clock.advance(minutes=30)
            await store_spool_file(Path((await fetch_odds_to_spool()).path))
    get_settings.cache_clear()
    assert plan.injected["truncated"] >= 3  # the replay cut some of the paid bodies it had charged
    assert app.state.replay.used > 0
    assert await credits_spent_this_month(clock()) == app.state.replay.used


def test_a_call_killed_in_flight_keeps_its_credits_counted_and_shown(db: str, slate: SlateApi) -> None:
    from odds_cli.main import app
    from odds_models.db import dispose_engine, run_coro_blocking
    from tasks.credits import reserve_credits

    async def killed_mid_call() -> None:  # reserved, then the process died before any answer was stored
        await reserve_credits(endpoint="/v4/sports/basketball_nba/odds", credits=3, what="The /odds call")
        await dispose_engine()

    run_coro_blocking(killed_mid_call())
    result = CliRunner().invoke(app, ["status", "quota", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["spent_this_month"] == 3
    assert payload["open_reservations"] == {"calls": 1, "credits": 3}
    text_output = CliRunner().invoke(app, ["status", "quota"]).output
    assert "1 credit reservation(s) not settled (3 credits" in " ".join(text_output.split())


@pytest.mark.parametrize("charged", [0, 3], ids=["never-charged", "charged"])
async def test_a_killed_calls_reservation_is_reconciled_by_later_quota_headers(
    db: str, slate: SlateApi, day_clock: FrozenClock, charged: int
) -> None:
    """A reservation left open by a killed run counts in full until it is older than STALE_RESERVATION and
    answers on both sides of it carried `x-requests-used`; then it is settled at what the API charged."""
    from tasks.credits import STALE_RESERVATION, reserve_credits

    await store_events_payload(await fetch_events())  # an answer before: x-requests-used 0
    killed = await reserve_credits(
        endpoint="/v4/sports/basketball_nba/odds", credits=3, what="The /odds call"
    )
    slate.used += charged  # the server charged the call (or not) and the process died before any answer
    day_clock.advance(minutes=10)
    await store_events_payload(await fetch_events())  # an answer after: x-requests-used 0 or 3
    await _tick()  # a reservation not yet stale is not touched, even with answers on both sides
    assert await _scalar("SELECT settled_at FROM fetch_logs WHERE id = :i", i=killed.id) is None
    assert await credits_spent_this_month() == slate.used + 3 - charged  # still held in full

    day_clock.advance(STALE_RESERVATION)
    await store_events_payload(await fetch_events())
    await _tick()  # the next reservation reconciles it
    assert await _scalar("SELECT cost FROM fetch_logs WHERE id = :i", i=killed.id) == charged
    error = await _scalar("SELECT error FROM fetch_logs WHERE id = :i", i=killed.id)
    assert error.startswith(f"never settled (the run was killed mid-call): {charged} of 3 credits")
    assert await _scalar("SELECT count(*) FROM fetch_logs WHERE settled_at IS NULL") == 0
    assert await credits_spent_this_month() == slate.used


async def test_a_killed_calls_reservation_without_a_later_answer_stays_counted(
    db: str, slate: SlateApi, day_clock: FrozenClock
) -> None:
    from tasks.credits import STALE_RESERVATION, reserve_credits

    await store_events_payload(await fetch_events())
    killed = await reserve_credits(
        endpoint="/v4/sports/basketball_nba/odds", credits=3, what="The /odds call"
    )
    day_clock.advance(2 * STALE_RESERVATION)
    # the next reservation finds no answer after the killed call: nothing tells what it cost
    await reserve_credits(endpoint="/v4/sports/basketball_nba/odds", credits=3, what="The /odds call")
    assert await _scalar("SELECT settled_at FROM fetch_logs WHERE id = :i", i=killed.id) is None
    assert await credits_spent_this_month() == 6


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
async def test_an_event_timed_outside_the_sane_window_is_a_finding_not_a_row(
    db: str, slate: SlateApi, day_clock: FrozenClock, stamp: str
) -> None:
    """A paid answer whose event (or bookmaker update) is dated year 1 or 9999: that event is logged to
    data_quality_logs and not stored; the good events of the same answer are."""
    await store_events_payload(await fetch_events())
    good = slate._odds()
    far = {**good[0], "id": "f" * 32, "commence_time": stamp}
    late = json.loads(json.dumps({**good[0], "id": "9" * 32}))
    late["bookmakers"][0]["last_update"] = stamp
    slate.script["/odds"] = [httpx.Response(200, json=[*good, far, late],
                                            headers={"x-requests-used": "3", "x-requests-last": "3"})]  # fmt: skip
    stored = await store_spool_file(Path((await fetch_odds_to_spool()).path))
    assert (stored["snapshots"], stored["odds_rows"]) == (2, 4)
    assert await _scalar("SELECT count(*) FROM events WHERE id IN (:f, :n)", f="f" * 32, n="9" * 32) == 0
    assert (
        await _scalar(
            "SELECT count(*) FROM odds_snapshots WHERE event_id IN (:f, :n)", f="f" * 32, n="9" * 32
        )
        == 0
    )
    details = await _scalar(
        "SELECT string_agg(detail, ' | ') FROM data_quality_logs WHERE check_type = 'malformed_event'"
    )
    assert details.count("out of range") == 2, details
