"""prefect.yaml is loadable, complete and in sync with the flows it names (must-show 1).

Loads the file with Prefect's own model, imports every entrypoint, validates each deployment's parameters
against its flow's signature, parses every schedule with the converter `prefect deploy` uses, and checks the
rules of docs/DEPLOYMENT.md (pools, schedules or `manual`, ticks that never overlap, no secret values).
No Prefect server is needed.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

ROOT = Path(__file__).resolve().parents[2]
CONFIG: dict[str, Any] = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS: list[dict[str, Any]] = CONFIG["deployments"]
IDS = [d["name"] for d in DEPLOYMENTS]
ALLOWED_KEYS = {
    "name", "version", "tags", "description", "entrypoint", "flow_name", "parameters", "schedules",
    "work_pool", "concurrency_limit", "enforce_parameter_schema", "triggers", "pull", "build", "push",
    "version_type", "sla", "paused",
}  # fmt: skip
POOLS = {"local-process", "ecs"}
# Flows the issue asks for: each must have a deployment.
REQUIRED_ENTRYPOINTS = {
    "flows/odds.py:sync_events", "flows/odds.py:fetch_odds", "flows/odds.py:fetch_scores",
    "flows/odds.py:backfill_odds_history", "flows/polymarket.py:discover_polymarket",
    "flows/polymarket.py:poll_polymarket_prices", "flows/polymarket.py:backfill_polymarket_history",
    "flows/backtest.py:run_backtest", "flows/closing_lines.py:import_closing_lines", "flows/model.py:train_model",
    "flows/model.py:evaluate_model", "flows/model.py:predict", "flows/polymarket.py:link_polymarket",
}  # fmt: skip


def _by_name(name: str) -> dict[str, Any]:
    return next(d for d in DEPLOYMENTS if d["name"] == name)


_FLOWS: dict[str, Any] = {}


def _load_flow(dep: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The deployment's flow, imported the way `prefect deploy` and workers do (cached per entrypoint)."""
    from prefect.flows import load_flow_from_entrypoint

    path = dep["entrypoint"].split(":", 1)[0]
    if not (ROOT / path).is_file():
        pytest.fail(f"{dep['name']}: entrypoint file {path} does not exist")
    if dep["entrypoint"] not in _FLOWS:
        monkeypatch.chdir(ROOT)
        _FLOWS[dep["entrypoint"]] = load_flow_from_entrypoint(dep["entrypoint"])
    return _FLOWS[dep["entrypoint"]]


def test_schema_matches_prefect_model() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel  # what `prefect deploy` validates with

    model = PrefectYamlModel.model_validate(CONFIG)
    assert [d.name for d in model.deployments] == IDS


def test_deployment_names_unique_and_described() -> None:
    assert len(IDS) == len(set(IDS))
    assert all(d.get("description") for d in DEPLOYMENTS), [
        d["name"] for d in DEPLOYMENTS if not d.get("description")
    ]


def test_every_required_flow_is_deployed() -> None:
    assert {d["entrypoint"] for d in DEPLOYMENTS} >= REQUIRED_ENTRYPOINTS


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_no_unknown_keys(dep: dict[str, Any]) -> None:
    assert set(dep) <= ALLOWED_KEYS, set(dep) - ALLOWED_KEYS


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_entrypoint_loads_and_parameters_validate(
    dep: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.flows import Flow

    flow = _load_flow(dep, monkeypatch)
    assert isinstance(flow, Flow)
    schema = flow.parameters
    params = dict(dep.get("parameters") or {})
    for schedule in dep.get("schedules") or []:
        merged = {**params, **(schedule.get("parameters") or {})}
        unknown = set(merged) - set(schema.properties)
        assert not unknown, f"{dep['name']}: {sorted(unknown)} are not parameters of {dep['entrypoint']}"
        # A scheduled run gets exactly these parameters: they must satisfy the whole signature.
        flow.validate_parameters(merged)
    unknown = set(params) - set(schema.properties)
    assert not unknown, f"{dep['name']}: {sorted(unknown)} are not parameters of {dep['entrypoint']}"
    missing = set(schema.required or []) - set(params)
    if missing:
        # Only a manual deployment may leave required parameters to `prefect deployment run -p ...`.
        assert "manual" in dep.get("tags", []), f"{dep['name']} lacks required parameters {sorted(missing)}"
        hints = typing.get_type_hints(flow.fn)
        for name, value in params.items():
            TypeAdapter(hints.get(name, Any)).validate_python(value)
    else:
        flow.validate_parameters(params)


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_schedules_parse_like_prefect_deploy(dep: dict[str, Any]) -> None:
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    for config in dep.get("schedules") or []:
        converted = _schedule_config_to_deployment_schedule(dict(config))
        DeploymentScheduleCreate(**converted)  # the server's create model: a bad cron or interval fails here


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_served_schedules_equal_deployed_ones(dep: dict[str, Any]) -> None:
    """`odds scheduler start` builds schedules with Prefect's public API; `prefect deploy` with its own
    (private) converter. The two agree on every schedule of prefect.yaml (this pins it across upgrades)."""
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.client.schemas.actions import DeploymentScheduleCreate

    from odds_cli.scheduler import schedule_to_prefect

    for config in dep.get("schedules") or []:
        served = schedule_to_prefect(dict(config))
        deployed = DeploymentScheduleCreate(**_schedule_config_to_deployment_schedule(dict(config)))
        without_default_anchor = set() if "anchor_date" in config else {"anchor_date"}
        assert served.schedule.model_dump(exclude=without_default_anchor) == deployed.schedule.model_dump(
            exclude=without_default_anchor
        )
        assert (served.parameters, served.slug, served.active) == (
            deployed.parameters,
            deployed.slug,
            deployed.active,
        )


def test_a_bad_schedule_is_a_config_error() -> None:
    from odds_cli.scheduler import schedule_to_prefect
    from odds_models.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown keys"):
        schedule_to_prefect({"cron": "0 * * * *", "every": 5})
    with pytest.raises(ConfigError, match="schedule"):
        schedule_to_prefect({"cron": "not a cron"})


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_scheduled_or_marked_manual(dep: dict[str, Any]) -> None:
    tags = dep.get("tags") or []
    schedules = dep.get("schedules") or []
    assert schedules or "manual" in tags, f"{dep['name']} has no schedule and is not tagged manual"
    assert not (schedules and "manual" in tags), f"{dep['name']} is scheduled but tagged manual"


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_work_pool_is_local_or_ecs(dep: dict[str, Any]) -> None:
    pool = dep.get("work_pool") or {}
    assert pool.get("name") in POOLS
    if pool["name"] == "ecs":
        env = pool["job_variables"]["env"]
        assert env["SCHEDULER_BACKEND"] == "aws"  # NullPool in serverless runs
        steps = [next(iter(step)) for step in dep.get("pull") or []]
        assert steps == [
            "prefect.deployments.steps.set_working_directory",
            "odds_cli.scheduler.load_secret_blocks",
        ]


def test_pools_are_defined_once_as_anchors() -> None:
    pools = CONFIG["definitions"]["work_pools"]
    assert {p["name"] for p in pools.values()} == POOLS
    ecs = next(p for p in pools.values() if p["name"] == "ecs")
    # The image is the one built from ./Dockerfile, named at deploy time, never hard-coded here.
    assert re.fullmatch(r"\{\{ \$[A-Z_]+ \}\}", ecs["job_variables"]["image"])
    assert (ROOT / "Dockerfile").is_file()


def test_no_secret_values_in_the_file() -> None:
    text = (ROOT / "prefect.yaml").read_text(encoding="utf-8")
    assert not re.search(r"postgres(ql)?(\+asyncpg)?://", text)
    assert not re.search(r"(?i)apikey=", text)
    for dep in DEPLOYMENTS:
        env = ((dep.get("work_pool") or {}).get("job_variables") or {}).get("env") or {}
        for name in env:
            if re.search(r"KEY|SECRET|PASSWORD|TOKEN|DATABASE_URL", name):
                assert name.endswith("_SECRET_BLOCK"), f"{dep['name']}: {name} would put a secret in the yaml"


def test_ticks_never_overlap() -> None:
    for name in ("fetch-odds-tick", "poll-polymarket-prices"):
        dep = _by_name(name)
        assert dep["concurrency_limit"] == {"limit": 1, "collision_strategy": "CANCEL_NEW"}
    assert [s["interval"] for s in _by_name("fetch-odds-tick")["schedules"]] == [300]


def test_price_poll_interval_matches_setting() -> None:
    from odds_models.settings import Settings

    default = Settings.model_fields["price_poll_interval"].default
    assert [s["interval"] for s in _by_name("poll-polymarket-prices")["schedules"]] == [default]


def test_polymarket_backfill_runs_every_three_days() -> None:
    schedules = _by_name("backfill-polymarket-history")["schedules"]
    assert [s["interval"] for s in schedules] == [3 * 24 * 3600]


def test_pull_step_functions_import() -> None:
    from prefect.utilities.importtools import import_object

    steps = {next(iter(step)) for dep in DEPLOYMENTS for step in dep.get("pull") or []}
    for step in steps:
        assert callable(import_object(step))


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_scheduler_serves_the_same_deployment(dep: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """`odds scheduler start` builds from the yaml: names, tags, parameters, schedules, limits match."""
    from odds_cli.scheduler import build_runner_deployments, load_deployment_specs

    _load_flow(dep, monkeypatch)
    monkeypatch.chdir(ROOT)  # as `odds scheduler start` does: entrypoints are recorded relative to it
    spec = next(s for s in load_deployment_specs(ROOT / "prefect.yaml") if s.name == dep["name"])
    (runner,) = build_runner_deployments([spec], root=ROOT)
    assert runner.name == dep["name"]
    assert runner.entrypoint == dep["entrypoint"]
    assert sorted(runner.tags) == sorted(dep.get("tags") or [])
    assert runner.parameters == (dep.get("parameters") or {})
    assert len(runner.schedules or []) == len(dep.get("schedules") or [])
    limit = dep.get("concurrency_limit")
    expected = limit["limit"] if isinstance(limit, dict) else limit
    assert runner.concurrency_limit == expected
    if isinstance(limit, dict):
        assert runner.concurrency_options is not None
        assert runner.concurrency_options.collision_strategy.value == limit["collision_strategy"]


# Reader flows for notebooks (flows/notebook.py): called from Python, never scheduled.
NOT_DEPLOYED = {
    "flows/notebook.py:load_events", "flows/notebook.py:load_odds", "flows/notebook.py:load_polymarket_prices",
    "flows/notebook.py:load_backtest_runs", "flows/notebook.py:load_fetch_logs", "flows/notebook.py:load_bets",
    "flows/notebook.py:load_closing_lines", "flows/notebook.py:load_predictions", "flows/notebook.py:load_fair_prices",
}  # fmt: skip


def test_every_flow_in_flows_has_a_deployment() -> None:
    """A public flow added to flows/ without a prefect.yaml entry fails here (or is listed in NOT_DEPLOYED)."""
    import importlib
    import inspect

    from prefect.flows import Flow

    deployed = {d["entrypoint"] for d in DEPLOYMENTS}
    found = set()
    for path in sorted((ROOT / "flows").glob("[!_]*.py")):
        module = importlib.import_module(f"flows.{path.stem}")
        for name, obj in vars(module).items():
            if isinstance(obj, Flow) and not name.startswith("_") and inspect.getmodule(obj.fn) is module:
                found.add(f"flows/{path.name}:{name}")
    assert found - deployed - NOT_DEPLOYED == set(), "flows without a deployment"
    assert found >= NOT_DEPLOYED


def test_served_schedules_keep_per_schedule_parameters() -> None:
    from odds_cli.scheduler import schedule_to_prefect

    for dep in DEPLOYMENTS:
        for config in dep.get("schedules") or []:
            served = schedule_to_prefect(config)
            assert served.parameters == (config.get("parameters") or {})
            assert served.slug == config.get("slug")
    poll = schedule_to_prefect({"interval": 300, "timezone": "UTC"}, interval_seconds=120)
    assert poll.schedule.interval.total_seconds() == 120


@pytest.mark.parametrize("dep", DEPLOYMENTS, ids=IDS)
def test_deployment_guide_names_the_run_target(dep: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/DEPLOYMENT.md lists every deployment by the `FLOW/NAME` that `prefect deployment run` takes."""
    flow = _load_flow(dep, monkeypatch)
    guide = (ROOT / "docs" / "DEPLOYMENT.md").read_text(encoding="utf-8")
    assert f"`{flow.name}/{dep['name']}`" in guide
