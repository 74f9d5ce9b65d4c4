"""Imports point one way: odds_models <- odds_analytics <- tasks <- flows <- odds_cli (replay: models, analytics)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"odds_models", "odds_analytics", "tasks", "flows", "odds_cli", "replay"}
ALLOWED: dict[str, set[str]] = {
    "odds_models": set(),
    "odds_analytics": {"odds_models"},
    "tasks": {"odds_models", "odds_analytics"},
    "replay": {"odds_models", "odds_analytics"},
    "flows": {"odds_models", "odds_analytics", "tasks", "replay"},
    "odds_cli": {"odds_models", "odds_analytics", "tasks", "flows", "replay"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_layer_imports(package: str) -> None:
    bad: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad.extend(
            f"{path.relative_to(ROOT)} imports {i}" for i in _imports(path) - ALLOWED[package] - {package}
        )
    assert not bad, "\n".join(bad)


def test_analytics_does_no_io() -> None:
    forbidden = {"httpx", "asyncpg", "sqlalchemy", "sqlmodel", "prefect"}
    bad = []
    for path in sorted((ROOT / "odds_analytics").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            bad += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n in forbidden]
    assert not bad, "\n".join(bad)
