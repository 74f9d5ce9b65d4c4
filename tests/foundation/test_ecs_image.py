"""An ECS deployment is never registered with `image: ''`: its build step refuses an unset ODDS_IMAGE.

The steps are run the way `prefect deploy` runs them (`prefect.deployments.steps.core.run_steps`), offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
ECS = [d for d in DEPLOYMENTS if d["work_pool"]["name"] == "ecs"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The steps name no block and no Prefect Variable: skip the two lookups that need a server."""

    async def same(value: Any) -> Any:
        return value

    for name in ("resolve_block_document_references", "resolve_variables"):
        monkeypatch.setattr(f"prefect.deployments.steps.core.{name}", same)


def _run_build(dep: dict[str, Any]) -> dict[str, Any]:
    from prefect.deployments.steps.core import run_steps

    from odds_models.db import run_coro_blocking

    return run_coro_blocking(run_steps(dep["build"], {}))


def test_there_are_ecs_deployments() -> None:
    assert len(ECS) >= 3


def _refusal(dep: dict[str, Any]) -> str:
    """The message `prefect deploy` shows under "Encountered error while running ... require_image"."""
    from prefect.deployments.steps.core import StepExecutionError

    with pytest.raises(StepExecutionError) as raised:
        _run_build(dep)
    return str(raised.value.__cause__)


@pytest.mark.parametrize("dep", ECS, ids=[d["name"] for d in ECS])
def test_ecs_deploy_refuses_an_unset_image(dep: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ODDS_IMAGE", raising=False)
    assert "ODDS_IMAGE is not set" in _refusal(dep)
    monkeypatch.setenv("ODDS_IMAGE", "  ")
    assert "ODDS_IMAGE is not set" in _refusal(dep)
    monkeypatch.setenv("ODDS_IMAGE", "123456789012.dkr.ecr.us-east-1.amazonaws.com/odds-pipeline:")
    assert "not an image reference" in _refusal(dep)
    monkeypatch.setenv("ODDS_IMAGE", "123456789012.dkr.ecr.us-east-1.amazonaws.com/odds-pipeline:abc123")
    outputs = _run_build(dep)
    assert outputs["ecs-image"]["image"].endswith("odds-pipeline:abc123")
