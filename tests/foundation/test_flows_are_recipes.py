"""flows/ holds recipes only: no Prefect task is defined there, and no SQL is written or run there.

Tasks live in `tasks/`, SQL in `tasks/storage/`; a flow calls them (read with `ast`, like the layer rule).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOW_FILES = sorted((ROOT / "flows").glob("*.py"))
# database access belongs to tasks/storage/: a flow imports none of these
DATABASE_MODULES = {"sqlalchemy", "sqlmodel", "asyncpg", "psycopg", "psycopg2"}
DATABASE_NAMES = {"async_session_maker", "get_engine", "text"}
SQL = re.compile(r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\b.+\bSET|DELETE\s+FROM|TRUNCATE)\b", re.DOTALL)


def _decorator_name(node: ast.expr) -> str:
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Attribute):
        return target.attr
    return target.id if isinstance(target, ast.Name) else ""


def recipe_violations(path: Path) -> list[str]:
    """What in `path` is not a recipe: task definitions, database imports, SQL text."""
    tree = ast.parse(path.read_text(), filename=str(path))
    where = path.relative_to(ROOT)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [f"{where}:{node.lineno} {node.name} is a @task"
                      for d in node.decorator_list if _decorator_name(d) == "task"]  # fmt: skip
        elif isinstance(node, ast.Import):
            found += [f"{where}:{node.lineno} imports {a.name}" for a in node.names
                      if a.name.split(".")[0] in DATABASE_MODULES]  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in DATABASE_MODULES:
                found.append(f"{where}:{node.lineno} imports from {node.module}")
            found += [f"{where}:{node.lineno} imports {a.name} from {node.module}" for a in node.names
                      if (node.module == "prefect" and a.name == "task") or a.name in DATABASE_NAMES]  # fmt: skip
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{where}:{node.lineno} holds SQL: {node.value[:60]!r}")
    return found


def test_flow_files_are_found() -> None:
    assert {p.name for p in FLOW_FILES} >= {"odds.py", "polymarket.py", "demo.py", "model.py", "notebook.py"}


@pytest.mark.parametrize("path", FLOW_FILES, ids=[p.name for p in FLOW_FILES])
def test_flows_define_no_task_and_hold_no_sql(path: Path) -> None:
    bad = recipe_violations(path)
    assert not bad, "\n".join(bad)


def test_the_rule_sees_tasks_imports_and_sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan itself: each kind of breach in a flow module is reported."""
    fake_root = tmp_path
    flows = fake_root / "flows"
    flows.mkdir()
    bad = flows / "bad.py"
    bad.write_text(
        "from prefect import flow, task\n"
        "from sqlalchemy import text\n"
        "import sqlmodel\n"
        "from odds_models.db import async_session_maker\n"
        "@task(cache_policy=None)\n"
        "async def read_it():\n"
        "    return 'SELECT id FROM events WHERE x = 1'\n"
        "@flow(name='ok')\n"
        "async def ok():\n"
        "    return 'select nothing: not SQL in capitals'\n"
    )
    monkeypatch.setattr(f"{__name__}.ROOT", fake_root)
    found = "\n".join(recipe_violations(bad))
    for expected in ("read_it is a @task", "imports task from prefect", "imports from sqlalchemy",
                     "imports sqlmodel", "imports async_session_maker", "holds SQL"):  # fmt: skip
        assert expected in found, found
    assert found.count("holds SQL") == 1, found  # lower-case prose is not SQL
