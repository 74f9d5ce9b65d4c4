"""Prefect Variables the flows read (settings a person changes in the UI without a deploy).

| variable | read by | value |
|---|---|---|
| `backtest-window` | `run-backtest` when no config is given (the weekly schedule) | JSON: `{"start": ..., "end": ...}` or `{"last_days": N}`, optional `"strategy"`; unset: the season to date (`odds_analytics.backtest.config.scheduled_window`) |
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NONE

__all__ = ["BACKTEST_WINDOW", "read_variable", "read_variable_task"]

BACKTEST_WINDOW = "backtest-window"


async def read_variable(name: str) -> Any:
    """The value of the Prefect Variable `name` (None when unset)."""
    from prefect.variables import Variable

    return await Variable.aget(name, default=None)


read_variable_task = task(
    read_variable, name="read-variable", task_run_name="read-variable-{name}", cache_policy=NONE
)
