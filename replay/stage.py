"""The demo's stage: a demo database, the replay app on a free loopback port, one simulated clock, settings.

    with DemoStage(DemoOptions(seed=7, days=1)) as stage:
        steps = stage.run(demo(start=stage.start, end=stage.end))   # any coroutine: the flows see the stage

Entering the stage creates the demo database and its tables (emptied with `reset=True`), serves the replay
app in a thread of this process, points the settings at it (a key the replay accepts: the user's
`ODDS_API_KEY` if set, it only travels to loopback, else `replay-demo-key`), and installs one `FrozenClock`
for the app and the pipeline (`odds_models.clock.use_clock`); the recipe moves it with `move_clock`.
Leaving restores the clock, the environment and the settings, and stops the server.

The demo never touches the user's data: it writes to its own database (`odds_demo` on the embedded server,
or the URL given), and every row it stores comes from the simulated (or recorded) replay. Nor the user's
Prefect server: whatever PREFECT_API_URL says, its runs, logs and artifacts go to a Prefect server of its own
(`replay.prefect_server`: SQLite under a temporary PREFECT_HOME, or `DemoOptions.prefect_home`), tagged and
named `demo`, so a real `clv-recommendations` artifact is never replaced by simulated picks. That server boots
in its own process while the stage starts the database and the replay app (`launch_demo_prefect`, which
`odds demo` calls before it imports the flows); entering the stage waits for it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import inspect
import os
import shutil
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from odds_models.clock import FrozenClock, installed_clock, use_clock
from odds_models.errors import ConfigError
from odds_models.settings import get_settings
from replay.faults import FaultPlan
from replay.source import ReplaySource

__all__ = [
    "DEMO_DATABASE",
    "DemoOptions",
    "DemoStage",
    "demo_database_url",
    "ensure_schema",
    "launch_demo_prefect",
    "move_clock",
    "paper_trading_moments",
    "patched_env",
    "plan_ticks",
    "reset_database",
]

DEMO_DATABASE = "odds_demo"
FAULTY_TIMEOUT_SECONDS = 1.0  # the client's timeout when faults are on; the replay stalls longer
# The demo's Prefect events (task-run states, `odds.*` alerts) are not sent: its server drops them (no task-run
# recorder, event persister or automation). `benchmarks/demo_rows.py --send-events` measures the difference.
SEND_EVENTS = False


@dataclass
class DemoOptions:
    """What `odds demo` was asked for."""

    seed: int = 7
    days: int = 1
    source: str = "simulated"  # simulated | recorded
    path: Path | None = None  # recorded: the folder of historical Odds API files
    faults: bool = False
    fault_spec: str | None = None  # replay.faults spec; default FaultPlan.standard()
    database_url: str | None = None  # default: the embedded server's `odds_demo` database
    report_dir: Path | None = None  # default: reports_dir / "demo"
    analysis: bool = True
    reset: bool = False  # empty the demo database's tables first
    fingerprints: bool = False  # also read every stored row's key (tests and the fault campaign compare them)
    fine_minutes: int = 30  # tick cadence in the 3 h before a tip
    pm_lead_hours: float = 12.0  # simulated Polymarket events open this long before the tip (demo budget)
    start: datetime | None = None  # default: the source's start (noon UTC of the first simulated day)
    hours: float | None = None  # limit the span (tests); default: until the last game is resolved
    prefect_home: Path | None = None  # the demo's own Prefect data (kept); default: a temporary folder


# ------------------------------------------------------------------------------------------------------
# Environment, database, clock
# ------------------------------------------------------------------------------------------------------


@contextmanager
def patched_env(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables inside the block; the settings are re-read."""
    saved = {k: os.environ.get(k) for k in values}
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def demo_database_url(explicit: str | None = None) -> str:
    """The demo's database: `explicit`, or `odds_demo` on the embedded server (started if needed)."""
    from odds_models.db import create_database_if_missing, embedded_database_url
    from odds_models.settings import normalise_database_url

    if explicit:
        url = normalise_database_url(explicit)
        create_database_if_missing(url)
        return url
    return embedded_database_url(get_settings().embedded_pgdata, database=DEMO_DATABASE)


def ensure_schema(url: str) -> None:
    """Create the tables that do not exist yet (the models are the schema's source of truth)."""
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401 - registers the tables
    from odds_models.db import run_coro_blocking

    async def create() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(SQLModel.metadata.create_all)
        finally:
            await engine.dispose()

    run_coro_blocking(create())


def reset_database(url: str) -> None:
    """Empty every table of a demo or test database (refuses any other database name)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    from odds_models.db import database_name, run_coro_blocking

    name = database_name(url)
    if not name.endswith(("_demo", "_test")) and not name.startswith("odds_faults"):
        raise ConfigError(f"refusing to empty database {name!r}: only *_demo and *_test databases are reset")
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)

    async def truncate() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        finally:
            await engine.dispose()

    run_coro_blocking(truncate())


def move_clock(moment: datetime) -> None:
    """Move the stage's simulated clock (the replay app and the pipeline both read it) to `moment`."""
    current = installed_clock()
    if not isinstance(current, FrozenClock):
        raise ConfigError("the demo flow needs a FrozenClock installed with odds_models.clock.use_clock")
    current.set(moment)


def plan_ticks(start: datetime, end: datetime, tips: list[datetime], *, fine_minutes: int = 30,
               game_minutes: int = 60, coarse_minutes: int = 120) -> list[datetime]:  # fmt: skip
    """The simulated moments at which the demo runs the tick: every `fine_minutes` in the 3 h before a tip
    (the <3 h tier), every `game_minutes` while games are played, every `coarse_minutes` otherwise."""
    ticks = []
    moment = start
    while moment <= end:
        ticks.append(moment)
        if any(tip - timedelta(hours=3) <= moment < tip for tip in tips):
            step = fine_minutes
        elif any(tip <= moment <= tip + timedelta(hours=3) for tip in tips):
            step = game_minutes
        else:
            step = coarse_minutes
        moment += timedelta(minutes=step)
    return ticks


def paper_trading_moments(tips: list[datetime], after: datetime, end: datetime, *,
                          lead: timedelta = timedelta(hours=2)) -> list[datetime]:  # fmt: skip
    """When the demo replays the `predict` tick for paper trading: `lead` before each tip in (after, end],
    on the hour (one moment serves the games that tip within the next hours)."""
    moments = {(tip - lead).replace(minute=0, second=0, microsecond=0) for tip in tips if after < tip <= end}
    return sorted(m for m in moments if m >= after)


# ------------------------------------------------------------------------------------------------------
# The stage
# ------------------------------------------------------------------------------------------------------


def _make_source(options: DemoOptions) -> Any:
    if options.source == "recorded":
        from replay.recorded import RecordedSource

        if options.path is None:
            raise ConfigError("--source recorded needs --path PATH (a folder of historical Odds API files)")
        return RecordedSource(options.path)
    if options.source != "simulated":
        raise ConfigError(f"--source must be simulated or recorded, not {options.source!r}")
    from replay.simulate import SimulatedSource

    return SimulatedSource(
        seed=options.seed, days=options.days, pm_lead=timedelta(hours=options.pm_lead_hours)
    )


def _span(source: Any, options: DemoOptions) -> tuple[datetime, datetime]:
    start = options.start or source.default_start()
    if options.source == "recorded":
        end = start + timedelta(days=options.days)
    else:
        end = source.end_time()
    if options.hours is not None:
        end = min(end, start + timedelta(hours=options.hours))
    return start, end


def _fault_plan(options: DemoOptions) -> FaultPlan | None:
    if not options.faults:
        return None
    if options.fault_spec:
        return FaultPlan.from_spec(options.fault_spec, seed=options.seed)
    return FaultPlan.standard(options.seed, timeout_seconds=FAULTY_TIMEOUT_SECONDS + 0.5)


def _settings_env(database_url: str, *, faults: bool) -> dict[str, str | None]:
    """The settings of a demo run (the replay server's URLs and key are added once it listens)."""
    env: dict[str, str | None] = {
        "DATABASE_URL": database_url,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": os.environ.get(
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120"
        ),
        "MONTHLY_CREDIT_BUDGET": "100000",
        "HTTP_MAX_RETRY_WAIT_SECONDS": "2",
    }
    # the demo's own Prefect server (`_DemoPrefect`), never the user's (its own settings, the demo-only ones
    # included, are `replay.prefect_server.DEMO_SERVER_SETTINGS`); the runs' log lines go to the terminal,
    # not to that server: one HTTP batch fewer per second of run
    env.update({
        "PREFECT_API_URL": None,
        "PREFECT_API_KEY": None,
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    })  # fmt: skip
    if faults:
        env["HTTP_TIMEOUT_SECONDS"] = str(FAULTY_TIMEOUT_SECONDS)
        env["HTTP_MAX_ATTEMPTS"] = "6"
    return env


class _DemoPrefect:
    """Points Prefect at the demo's own server (`replay.prefect_server.DemoPrefectServer`: SQLite under its
    own PREFECT_HOME, on a free loopback port), whatever PREFECT_API_URL says.

    `odds demo` never writes into the user's Prefect server (a real `clv-recommendations` artifact must never
    be replaced by simulated picks). One server per home and process, launched early (`launch_demo_prefect`)
    and stopped when the process exits (a second demo in the same process reuses it instead of paying the
    start-up again).
    """

    @classmethod
    @contextmanager
    def use(cls, home: Path) -> Iterator[None]:
        """Point Prefect at the demo's server (and home) inside the block; the user's API URL is ignored."""
        from prefect.settings import (
            PREFECT_API_KEY,
            PREFECT_API_URL,
            PREFECT_HOME,
            PREFECT_SERVER_DATABASE_CONNECTION_URL,
            temporary_settings,
        )

        from replay.prefect_server import DemoPrefectServer, database_url

        server = DemoPrefectServer.launch(home).wait()
        updates = {PREFECT_API_URL: server.api_url, PREFECT_HOME: str(home),
                   PREFECT_SERVER_DATABASE_CONNECTION_URL: database_url(home)}  # fmt: skip
        with (
            temporary_settings(updates=updates, restore_defaults={PREFECT_API_KEY}),
            _events_sent(SEND_EVENTS),
        ):
            try:
                yield
            finally:
                _drain_prefect_workers()


@contextmanager
def _events_sent(send: bool) -> Iterator[None]:
    """Unless `send`, the demo's Prefect events (task-run states, `odds.*` alerts) go to Prefect's
    `NullEventsClient` inside the block instead of a websocket to the demo's server, which drops them
    anyway: it records no task runs or events and has no automation (`DEMO_SERVER_SETTINGS`)."""
    from prefect.events.clients import NullEventsClient
    from prefect.events.worker import EventsWorker

    if send:
        yield
        return
    saved = EventsWorker._client_override
    EventsWorker.set_client_override(NullEventsClient)
    try:
        yield
    finally:
        EventsWorker._client_override = saved


def launch_demo_prefect(prefect_home: Path | None = None) -> Path:
    """Start the demo's Prefect server booting now (it runs in its own process while the caller goes on);
    returns its home. `DemoStage` waits for it when it is entered."""
    from replay.prefect_server import DemoPrefectServer

    home = prefect_home or _demo_prefect_home()
    DemoPrefectServer.launch(home)
    return home


def _drain_prefect_workers() -> None:
    """Send the demo's buffered logs and events to the demo's server before the settings change back."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):  # best effort: a worker that never started has nothing to send
            pending = worker.drain_all(timeout=10)
            if inspect.iscoroutine(pending):  # called inside a running loop: it cannot wait here
                pending.close()


def _demo_prefect_home() -> Path:
    """A temporary PREFECT_HOME for the demos of this process, removed when it exits."""
    global _TEMP_PREFECT_HOME  # noqa: PLW0603 - one per process
    if _TEMP_PREFECT_HOME is None:
        _TEMP_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="odds-demo-prefect-"))
        atexit.register(shutil.rmtree, _TEMP_PREFECT_HOME, True)
    return _TEMP_PREFECT_HOME


_TEMP_PREFECT_HOME: Path | None = None


def _reset_engine() -> None:
    from odds_models.db import dispose_engine, run_coro_blocking

    run_coro_blocking(dispose_engine())


async def _disposing(coro: Coroutine[Any, Any, Any]) -> Any:
    """Await `coro`, then close the pooled connections while their event loop still runs."""
    from odds_models.db import dispose_engine

    try:
        return await coro
    finally:
        await dispose_engine()


class DemoStage:
    """The demo's database, replay server, clock and settings, for the length of a `with` block.

    `source`, `start`, `end` and `database_url` are known once constructed (the embedded server is started
    if the demo uses it); `app` once entered.
    """

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.source: ReplaySource = _make_source(options)
        self.start, self.end = _span(self.source, options)
        self.api_key = os.environ.get("ODDS_API_KEY") or None
        self.fault_plan = _fault_plan(options)
        # the Prefect server boots in its own process meanwhile (`odds demo` launched it already)
        self.prefect_home = launch_demo_prefect(options.prefect_home)
        self.database_url = demo_database_url(options.database_url)
        self.prefect_wait_seconds = 0.0  # how long entering waited for that server (the rest overlapped)
        self.app: Any = None
        self._exit = ExitStack()

    def __enter__(self) -> DemoStage:
        from replay.app import DEMO_API_KEY, create_app
        from replay.server import ReplayServer

        ensure_schema(self.database_url)
        if self.options.reset:
            reset_database(self.database_url)
        api_key = self.api_key or DEMO_API_KEY
        clock = FrozenClock(self.start)
        self.app = create_app(self.source, clock=clock, api_keys=(api_key,), quota_total=100_000,
                              faults=self.fault_plan, control_routes=True)  # fmt: skip
        with ExitStack() as stack:
            server = stack.enter_context(ReplayServer(self.app))
            env = _settings_env(self.database_url, faults=self.options.faults)
            stack.enter_context(patched_env({**env, **server.settings_env(api_key)}))
            waited = time.perf_counter()
            stack.enter_context(_DemoPrefect.use(self.prefect_home))
            self.prefect_wait_seconds = time.perf_counter() - waited
            stack.callback(_reset_engine)  # after the clock is restored, before the settings are
            stack.enter_context(use_clock(clock))
            _reset_engine()
            self._exit = stack.pop_all()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit.close()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run `coro` (a flow call) to completion on a new event loop; close its pooled connections after."""
        return asyncio.run(_disposing(coro))

    def replay_stats(self) -> dict[str, Any]:
        """What the replay service saw: credits (total and per route), calls per API, requests, faults."""
        state = self.app.state.replay
        return {
            "credits_used": state.used,
            "credits_by_route": dict(state.credits_by_route),
            "calls": dict(state.calls),
            "requests": state.faults.requests,
            "faults_injected": dict(state.faults.injected),
        }
