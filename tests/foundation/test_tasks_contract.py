"""The tasks/ contract (docs/DEVELOPMENT.md, "The tasks/ contract"), checked like the layer rule.

- One DB-write retry setting: `tasks.retry.DB_WRITE_RETRY`; no other file spells out `retries=` or
  `retry_delay_seconds`, and every task that retries uses exactly that setting.
- A Prefect task is `x_task` around a plain `x`: every Task object a module under tasks/ defines is bound to
  a name ending in `_task`, and the same module holds the plain function `x` (tests and other tasks call it).
- Storage functions take `*, session`: every function under tasks/ with a `session` parameter has it
  keyword-only.
- Parse at the edge, store typed values: no module under tasks/storage/ imports an API payload parser
  (`parse_*_payload`); the Odds API responses are parsed in `tasks.odds_ingest` / `tasks.import_oddsapi`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from types import ModuleType

import pytest
from prefect import Task
from prefect.cache_policies import NONE

import tasks
from tasks.retry import DB_WRITE_RETRY, retry_on_db_connection_error

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("tasks", "flows", "odds_cli", "odds_models", "odds_analytics", "replay")

# The Polymarket modules are being restructured (issue 13, helper h13p), which removes their own spelling of
# the retry setting and renames their tasks; the integrator empties this list once that lands.
POLYMARKET_ALLOWED: set[str] = set()  # the Polymarket modules follow the contract too (no exemptions left)

RETRY_LITERAL = re.compile(r"retry_delay_seconds|\bretries\s*=|[\"']retries[\"']\s*:")


def _tasks_modules() -> list[ModuleType]:
    names = ["tasks", *(m.name for m in pkgutil.walk_packages(tasks.__path__, "tasks."))]
    return [importlib.import_module(n) for n in names]


def _own_tasks() -> list[tuple[str, str, Task]]:
    """(module, attribute, task) for every Task object a module under tasks/ defines."""
    found = []
    for module in _tasks_modules():
        for attr, obj in vars(module).items():
            if isinstance(obj, Task) and module.__name__ in (
                obj.fn.__module__,
                _defining_module(module, attr),
            ):
                found.append((module.__name__, attr, obj))
    return found


def _defining_module(module: ModuleType, attr: str) -> str:
    """The module whose source assigns `attr` (a `task(fn)` call wraps a function of another module)."""
    source = Path(module.__file__ or "").read_text()
    return module.__name__ if re.search(rf"^{re.escape(attr)}\s*=\s*task\(", source, re.MULTILINE) else ""


def test_db_write_retry_is_the_documented_setting() -> None:
    assert dict(DB_WRITE_RETRY) == {
        "cache_policy": NONE,
        "retries": 2,
        "retry_delay_seconds": [2, 10],
        "retry_condition_fn": retry_on_db_connection_error,
    }


def test_no_file_spells_out_a_retry_setting() -> None:
    bad = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where == "tasks/retry.py" or where in POLYMARKET_ALLOWED:
                continue
            bad += [f"{where}:{n}: {line.strip()}" for n, line in enumerate(path.read_text().splitlines(), 1)
                    if RETRY_LITERAL.search(line)]  # fmt: skip
    assert not bad, "use `**DB_WRITE_RETRY` from tasks/retry.py:\n" + "\n".join(bad)


def test_every_retrying_task_uses_db_write_retry() -> None:
    retrying = [(m, a, t) for m, a, t in _own_tasks() if t.retries]
    assert len(retrying) >= 10, retrying  # the scan finds the writers
    bad = [
        f"{m}.{a}"
        for m, a, t in retrying
        if f"{m.replace('.', '/')}.py" not in POLYMARKET_ALLOWED
        and (
            t.retries != 2
            or t.retry_delay_seconds != [2, 10]
            or t.retry_condition_fn is not retry_on_db_connection_error
            or t.cache_policy is not NONE
        )
    ]
    assert not bad


@pytest.mark.parametrize("text", ["@task(retries=3)", 'x = {"retries": 2}', "retry_delay_seconds=[1]"])
def test_the_retry_scan_sees_a_literal(text: str) -> None:
    assert RETRY_LITERAL.search(text)


def _exempt(module: str) -> bool:
    return f"{module.replace('.', '/')}.py" in POLYMARKET_ALLOWED


def test_the_task_scan_finds_the_tasks() -> None:
    found = {f"{m}.{a}" for m, a, _ in _own_tasks()}
    assert {"tasks.odds_ingest.drain_spool_task", "tasks.model.score_model_task",
            "tasks.storage.reads.read_odds_at_times_task", "tasks.storage.models.register_models_task"} <= found  # fmt: skip


def test_a_task_is_x_task_around_a_plain_x() -> None:
    bad = []
    for module, attr, _ in _own_tasks():
        if _exempt(module):
            continue
        plain = getattr(importlib.import_module(module), attr.removesuffix("_task"), None)
        if not attr.endswith("_task"):
            bad.append(f"{module}.{attr}: a task's name ends in _task")
        elif not inspect.isfunction(plain):
            bad.append(f"{module}.{attr}: no plain function {attr.removesuffix('_task')} beside it")
    assert not bad, "\n".join(bad)


def _session_functions() -> list[tuple[str, str, inspect.Parameter]]:
    found = []
    for module in _tasks_modules():
        for attr, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                param = inspect.signature(obj).parameters.get("session")
                if param is not None:
                    found.append((module.__name__, attr, param))
    return found


def test_storage_functions_take_session_keyword_only() -> None:
    found = _session_functions()
    assert len(found) >= 30, found  # the scan sees the storage functions
    bad = [f"{m}.{a}" for m, a, p in found if p.kind is not p.KEYWORD_ONLY and not _exempt(m)]
    assert not bad, "make `session` keyword-only (`*, session`):\n" + "\n".join(bad)


PAYLOAD_PARSER = re.compile(r"\bparse_\w+_payload\b")


def test_storage_takes_parsed_values() -> None:
    bad = []
    for path in sorted((ROOT / "tasks" / "storage").glob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        if where in POLYMARKET_ALLOWED:
            continue
        tree = ast.parse(path.read_text(), filename=where)
        bad += [f"{where}:{n.lineno} imports {a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                for a in n.names if PAYLOAD_PARSER.fullmatch(a.name)]  # fmt: skip
    assert not bad, "parse at the edge (tasks/odds_ingest.py), store typed values:\n" + "\n".join(bad)
