"""Readable flow run names: `fetch-odds 2026-01-13T21:00Z`, `backtest basic_ev 2023-10-24..2024-04-14`.

Prefect names a run `<adjective>-<animal>` unless the flow gives `flow_run_name`. Every flow in `flows/`
passes one of these callables (`tests/foundation/test_flow_options.py`). The time is the pipeline's
clock (`odds_models.clock.now()`), so a demo run carries its simulated moment; a run under the tag `demo`
(`odds demo` runs everything inside `prefect.tags("demo")`) is prefixed `demo `, so it cannot be mistaken
for a real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from odds_models import clock

__all__ = ["DEMO_TAG", "backtest_run_name", "dated", "stamped", "with_params"]

DEMO_TAG = "demo"


def _prefix(label: str = "") -> str:
    from prefect.context import TagsContext

    if label == DEMO_TAG:  # the demo flow itself: `demo 2026-...`, not `demo demo ...`
        return ""
    return f"{DEMO_TAG} " if DEMO_TAG in TagsContext.get().current_tags else ""


def _parameters() -> dict[str, Any]:
    from prefect.runtime import flow_run

    try:
        return dict(flow_run.parameters or {})
    except Exception:  # outside a run (a unit test calling the callable): no parameters
        return {}


def _day(value: Any) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%dT%H:%MZ}" if value.time() != datetime.min.time() else f"{value:%Y-%m-%d}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value)


def stamped(label: str) -> Callable[[], str]:
    """`label 2026-01-13T21:00Z`: the moment the run started (the pipeline's clock, UTC)."""

    def name() -> str:
        return f"{_prefix(label)}{label} {clock.now():%Y-%m-%dT%H:%MZ}"

    name.__name__ = f"run_name_{label.replace('-', '_')}"
    return name


def with_params(label: str, *keys: str, sep: str = " ") -> Callable[[], str]:
    """`label v1 v2`: the named parameters' values (dates as dates; a list as its length)."""

    def name() -> str:
        params = _parameters()
        shown = []
        for key in keys:
            value = params.get(key)
            if value is None:
                continue
            shown.append(f"{len(value)} item(s)" if isinstance(value, list) else _day(value))
        return f"{_prefix(label)}{label} {sep.join(shown)}".rstrip()

    name.__name__ = f"run_name_{label.replace('-', '_')}"
    return name


def dated(label: str, first: str, last: str) -> Callable[[], str]:
    """`label 2024-01-01..2024-01-31`: a window given by two parameters."""
    return with_params(label, first, last, sep="..")


def backtest_run_name() -> str:
    """`backtest basic_ev 2023-10-24..2024-04-14` (the window the run computes when none is given)."""
    config = _parameters().get("config")
    if config is None:
        return f"{_prefix()}backtest weekly {clock.now():%Y-%m-%d}"
    get = config.get if isinstance(config, dict) else lambda k: getattr(config, k, None)
    return f"{_prefix()}backtest {get('strategy')} {_day(get('start'))}..{_day(get('end'))}"
