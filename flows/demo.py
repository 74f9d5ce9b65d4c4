"""The end-to-end demo: the real flows, through Prefect, against the replay service, over simulated time.

    from flows.demo import DemoOptions, run_demo
    result = run_demo(DemoOptions(seed=7, days=1))     # what `odds demo` calls

`run_demo` prepares the stage (a demo database, the replay app on a free loopback port in this process, a
`FrozenClock` shared by the replay app and the pipeline through `odds_models.clock.set_clock`, settings
pointed at both), then runs the `demo` flow. The flow plays the span as a recipe of the real flows: event
sync, the tiered odds tick, scores, Polymarket discovery, polling, linking, both backfills, then whatever
analysis exists (backtest, model train/evaluate/predict). A flow that is missing or fails is reported,
and the demo goes on. The report (Markdown + PNG charts) goes to `get_settings().reports_dir / "demo"`.

The demo never touches the user's data: it writes to its own database (`odds_demo` on the embedded
server, or the URL given), and every row it stores comes from the simulated (or recorded) replay.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from odds_models import clock as pipeline_clock
from odds_models.errors import ConfigError, redact
from odds_models.settings import get_settings
from tasks.retry import is_db_connection_error

__all__ = [
    "FINGERPRINT_SQL",
    "DemoOptions",
    "DemoResult",
    "StepLog",
    "demo",
    "plan_ticks",
    "read_demo_figures",
    "render_report",
    "run_demo",
    "table_fingerprints",
]

DEMO_DATABASE = "odds_demo"
FAULTY_TIMEOUT_SECONDS = 1.0  # the client's timeout when faults are on; the replay stalls longer


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


@dataclass
class StepLog:
    """What each flow did during the demo: runs, failures (one clear line each), missing flows."""

    runs: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoResult:
    options: dict[str, Any]
    source: str
    simulated_start: datetime
    simulated_end: datetime
    wall_seconds: float
    steps: dict[str, Any]
    figures: dict[str, Any]
    replay: dict[str, Any]
    report_path: Path | None
    database_url: str = ""


# ------------------------------------------------------------------------------------------------------
# The stage: environment, database, replay server, clock
# ------------------------------------------------------------------------------------------------------


@contextmanager
def _patched_env(values: dict[str, str | None]) -> Iterator[None]:
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


def run_demo(options: DemoOptions | None = None) -> DemoResult:
    """Set the stage, run the `demo` flow through Prefect, write the report. Returns the figures."""
    from odds_models.clock import FrozenClock
    from replay.app import DEMO_API_KEY, create_app
    from replay.faults import FaultPlan
    from replay.server import ReplayServer

    options = options or DemoOptions()
    wall = time.perf_counter()
    source = _make_source(options)
    start, end = _span(source, options)
    user_key = os.environ.get("ODDS_API_KEY") or None
    api_key = user_key or DEMO_API_KEY
    plan = None
    if options.faults:
        plan = (
            FaultPlan.from_spec(options.fault_spec, seed=options.seed)
            if options.fault_spec
            else FaultPlan.standard(options.seed, timeout_seconds=FAULTY_TIMEOUT_SECONDS + 0.5)
        )
    database_url = demo_database_url(options.database_url)
    ensure_schema(database_url)
    if options.reset:
        reset_database(database_url)
    clock = FrozenClock(start)
    app = create_app(source, clock=clock, api_keys=(api_key,), quota_total=100_000, faults=plan,
                     control_routes=True)  # fmt: skip
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
    if not os.environ.get("PREFECT_API_URL"):
        # a temporary server for this run only: it need not record task runs and events (that recording is
        # what makes a SQLite-backed server slow under load), nor serve the UI
        env.update({
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "true",
            "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false",
        })  # fmt: skip
    if options.faults:
        env["HTTP_TIMEOUT_SECONDS"] = str(FAULTY_TIMEOUT_SECONDS)
        env["HTTP_MAX_ATTEMPTS"] = "6"
    previous_clock = pipeline_clock._clock
    with ReplayServer(app) as server, _patched_env({**env, **server.settings_env(api_key)}):
        pipeline_clock.set_clock(clock)
        try:
            _reset_engine()
            steps = asyncio.run(
                _disposing(demo(start=start, end=end, polymarket=options.source == "simulated",
                                analysis=options.analysis, days=options.days, fine_minutes=options.fine_minutes))
            )  # fmt: skip
            figures = asyncio.run(
                _disposing(
                    _figures_and_report(
                        options, source=source, start=start, end=end, steps=steps, app=app, wall_start=wall
                    )
                )
            )
        finally:
            pipeline_clock.set_clock(previous_clock)
            _reset_engine()
    replay_stats = _replay_stats(app)
    result = DemoResult(
        options={k: str(v) if isinstance(v, Path | datetime) else v for k, v in asdict(options).items()},
        source=source.label,
        simulated_start=start,
        simulated_end=end,
        wall_seconds=round(time.perf_counter() - wall, 1),
        steps=steps,
        figures=figures,
        replay=replay_stats,
        report_path=figures.get("report_path"),
        database_url=database_url,
    )
    if result.report_path is not None:
        _write_run_json(result)
    return result


async def _disposing(coro: Awaitable[Any]) -> Any:
    """Await `coro`, then close the pooled connections while their event loop still runs."""
    from odds_models.db import dispose_engine

    try:
        return await coro
    finally:
        await dispose_engine()


def _reset_engine() -> None:
    from odds_models.db import dispose_engine, run_coro_blocking

    run_coro_blocking(dispose_engine())


def _replay_stats(app: Any) -> dict[str, Any]:
    state = app.state.replay
    return {
        "credits_used": state.used,
        "credits_by_route": dict(state.credits_by_route),
        "calls": dict(state.calls),
        "requests": state.faults.requests,
        "faults_injected": dict(state.faults.injected),
    }


# ------------------------------------------------------------------------------------------------------
# The flow: the span as a recipe of the real flows
# ------------------------------------------------------------------------------------------------------


def _optional_flow(module: str, name: str) -> Callable[..., Awaitable[Any]] | None:
    """The flow `module.name`, or None when that module or flow does not exist (yet)."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    return getattr(found, name, None)


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


async def _run(log: StepLog, name: str, fn: Callable[..., Awaitable[Any]] | None, **kwargs: Any) -> Any:
    if fn is None:
        if name not in log.missing:
            log.missing.append(name)
        return None
    started = time.perf_counter()
    try:
        result = await fn(**kwargs)
    except Exception as exc:  # the demo reports a failing flow and goes on
        log.seconds[name] += time.perf_counter() - started
        if is_db_connection_error(exc):
            raise
        message = redact(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]
        log.failures.append({"at": pipeline_clock.now().isoformat(), "flow": name, "error": message})
        get_run_logger().warning("demo: %s failed at %s: %s", name, pipeline_clock.now(), message)
        return None
    log.seconds[name] += time.perf_counter() - started
    log.runs[name] += 1
    log.results[name] = result
    return result


@task(cache_policy=NONE)
async def tip_times_task(start: datetime, end: datetime) -> list[datetime]:
    """Scheduled tips of the stored games in the span (after the first event sync)."""
    from sqlalchemy import text

    from odds_models.db import async_session_maker

    async with async_session_maker() as session:
        rows = await session.execute(
            text("SELECT commence_time FROM events WHERE commence_time BETWEEN :a AND :b ORDER BY 1"),
            {"a": start - timedelta(hours=6), "b": end + timedelta(hours=6)},
        )
        return [r[0] for r in rows]


@flow(name="demo")
async def demo(  # noqa: PLR0917 - flow parameters are positional in the UI too
    start: datetime,
    end: datetime,
    polymarket: bool = True,
    analysis: bool = True,
    days: int = 1,
    fine_minutes: int = 30,
) -> dict[str, Any]:
    """Play a simulated span through the real flows (the clock moves; the replay service answers)."""
    logger = get_run_logger()
    odds = "flows.odds"
    pm = "flows.polymarket"
    sync_events = _optional_flow(odds, "sync_events")
    fetch_odds = _optional_flow(odds, "fetch_odds")
    fetch_scores = _optional_flow(odds, "fetch_scores")
    backfill_odds = _optional_flow(odds, "backfill_odds_history")
    discover = _optional_flow(pm, "discover_polymarket") if polymarket else None
    poll = _optional_flow(pm, "poll_polymarket_prices") if polymarket else None
    link = _optional_flow(pm, "link_polymarket") if polymarket else None
    backfill_pm = _optional_flow(pm, "backfill_polymarket_history") if polymarket else None
    log = StepLog()
    _move_clock(start)
    # 1. the slate (free) and Polymarket discovery
    await _run(log, "sync_events", sync_events)
    if polymarket:
        await _run(log, "discover_polymarket", discover)
    # 2. the day(s): the tiered odds tick, Polymarket polls, scores around the games
    tips = await tip_times_task(start, end)
    ticks = plan_ticks(start, end, tips, fine_minutes=fine_minutes)
    last_discover = last_scores = start
    for moment in ticks:
        _move_clock(moment)
        if polymarket and moment - last_discover >= timedelta(hours=6):
            await _run(log, "discover_polymarket", discover)
            last_discover = moment
        # one after the other: side by side they contend for the temporary Prefect server's SQLite
        # predictions run once after the span (below), not after every simulated tick
        await _run(log, "fetch_odds", fetch_odds, predict_after=False)
        if polymarket:
            await _run(log, "poll_polymarket_prices", poll)
        in_games = any(tip <= moment <= tip + timedelta(hours=4) for tip in tips)
        if moment - last_scores >= timedelta(hours=1 if in_games else 4):
            await _run(log, "fetch_scores", fetch_scores, days_from=1)
            last_scores = moment
    logger.info("demo: %d ticks from %s to %s", len(ticks), start, end)
    # 3. after the games: final scores, closed markets, links, both backfills
    _move_clock(end)
    await _run(log, "fetch_scores", fetch_scores, days_from=1)
    await _run(log, "backfill_odds_history", backfill_odds, start=start.date() - timedelta(days=1),
               end=end.date(), credit_budget=300)  # fmt: skip
    if polymarket:
        await _run(log, "discover_polymarket", discover, closed=True)
        await _run(log, "link_polymarket", link)
        await _run(log, "backfill_polymarket_history", backfill_pm, lookback_days=days)
    # 4. whatever analysis exists
    if analysis:
        await _analysis(log, start, end)
    return {
        "ticks": len(ticks),
        "runs": dict(log.runs),
        "seconds": {k: round(v, 1) for k, v in log.seconds.items()},
        "failures": log.failures,
        "missing": log.missing,
        "skipped": log.skipped,
        "results": {k: _small(v) for k, v in log.results.items()},
    }


async def _analysis(log: StepLog, start: datetime, end: datetime) -> None:
    run_backtest = _optional_flow("flows.backtest", "run_backtest")
    train_model = _optional_flow("flows.model", "train_model")
    evaluate_model = _optional_flow("flows.model", "evaluate_model")
    predict = _optional_flow("flows.model", "predict")
    await _run(log, "run_backtest", run_backtest, **_backtest_kwargs(run_backtest, start, end))
    config = None
    model_module = importlib.import_module("flows.model") if train_model is not None else None
    if model_module is not None and hasattr(model_module, "TrainConfig"):
        config = model_module.TrainConfig(n_folds=2, min_train_events=5)
    # out of sample: train on the first half of the span, evaluate on the rest (needs two days or more)
    split = datetime.combine(start.date() + timedelta(days=max(1, (end - start).days // 2)), datetime.min.time(),
                             tzinfo=start.tzinfo)  # fmt: skip
    if split < end - timedelta(hours=12):
        await _run(log, "train_model", train_model, market="spreads", until=split, config=config)
        await _run(log, "evaluate_model", evaluate_model, market="spreads", date_from=split.date(),
                   date_to=end.date())  # fmt: skip
    else:
        log.skipped["evaluate_model"] = (
            "needs --days 2 or more (train on the first half, evaluate on the rest)"
        )
    await _run(log, "train_model", train_model, market="spreads", until=end, config=config)
    await _run(log, "predict", predict, markets=["spreads"], horizon_hours=72.0)


def _backtest_kwargs(fn: Any, start: datetime, end: datetime) -> dict[str, Any]:
    """Pass the span to `run_backtest` under whatever names its signature uses."""
    if fn is None:
        return {}
    import inspect

    params = inspect.signature(getattr(fn, "fn", fn)).parameters
    if "config" in params:
        try:
            from odds_analytics.backtest.config import BacktestConfig
        except ImportError:
            return {}
        return {
            "config": BacktestConfig(
                strategy="basic_ev", start=start.date() - timedelta(days=1), end=end.date()
            )
        }
    kwargs: dict[str, Any] = {}
    for names, value in ((("start", "start_date", "date_from"), start.date() - timedelta(days=1)),
                         (("end", "end_date", "date_to"), end.date())):  # fmt: skip
        for name in names:
            if name in params:
                kwargs[name] = value
                break
    return kwargs


def _move_clock(moment: datetime) -> None:
    current = pipeline_clock._clock
    if current is None or not hasattr(current, "set"):
        raise ConfigError("the demo flow needs a FrozenClock installed with odds_models.clock.set_clock")
    current.set(moment)


def _small(value: Any) -> Any:
    """A JSON-friendly digest of a flow's return value (no data frames, lists cut short)."""
    if isinstance(value, dict):
        return {str(k): _small(v) for k, v in list(value.items())[:30]}
    if isinstance(value, list | tuple):
        return [_small(v) for v in value[:5]] + ([f"... {len(value) - 5} more"] if len(value) > 5 else [])
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)[:200]


# ------------------------------------------------------------------------------------------------------
# Figures: what the database holds after the demo
# ------------------------------------------------------------------------------------------------------

# The natural key (and the values that must agree) of every data table: two runs over the same span,
# with and without faults, must give the same set of tuples, and no tuple twice.
FINGERPRINT_SQL: dict[str, str] = {
    "events": "SELECT id, home_team, away_team, status, home_score, away_score FROM events",
    "odds_snapshots": "SELECT event_id, source, snapshot_time, markets FROM odds_snapshots",
    "odds": "SELECT event_id, snapshot_time, bookmaker, market, outcome, description, point, price_decimal "
    "FROM odds",
    "polymarket_events": "SELECT id, slug, event_id, link_status FROM polymarket_events",
    "polymarket_markets": "SELECT id, condition_id, market_type, line FROM polymarket_markets",
    "polymarket_price_snapshots": "SELECT token_id, source, snapshot_time, price, best_bid, best_ask "
    "FROM polymarket_price_snapshots",
    "polymarket_orderbook_snapshots": "SELECT token_id, snapshot_time, best_bid, best_ask "
    "FROM polymarket_orderbook_snapshots",
    "predictions": "SELECT event_id, market, outcome, decision_time FROM predictions",
}


async def table_fingerprints() -> dict[str, dict[str, Any]]:
    """Per table: the rows (as tuples) and how many stored rows repeat a key."""
    from sqlalchemy import text

    from odds_models.db import async_session_maker

    out: dict[str, dict[str, Any]] = {}
    async with async_session_maker() as session:
        for table, sql in FINGERPRINT_SQL.items():
            rows = [tuple(_plain(v) for v in r) for r in (await session.execute(text(sql))).all()]
            out[table] = {"rows": rows, "duplicates": len(rows) - len(set(rows))}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


@task(cache_policy=NONE)
async def read_demo_figures() -> dict[str, Any]:
    """Counts per table, calls and credits by API, quality findings, link results, analysis rows, and the
    data of the line-movement chart (the game with the most snapshots)."""
    from sqlalchemy import text

    from odds_models.db import async_session_maker

    figures: dict[str, Any] = {}
    async with async_session_maker() as session:

        async def rows(sql: str, **params: Any) -> list[Any]:
            return list((await session.execute(text(sql), params)).all())

        counts = {}
        for table in ("events", "odds_snapshots", "odds", "fetch_logs", "data_quality_logs", "polymarket_events",
                      "polymarket_markets", "polymarket_price_snapshots", "polymarket_orderbook_snapshots",
                      "closing_lines", "backtest_runs", "models", "predictions"):  # fmt: skip
            counts[table] = (await rows(f"SELECT count(*) FROM {table}"))[0][0]
        figures["counts"] = counts
        figures["events_by_status"] = dict(await rows("SELECT status, count(*) FROM events GROUP BY 1"))
        figures["fetch_logs"] = [
            {"api": r[0], "calls": r[1], "errors": r[2], "credits": r[3], "retried": r[4]}
            for r in await rows(
                "SELECT api, count(*), count(error), coalesce(sum(cost), 0), count(*) FILTER (WHERE attempts > 1) "
                "FROM fetch_logs GROUP BY api ORDER BY api"
            )
        ]
        figures["quality"] = [
            {"check": r[0], "severity": r[1], "count": r[2]}
            for r in await rows(
                "SELECT check_type, severity, count(*) FROM data_quality_logs GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 12"
            )
        ]
        figures["links"] = dict(await rows("SELECT link_status, count(*) FROM polymarket_events GROUP BY 1"))
        figures["backtests"] = [
            {"strategy": r[0], "metrics": r[1]}
            for r in await rows("SELECT strategy, metrics FROM backtest_runs")
        ]
        figures["models"] = [
            {"name": r[0], "kind": r[1], "metrics": r[2]}
            for r in await rows("SELECT name, kind, metrics FROM models")
        ]
        figures["chart"] = await _chart_data(rows)
    return figures


async def _chart_data(rows: Callable[..., Awaitable[list[Any]]]) -> dict[str, Any] | None:
    best = await rows(
        "SELECT e.id, e.home_team, e.away_team, e.commence_time, count(DISTINCT s.snapshot_time) AS n, "
        "EXISTS (SELECT 1 FROM polymarket_events p WHERE p.event_id = e.id) AS linked "
        "FROM events e JOIN odds_snapshots s ON s.event_id = e.id "
        "WHERE s.snapshot_time < e.commence_time GROUP BY e.id "
        "ORDER BY e.status = 'final' DESC, linked DESC, n DESC, e.id LIMIT 1"
    )
    if not best:
        return None
    event_id, home, away, commence, _, _ = best[0]
    prices = await rows(
        "SELECT snapshot_time, bookmaker, outcome, price_decimal FROM odds WHERE event_id = :e AND market = 'h2h' "
        "AND snapshot_time <= :c ORDER BY snapshot_time",
        e=event_id, c=commence,
    )  # fmt: skip
    spreads = await rows(
        "SELECT snapshot_time, bookmaker, point FROM odds WHERE event_id = :e AND market = 'spreads' "
        "AND outcome = :h AND snapshot_time <= :c ORDER BY snapshot_time",
        e=event_id, h=home, c=commence,
    )  # fmt: skip
    polymarket = await rows(
        "SELECT ps.snapshot_time, ps.outcome, coalesce(ps.mid, ps.price), ps.source "
        "FROM polymarket_price_snapshots ps JOIN polymarket_markets m ON m.id = ps.market_id "
        "JOIN polymarket_events pe ON pe.id = m.polymarket_event_id "
        "WHERE pe.event_id = :e AND m.market_type = 'moneyline' AND m.period = 'game' AND ps.snapshot_time <= :c "
        "ORDER BY ps.snapshot_time",
        e=event_id, c=commence,
    )  # fmt: skip
    return {
        "event_id": event_id,
        "home": home,
        "away": away,
        "commence": commence,
        "h2h": [(r[0], r[1], r[2], r[3]) for r in prices],
        "spreads": [(r[0], r[1], r[2]) for r in spreads],
        "polymarket": [(r[0], r[1], r[2], r[3]) for r in polymarket],
    }


# ------------------------------------------------------------------------------------------------------
# The report: Markdown + PNG charts
# ------------------------------------------------------------------------------------------------------


def fair_home_probabilities(
    h2h: list[tuple[datetime, str, str, float]], home: str
) -> dict[str, list[tuple[datetime, float]]]:
    """Per bookmaker, the devigged (multiplicative) home-win probability at each snapshot."""
    by_key: dict[tuple[str, datetime], dict[str, float]] = {}
    for moment, book, outcome, price in h2h:
        if price and price > 1.0:
            by_key.setdefault((book, moment), {})[outcome] = 1.0 / price
    series: dict[str, list[tuple[datetime, float]]] = {}
    for (book, moment), implied in sorted(by_key.items(), key=lambda kv: kv[0][1]):
        if home in implied and len(implied) == 2:
            series.setdefault(book, []).append((moment, implied[home] / sum(implied.values())))
    return series


def _polymarket_home(
    points: list[tuple[datetime, str, float, str]], home: str
) -> list[tuple[datetime, float]]:
    from odds_models.teams import resolve_team

    team = resolve_team(home)
    out = []
    for moment, outcome, price, source in points:
        if price is None or source != "poll":
            continue
        if team is not None and resolve_team(outcome or "") is team:
            out.append((moment, float(price)))
    return out


def render_charts(chart: dict[str, Any], folder: Path, sharp_books: list[str]) -> list[Path]:
    """Write `line_movement.png` (devigged home probability per book and Polymarket) and `spread_movement.png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    home, away, commence = chart["home"], chart["away"], chart["commence"]
    series = fair_home_probabilities(chart["h2h"], home)
    written = []

    def hours(moment: datetime) -> float:
        return (moment - commence).total_seconds() / 3600

    fig, ax = plt.subplots(figsize=(10, 5.5))
    for book, points in sorted(series.items()):
        sharp = book in sharp_books
        ax.step([hours(m) for m, _ in points], [p for _, p in points], where="post",
                linewidth=2.4 if sharp else 0.9, alpha=1.0 if sharp else 0.55,
                label=f"{book} (sharp)" if sharp else book)  # fmt: skip
    pm = _polymarket_home(chart["polymarket"], home)
    if pm:
        ax.plot([hours(m) for m, _ in pm], [p for _, p in pm], color="black", linestyle="--", linewidth=1.8,
                marker="o", markersize=2.5, label="Polymarket mid")  # fmt: skip
    closing = [pts[-1][1] for pts in series.values() if pts]
    if closing:
        close = sorted(closing)[len(closing) // 2]
        ax.axhline(close, color="grey", linestyle=":", linewidth=1.2, label=f"closing consensus {close:.3f}")
    ax.axvline(0, color="red", linewidth=0.8)
    ax.set_xlabel("hours to tip-off")
    ax.set_ylabel(f"fair P({home} wins), vig removed")
    ax.set_title(f"Line movement: {away} @ {home} (simulated replay data)")
    ax.legend(fontsize=7, ncol=3, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = folder / "line_movement.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    spreads: dict[str, list[tuple[float, float]]] = {}
    for moment, book, point in chart["spreads"]:
        if point is not None:
            spreads.setdefault(book, []).append((hours(moment), point))
    if spreads:
        fig, ax = plt.subplots(figsize=(10, 4.5))
        for book, points in sorted(spreads.items()):
            sharp = book in sharp_books
            ax.step([h for h, _ in points], [p for _, p in points], where="post",
                    linewidth=2.4 if sharp else 0.9, alpha=1.0 if sharp else 0.55, label=book)  # fmt: skip
        ax.axvline(0, color="red", linewidth=0.8)
        ax.set_xlabel("hours to tip-off")
        ax.set_ylabel(f"{home} spread (points)")
        ax.set_title(f"Spread by book: {away} @ {home} (simulated replay data)")
        ax.legend(fontsize=7, ncol=4)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = folder / "spread_movement.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def render_report(
    *,
    figures: dict[str, Any],
    steps: dict[str, Any],
    replay: dict[str, Any],
    meta: dict[str, Any],
    folder: Path,
) -> Path:
    """Write `report.md` (and the charts) to `folder`; return the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = get_settings()
    charts = render_charts(figures["chart"], folder, settings.sharp_books) if figures.get("chart") else []
    counts = figures["counts"]
    lines = [
        "# odds-pipeline demo report",
        "",
        f"Source: **{meta['source']}** replay data (not real markets)"
        + (f", seed {meta['seed']}" if meta["source"] == "simulated" else "")
        + f". Simulated span {meta['start']:%Y-%m-%d %H:%M} → {meta['end']:%Y-%m-%d %H:%M} UTC, "
        f"{steps['ticks']} ticks; faults {'ON' if meta['faults'] else 'off'}; wall time {meta['wall']:.0f} s.",
        "",
        "## What was collected",
        "",
        "| table | rows |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in counts.items()],
        "",
        f"Events by status: {_inline(figures.get('events_by_status', {}))}.",
        "",
        "## Calls and quota",
        "",
        f"The Odds API credits spent (replay ledger): **{replay['credits_used']}** "
        f"({_inline(replay['credits_by_route'])}). Requests by API: {_inline(replay['calls'])}.",
        "",
        "| api | calls logged | errors | credits | retried |",
        "|---|---|---|---|---|",
        *[
            f"| {r['api']} | {r['calls']} | {r['errors']} | {r['credits']} | {r['retried']} |"
            for r in figures["fetch_logs"]
        ],
        "",
    ]
    if replay.get("faults_injected"):
        lines += [f"Faults injected by the replay service: {_inline(replay['faults_injected'])} "
                  f"over {replay['requests']} requests.", ""]  # fmt: skip
    lines += ["## Data quality", ""]
    lines += [f"- {q['check']} ({q['severity']}): {q['count']}" for q in figures["quality"]] or [
        "- no findings"
    ]
    lines += ["", "## Polymarket links", "", f"{_inline(figures['links']) or 'no Polymarket events'}.", ""]
    lines += [
        "## Flows",
        "",
        "| flow | runs |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in steps["runs"].items()],
        "",
    ]
    if steps["missing"]:
        lines += [f"Not available yet (skipped): {', '.join(steps['missing'])}.", ""]
    for name, why in steps.get("skipped", {}).items():
        lines += [f"Skipped {name}: {why}.", ""]
    if steps["failures"]:
        lines += ["Failures (the demo went on):", ""]
        lines += [f"- {f['at'][:16]} {f['flow']}: {f['error']}" for f in steps["failures"][:15]]
        if len(steps["failures"]) > 15:
            lines.append(f"- ... {len(steps['failures']) - 15} more")
        lines.append("")
    lines += ["## Analysis", ""]
    for run in figures["backtests"]:
        lines.append(f"- backtest `{run['strategy']}`: {_inline(_flat(run['metrics']))}")
    for model in figures["models"]:
        lines.append(f"- model `{model['name']}` ({model['kind']}): {_inline(_flat(model['metrics']))}")
    if not figures["backtests"] and not figures["models"]:
        lines.append("- no backtest or model results (see Flows above)")
    lines.append("")
    model_lines = model_summary_lines(steps.get("results", {}))
    if model_lines:
        lines += ["## Model: out-of-sample evaluation and recommendations", "", *model_lines, ""]
    if charts:
        chart = figures["chart"]
        lines += ["## Line movement", "",
                  f"{chart['away']} @ {chart['home']}, tip-off {chart['commence']:%Y-%m-%d %H:%M} UTC: the fair home-win "
                  "probability of each book (vig removed) and the Polymarket mid, moving toward the close.", ""]  # fmt: skip
        lines += [f"![{p.stem}]({p.name})" for p in charts]
        lines.append("")
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return path


def model_summary_lines(results: dict[str, Any]) -> list[str]:
    """The evaluation (model vs the no-change baseline) and the recommendations, one line each."""
    lines: list[str] = []
    evaluation = results.get("evaluate_model")
    if isinstance(evaluation, dict) and "n" in evaluation:
        base = evaluation.get("baseline") or {}

        def fig(d: dict[str, Any], key: str) -> str:
            value = d.get(key)
            return f"{value:.4f}" if isinstance(value, int | float) else "-"

        lines.append(
            f"- evaluate `{evaluation.get('model', evaluation.get('kind', 'selected'))}` on {evaluation['n']} "
            f"unseen samples: r2 {fig(evaluation, 'r2')}, rmse {fig(evaluation, 'rmse')}, mae "
            f"{fig(evaluation, 'mae')}, directional accuracy {fig(evaluation, 'directional_accuracy')}; "
            f"no-change baseline rmse {fig(base, 'rmse')}, mae {fig(base, 'mae')}"
        )
    prediction = results.get("predict")
    if isinstance(prediction, dict):
        recs = [r for r in prediction.get("recommendations") or [] if isinstance(r, dict)]
        lines.append(
            f"- predict: {prediction.get('predictions_written', 0)} predictions written, "
            f"{len(prediction.get('recommendations') or [])} recommendations"
        )
        for rec in recs:
            point = rec.get("best_point")
            side = f"{rec.get('outcome')}" + (f" {point:+g}" if isinstance(point, int | float) else "")
            clv = rec.get("expected_clv")
            lines.append(
                f"  - {rec.get('away_team')} @ {rec.get('home_team')} {rec.get('market')}: {side} at "
                f"{rec.get('best_venue')} {rec.get('best_price_decimal')}"
                + (f", expected CLV {clv:+.2%}" if isinstance(clv, int | float) else "")
            )
    return lines


def _flat(metrics: Any) -> dict[str, Any]:
    if not isinstance(metrics, dict):
        return {}
    out = {}
    for key, value in metrics.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = round(value, 4) if isinstance(value, float) else value
        if len(out) >= 8:
            break
    return out


def _inline(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items())


async def _figures_and_report(
    options: DemoOptions,
    *,
    source: Any,
    start: datetime,
    end: datetime,
    steps: dict[str, Any],
    app: Any,
    wall_start: float,
) -> dict[str, Any]:
    began = time.perf_counter()
    figures = await _read_figures_once()
    folder = options.report_dir or get_settings().reports_dir / "demo"
    meta = {"source": source.label, "seed": options.seed, "start": start, "end": end, "faults": options.faults,
            "wall": time.perf_counter() - wall_start}  # fmt: skip
    path = render_report(figures=figures, steps=steps, replay=_replay_stats(app), meta=meta, folder=folder)
    figures["report_path"] = path
    figures["phase_seconds"] = {"report": round(time.perf_counter() - began, 1)}
    if options.fingerprints:
        figures["fingerprints"] = await table_fingerprints()
    return figures


@flow(name="demo-report")
async def _read_figures_once() -> dict[str, Any]:
    return await read_demo_figures()


def _write_run_json(result: DemoResult) -> None:
    assert result.report_path is not None
    summary = {
        "options": result.options,
        "source": result.source,
        "simulated_start": result.simulated_start.isoformat(),
        "simulated_end": result.simulated_end.isoformat(),
        "wall_seconds": result.wall_seconds,
        "steps": result.steps,
        "counts": result.figures["counts"],
        "replay": result.replay,
    }
    (result.report_path.parent / "run.json").write_text(json.dumps(summary, indent=2, default=str))
