"""Flow names are kebab-case everywhere, and a deployment's flow is named after its entrypoint function, so
`prefect deployment run FLOW/NAME` reads `sync-events/sync-events`, never `sync_events/sync-events`.

Read with `ast` (no import, no Prefect): every `@flow` in our packages names itself explicitly.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("flows", "tasks", "odds_cli", "odds_models", "odds_analytics", "replay", "benchmarks")
KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


def _flow_decorator(node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.expr | None:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name == "flow":
            return decorator
    return None


def _flow_name(decorator: ast.expr) -> str | None:
    """The literal `name=` of a `@flow(...)` decorator (None when absent or not a literal)."""
    if not isinstance(decorator, ast.Call):
        return None
    for keyword in decorator.keywords:
        if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    return None


def flows_in(path: Path) -> dict[str, str | None]:
    """Function name -> flow name of every `@flow` in the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name: _flow_name(decorator)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (decorator := _flow_decorator(node)) is not None
    }


ALL_FLOWS = {
    f"{path.relative_to(ROOT)}:{function}": name
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
    for function, name in flows_in(path).items()
}


def test_flows_are_found() -> None:
    assert len(ALL_FLOWS) >= 15, ALL_FLOWS


@pytest.mark.parametrize(("where", "name"), sorted(ALL_FLOWS.items()), ids=sorted(ALL_FLOWS))
def test_flow_name_is_explicit_and_kebab_case(where: str, name: str | None) -> None:
    assert name is not None, f"{where}: give the flow an explicit name=, in kebab-case"
    assert KEBAB.match(name), f"{where}: flow name {name!r} is not kebab-case"


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_deployment_flow_is_named_after_its_entrypoint(dep: dict[str, object]) -> None:
    path, function = str(dep["entrypoint"]).split(":", 1)
    assert KEBAB.match(str(dep["name"])), f"deployment name {dep['name']!r} is not kebab-case"
    found = flows_in(ROOT / path)
    assert function in found, f"{dep['entrypoint']} is not a @flow"
    assert found[function] == function.replace("_", "-"), (
        f"{dep['entrypoint']}: flow name {found[function]!r}, expected {function.replace('_', '-')!r}"
    )


def test_the_scan_reads_names_and_sees_a_missing_one(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import prefect\nfrom prefect import flow\n"
        "@flow(name='sync-events', log_prints=False)\nasync def sync_events(): ...\n"
        "@prefect.flow(name='fetch_odds')\ndef fetch_odds(): ...\n"
        "@flow\ndef bare(): ...\n"
        "def not_a_flow(): ...\n"
    )
    assert flows_in(module) == {"sync_events": "sync-events", "fetch_odds": "fetch_odds", "bare": None}
    assert not KEBAB.match("fetch_odds")
