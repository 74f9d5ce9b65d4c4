"""`odds scheduler` helpers: reading prefect.yaml, selecting deployments, the secret-block pull step."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import pytest
import typer
from typer.testing import CliRunner

from odds_cli.scheduler import (
    app,
    load_deployment_specs,
    load_secret_blocks,
    select_specs,
)
from odds_models.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_specs_mirror_the_yaml() -> None:
    specs = load_deployment_specs(ROOT / "prefect.yaml")
    tick = next(s for s in specs if s.name == "fetch-odds-tick")
    assert tick.entrypoint == "flows/odds.py:fetch_odds"
    assert tick.concurrency_limit == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert tick.work_pool == "local-process"
    assert not tick.manual
    assert next(s for s in specs if s.name == "demo").manual


def test_select_keeps_order_of_only_and_rejects_unknown() -> None:
    specs = load_deployment_specs(ROOT / "prefect.yaml")
    assert [s.name for s in select_specs(specs, ["predict", "sync-events", "predict"])] == [
        "predict",
        "sync-events",
    ]
    assert select_specs(specs, None) == specs
    with pytest.raises(typer.BadParameter, match="unknown deployment nope"):
        select_specs(specs, ["nope"])


def test_bad_config_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "prefect.yaml"
    bad.write_text("deployments: {not: a list}\n")
    with pytest.raises(ConfigError, match="no `deployments:` list"):
        load_deployment_specs(bad)
    bad.write_text("deployments:\n  - name: x\n    entrypoint: no-colon\n")
    with pytest.raises(ConfigError, match="entrypoint"):
        load_deployment_specs(bad)


def test_list_json_names_every_deployment() -> None:
    result = CliRunner().invoke(app, ["list", "--json", "--config", str(ROOT / "prefect.yaml")])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [d["name"] for d in listed] == [s.name for s in load_deployment_specs(ROOT / "prefect.yaml")]
    assert {d["name"] for d in listed if d["manual"]} >= {"demo", "backfill-odds-history"}


class _FakeSecret:
    loads: ClassVar[list[str]] = []

    def __init__(self, value: str) -> None:
        self.value = value

    @classmethod
    def load(cls, name: str, **_: object) -> _FakeSecret:
        cls.loads.append(name)
        return cls({"odds-api-key": "k-123", "odds-db": "postgresql://u:p@db/odds"}[name])

    def get(self) -> str:
        return self.value


def test_secret_blocks_fill_only_unset_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.blocks import system

    monkeypatch.setattr(system, "Secret", _FakeSecret)
    _FakeSecret.loads = []
    monkeypatch.setenv("ODDS_API_KEY_SECRET_BLOCK", "odds-api-key")
    monkeypatch.setenv("DATABASE_URL_SECRET_BLOCK", "odds-db")
    monkeypatch.setenv("DATABASE_URL", "postgresql://already/set")  # e.g. from ECS task-definition secrets

    result = load_secret_blocks()

    assert result == {"filled": ["ODDS_API_KEY"]}  # names only, never values
    assert _FakeSecret.loads == ["odds-api-key"]
    assert os.environ["ODDS_API_KEY"] == "k-123"
    assert os.environ["DATABASE_URL"] == "postgresql://already/set"
    monkeypatch.delenv("ODDS_API_KEY")


def test_secret_blocks_without_names_do_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ODDS_API_KEY_SECRET_BLOCK", raising=False)
    monkeypatch.delenv("DATABASE_URL_SECRET_BLOCK", raising=False)
    assert load_secret_blocks() == {"filled": []}
