"""`freeze_startup_objects`: the start-up heap frozen once per process, at the start of every deployed flow."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import gc
import pandas  # a start-up heap worth freezing
from odds_models.runtime import freeze_startup_objects

tracked = len(gc.get_objects())
assert gc.get_freeze_count() == 0
assert freeze_startup_objects() is True
frozen = gc.get_freeze_count()
assert frozen >= tracked - 100, (frozen, tracked)  # everything alive at the call
assert len(gc.get_objects()) < 100  # what the collector still walks
leftovers = [[i] for i in range(1000)]  # a run's objects, alive at the second call
assert freeze_startup_objects() is False  # once per process: a run's objects are never frozen
assert gc.get_freeze_count() == frozen
assert len(gc.get_objects()) >= 1000
print("ok")
"""


def test_it_freezes_what_start_up_left_once_per_process() -> None:
    # In its own process: freezing the test session's heap would change the collector for the other tests.
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _is_freeze_call(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Call)
        and isinstance(statement.value.func, ast.Name)
        and statement.value.func.id == "freeze_startup_objects"
    )


def test_every_deployed_flow_freezes_its_start_up_first() -> None:
    entrypoints = re.findall(r"entrypoint: (flows/\w+\.py):(\w+)", (ROOT / "prefect.yaml").read_text())
    assert len(entrypoints) >= 15
    for path, name in entrypoints:
        tree = ast.parse((ROOT / path).read_text())
        function = next(
            n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
        )
        body = function.body[1:] if ast.get_docstring(function) else function.body
        assert _is_freeze_call(body[0]), f"{path}:{name} does not call freeze_startup_objects() first"
