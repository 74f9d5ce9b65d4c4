"""No private reach across modules of ours: a `_name` is used only inside the module that defines it.

Read with `ast`, like the layer rule: `from odds_models.clock import _clock` or `clock._clock` in another
module fails; a name a module imports for itself (`from x import y as _y`) is its own business.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("odds_models", "odds_analytics", "tasks", "flows", "odds_cli", "replay")
FILES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_reach(source: str, where: str) -> list[str]:
    """`_names` of another module of ours that `source` imports or reads as a module attribute."""
    tree = ast.parse(source, filename=where)
    found: list[str] = []
    modules: set[str] = set()  # local names bound to a module of ours
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES:
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{where}:{node.lineno} imports {alias.name} from {node.module}")
                elif (ROOT / node.module.replace(".", "/") / f"{alias.name}.py").exists():
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in modules:
                found.append(f"{where}:{node.lineno} reads {ast.unparse(node)}")
    return found


def test_files_are_found() -> None:
    assert len(FILES) > 50


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from odds_models.clock import _clock\n", 1),
        ("from odds_models import clock\nclock._clock = None\n", 1),
        ("import odds_models.clock\nodds_models.clock._clock\n", 1),
        ("from odds_models.clock import now as _now\n", 0),
        ("from httpx import _client\n", 0),
    ],
)
def test_the_scan_sees_a_private_reach(source: str, expected: int) -> None:
    assert len(private_reach(source, "probe.py")) == expected


def test_no_module_reaches_into_another_modules_private_names() -> None:
    bad = [line for path in FILES for line in private_reach(path.read_text(), str(path.relative_to(ROOT)))]
    assert not bad, "\n".join(bad)
