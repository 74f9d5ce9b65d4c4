"""Every flow names its runs and has a timeout; every task names its runs without an id.

Prefect's defaults are `<adjective>-<animal>` flow runs, no timeout (a hung tick blocks every later one under
`CANCEL_NEW`) and task runs named `<task>-<random id>`. Read by importing the modules (no engine).
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime

import pytest
from prefect import Flow, Task

import flows
import tasks
from odds_models.clock import FrozenClock, use_clock


def _members(package: object, kind: type) -> dict[str, object]:
    found: dict[str, object] = {}
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):  # type: ignore[attr-defined]
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, kind) and value.fn.__module__ == module.__name__:
                found[f"{info.name}:{attr}"] = value
    return found


FLOWS = _members(flows, Flow)
TASKS = _members(tasks, Task)


def test_the_scan_finds_the_flows_and_tasks() -> None:
    assert len(FLOWS) >= 20, sorted(FLOWS)
    assert len(TASKS) >= 40, sorted(TASKS)


@pytest.mark.parametrize("where", sorted(FLOWS))
def test_every_flow_names_its_runs_and_has_a_timeout(where: str) -> None:
    flow = FLOWS[where]
    assert flow.flow_run_name is not None, f"{where}: give the flow a flow_run_name (flows/run_names.py)"
    assert flow.timeout_seconds, f"{where}: give the flow timeout_seconds"
    assert 0 < flow.timeout_seconds <= 4 * 3600, where


@pytest.mark.parametrize("where", sorted(TASKS))
def test_every_task_names_its_runs(where: str) -> None:
    task = TASKS[where]
    assert task.task_run_name is not None, f"{where}: give the task a task_run_name (no random id)"


def test_backfills_retry_and_ticks_do_not() -> None:
    from flows.odds import backfill_odds_history, fetch_odds

    assert backfill_odds_history.retries >= 1  # plans from what is stored: a rerun is safe
    assert not fetch_odds.retries  # the next tick catches up


def test_run_names_follow_the_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import run_names
    from flows.backtest import run_backtest
    from flows.odds import backfill_odds_history, fetch_odds
    from odds_analytics.backtest import BacktestConfig

    with use_clock(FrozenClock(datetime(2026, 1, 13, 21, 0, 30, tzinfo=UTC))):
        assert fetch_odds.flow_run_name() == "fetch-odds 2026-01-13T21:00Z"
        config = BacktestConfig(strategy="basic_ev", start=date(2023, 10, 24), end=date(2024, 4, 14))
        monkeypatch.setattr(run_names, "_parameters", lambda: {"config": config})
        assert run_backtest.flow_run_name() == "backtest basic_ev 2023-10-24..2024-04-14"
        # a deployment run hands the config over as JSON
        monkeypatch.setattr(run_names, "_parameters", lambda: {"config": config.model_dump(mode="json")})
        assert run_backtest.flow_run_name() == "backtest basic_ev 2023-10-24..2024-04-14"
        monkeypatch.setattr(
            run_names, "_parameters", lambda: {"start": date(2024, 1, 1), "end": "2024-01-31"}
        )
        assert backfill_odds_history.flow_run_name() == "backfill-odds-history 2024-01-01..2024-01-31"


def test_demo_runs_are_prefixed(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect import tags

    from flows import run_names
    from flows.demo import demo

    start = datetime(2026, 1, 13, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(run_names, "_parameters", lambda: {"start": start, "end": start.replace(day=14)})
    from flows.odds import fetch_odds

    with use_clock(FrozenClock(datetime(2026, 1, 13, 21, 0, tzinfo=UTC))), tags("demo"):
        assert fetch_odds.flow_run_name() == "demo fetch-odds 2026-01-13T21:00Z"
        assert demo.flow_run_name() == "demo 2026-01-13T12:00Z..2026-01-14T12:00Z"  # not "demo demo ..."
