"""`odds scheduler`: serve every deployment of `prefect.yaml` from one local process.

`odds scheduler start` reads `prefect.yaml`, loads each deployment's flow from its entrypoint and serves
them all with `prefect.serve(*[flow.to_deployment(...)])`: same names, schedules, parameters, tags,
descriptions and concurrency limits as `prefect deploy --all` would register, so the two never diverge.
No worker and no work pool are needed; runs execute as subprocesses of this process. It talks to whatever
`PREFECT_API_URL` points at (a local `prefect server start`, or Prefect Cloud with `PREFECT_API_KEY`).

`load_secret_blocks` is the pull step the ECS deployments run before their flow: it fills `ODDS_API_KEY` and
`DATABASE_URL` from Prefect Secret blocks named by `<VAR>_SECRET_BLOCK`, so no value is stored in a
deployment, an image or `prefect.yaml`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import yaml
from rich.table import Table

from odds_cli.common import JsonOption, console, emit_json, key_column
from odds_models.errors import ConfigError

if TYPE_CHECKING:
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.deployments.runner import RunnerDeployment

__all__ = [
    "MANUAL_TAG",
    "SECRET_ENV_VARS",
    "DeploymentSpec",
    "app",
    "build_runner_deployments",
    "default_config_path",
    "describe_api",
    "load_deployment_specs",
    "load_secret_blocks",
    "require_image",
    "schedule_to_prefect",
    "select_specs",
]

MANUAL_TAG = "manual"
# Environment variables a deployment may take from a Prefect Secret block named by `<VAR>_SECRET_BLOCK`.
SECRET_ENV_VARS = ("ODDS_API_KEY", "DATABASE_URL")
# Deployments whose interval comes from a setting, so changing the setting needs no yaml edit when serving.
_INTERVAL_SETTINGS = {"poll-polymarket-prices": "price_poll_interval"}
_PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The keys of a prefect.yaml schedule entry (those `prefect deploy` reads, but `replaces`).
_SCHEDULE_KEYS = {
    "cron",
    "interval",
    "rrule",
    "timezone",
    "anchor_date",
    "day_or",
    "active",
    "parameters",
    "slug",
}

app = typer.Typer(
    help="Serve every prefect.yaml deployment from one local process (no worker needed).",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class DeploymentSpec:
    """One `deployments:` entry of prefect.yaml, as plain data."""

    name: str
    entrypoint: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    concurrency_limit: int | dict[str, Any] | None = None
    work_pool: str | None = None

    @property
    def manual(self) -> bool:
        """True when the deployment is meant to be run by hand (tag `manual`)."""
        return MANUAL_TAG in self.tags

    @property
    def flow_file(self) -> str:
        return self.entrypoint.split(":", 1)[0]

    @property
    def flow_function(self) -> str:
        return self.entrypoint.split(":", 1)[1]


def default_config_path() -> Path:
    """`./prefect.yaml` when present, else the one next to the installed project."""
    local = Path.cwd() / "prefect.yaml"
    return local if local.is_file() else _PROJECT_ROOT / "prefect.yaml"


def load_deployment_specs(path: Path | None = None) -> list[DeploymentSpec]:
    """Parse prefect.yaml into `DeploymentSpec`s (anchors resolved). Raises `ConfigError` if unusable."""
    path = path or default_config_path()
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("deployments"), list):
        raise ConfigError(f"{path} has no `deployments:` list")
    specs = []
    for raw in config["deployments"]:
        if not isinstance(raw, dict) or not raw.get("name") or ":" not in str(raw.get("entrypoint", "")):
            raise ConfigError(f"{path}: every deployment needs a name and an entrypoint file.py:flow")
        specs.append(
            DeploymentSpec(
                name=str(raw["name"]),
                entrypoint=str(raw["entrypoint"]),
                description=raw.get("description"),
                parameters=dict(raw.get("parameters") or {}),
                schedules=[dict(s) for s in raw.get("schedules") or []],
                tags=[str(t) for t in raw.get("tags") or []],
                concurrency_limit=raw.get("concurrency_limit"),
                work_pool=(raw.get("work_pool") or {}).get("name"),
            )
        )
    return specs


def select_specs(specs: list[DeploymentSpec], only: list[str] | None) -> list[DeploymentSpec]:
    """The specs named in `only` (all when empty). An unknown name is a usage error (exit 2)."""
    if not only:
        return specs
    by_name = {s.name: s for s in specs}
    unknown = [name for name in only if name not in by_name]
    if unknown:
        raise typer.BadParameter(
            f"unknown deployment {', '.join(unknown)} (known: {', '.join(sorted(by_name))})",
            param_hint="--only",
        )
    return [by_name[name] for name in dict.fromkeys(only)]


def schedule_to_prefect(
    config: dict[str, Any], *, interval_seconds: float | None = None
) -> DeploymentScheduleCreate:
    """A prefect.yaml schedule entry as the schedule object `to_deployment(schedules=[...])` takes.

    Built with Prefect's public API (`prefect.schedules.Schedule`, `DeploymentScheduleCreate.from_schedule`)
    from the keys `prefect deploy` reads (cron, interval, rrule, timezone, anchor_date, day_or, active,
    parameters, slug), so a served schedule is a deployed one (`tests/odds_cli/test_prefect_yaml.py`
    compares the two). `interval_seconds` replaces the interval of an interval schedule (settings-driven
    cadence). A schedule Prefect would refuse is a `ConfigError`.
    """
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.schedules import Schedule

    unknown = set(config) - _SCHEDULE_KEYS
    if unknown:
        raise ConfigError(f"schedule {config}: unknown keys {sorted(unknown)}")
    kwargs = {key: value for key, value in config.items() if value is not None}
    if interval_seconds is not None and "interval" in kwargs:
        kwargs["interval"] = interval_seconds
    if isinstance(kwargs.get("interval"), int | float):
        kwargs["interval"] = timedelta(seconds=kwargs["interval"])
    if isinstance(kwargs.get("anchor_date"), str):
        kwargs["anchor_date"] = datetime.fromisoformat(kwargs["anchor_date"])
    if "cron" in kwargs or "rrule" in kwargs:
        kwargs.pop("anchor_date", None)  # an anchor only means something to an interval
    try:
        return DeploymentScheduleCreate.from_schedule(Schedule(**kwargs))
    except ValueError as exc:
        raise ConfigError(f"schedule {config}: {exc}") from None


def _concurrency(value: int | dict[str, Any] | None) -> Any:
    if value is None or isinstance(value, int):
        return value
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    strategy = value.get("collision_strategy")
    return ConcurrencyLimitConfig(
        limit=int(value["limit"]),
        collision_strategy=ConcurrencyLimitStrategy(strategy)
        if strategy
        else ConcurrencyLimitStrategy.ENQUEUE,
    )


def _setting_interval(spec: DeploymentSpec) -> float | None:
    setting = _INTERVAL_SETTINGS.get(spec.name)
    if setting is None:
        return None
    from odds_models.settings import get_settings

    return float(getattr(get_settings(), setting))


def build_runner_deployments(
    specs: list[DeploymentSpec], *, root: Path | None = None
) -> list[RunnerDeployment]:
    """Load every spec's flow and turn it into a `RunnerDeployment` for `prefect.serve`.

    Entry points are relative to `root` (the folder of prefect.yaml). Run from `root`: the deployments record
    their entrypoints relative to the working directory, and served runs start there.
    """
    from prefect.flows import load_flow_from_entrypoint

    root = root or Path.cwd()
    deployments = []
    for spec in specs:
        path = root / spec.flow_file
        if not path.is_file():
            raise ConfigError(f"deployment {spec.name}: entrypoint file {spec.flow_file} does not exist")
        flow = load_flow_from_entrypoint(f"{path}:{spec.flow_function}")
        interval = _setting_interval(spec)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description,
                parameters=spec.parameters,
                tags=spec.tags,
                schedules=[schedule_to_prefect(s, interval_seconds=interval) for s in spec.schedules],
                concurrency_limit=_concurrency(spec.concurrency_limit),
            )
        )
    return deployments


def describe_api() -> str:
    """Which Prefect API this process talks to, for the start banner; `ConfigError` when none is set.

    Serving needs a server that outlives this process (to keep schedules and show runs in the UI): a
    temporary one, which Prefect would start when `PREFECT_API_URL` is unset, did not pick up runs here.
    """
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    if not url:
        raise ConfigError(
            "PREFECT_API_URL is unset: start `prefect server start` and export "
            "PREFECT_API_URL=http://127.0.0.1:4200/api, or `prefect cloud login`"
        )
    if "api.prefect.cloud" in url:
        return f"Prefect Cloud ({url})"
    return f"the Prefect server at {url}"


def require_image(env_var: str = "ODDS_IMAGE") -> dict[str, str]:
    """Build step of the ECS deployments: refuse to deploy without an image (`prefect deploy` would otherwise
    register `image: ''`, and every run would fail on ECS long after). Returns `{"image": ...}`."""
    image = os.environ.get(env_var, "").strip()
    if not image:
        raise ConfigError(f"{env_var} is not set: build and push the image first, then "
                          f"`{env_var}=<registry>/odds-pipeline:<tag> prefect deploy ...` (docs/DEPLOYMENT.md)")  # fmt: skip
    if any(c.isspace() for c in image) or image.endswith((":", "/")) or "{{" in image:
        raise ConfigError(
            f"{env_var}={image!r} is not an image reference like <registry>/odds-pipeline:<tag>"
        )
    return {"image": image}


def load_secret_blocks(variables: list[str] | None = None) -> dict[str, list[str]]:
    """Pull step: fill unset secret environment variables from the Prefect Secret blocks naming them.

    For each `VAR` (default `ODDS_API_KEY`, `DATABASE_URL`) that is unset and has `VAR_SECRET_BLOCK` set,
    load that Secret block and export its value for the flow run in this process. Returns the names of
    the variables filled (never values). A variable already set (e.g. from ECS task-definition secrets)
    wins over the block.
    """
    from prefect.blocks.system import Secret

    filled = []
    for var in variables or list(SECRET_ENV_VARS):
        block = os.environ.get(f"{var}_SECRET_BLOCK")
        if not block or os.environ.get(var):
            continue
        value = Secret.load(block, _sync=True).get()  # type: ignore[call-arg]
        if not isinstance(value, str) or not value:
            raise ConfigError(f"Secret block {block!r} for {var} is empty or not a string")
        os.environ[var] = value
        filled.append(var)
    if filled:
        from odds_models.settings import get_settings

        get_settings.cache_clear()
    return {"filled": filled}


def _specs_table(specs: list[DeploymentSpec]) -> Table:
    table = Table(title="prefect.yaml deployments")
    key_column(table, "name")  # `prefect deployment run FLOW/NAME` and `--only NAME` take it whole
    key_column(table, "entrypoint")
    for column in ("schedule", "pool", "tags"):
        table.add_column(column)
    for spec in specs:
        table.add_row(
            spec.name, spec.entrypoint, _schedule_text(spec), spec.work_pool or "", ", ".join(spec.tags)
        )
    return table


def _schedule_text(spec: DeploymentSpec) -> str:
    if not spec.schedules:
        return "manual" if spec.manual else "-"
    parts = []
    for s in spec.schedules:
        if "cron" in s:
            parts.append(f"cron {s['cron']}")
        elif "interval" in s:
            parts.append(f"every {timedelta(seconds=float(s['interval']))}")
        else:
            parts.append(json.dumps(s))
    return "; ".join(parts)


_ONLY_HELP = "Serve only this deployment (repeatable), e.g. --only fetch-odds-tick."
_CONFIG_HELP = "The prefect.yaml to read (default: ./prefect.yaml, else the project's)."


@app.command("list")
def list_command(
    config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
    as_json: JsonOption = False,
) -> None:
    """List the deployments of prefect.yaml with their schedules, pools and tags."""
    specs = load_deployment_specs(config)
    if as_json:
        emit_json(
            [
                {
                    "name": s.name,
                    "entrypoint": s.entrypoint,
                    "schedules": s.schedules,
                    "parameters": s.parameters,
                    "tags": s.tags,
                    "work_pool": s.work_pool,
                    "manual": s.manual,
                }
                for s in specs
            ]
        )
        return
    console.print(_specs_table(specs))


@app.command("start")
def start_command(
    only: list[str] | None = typer.Option(None, "--only", help=_ONLY_HELP),
    config: Path | None = typer.Option(None, "--config", help=_CONFIG_HELP),
    limit: int | None = typer.Option(
        None, "--limit", min=1, help="Maximum flow runs executing at once (default: unlimited)."
    ),
    skip_manual: bool = typer.Option(
        False, "--skip-manual", help="Do not register the manual-only deployments."
    ),
) -> None:
    """Serve every deployment (or --only some) until interrupted; runs execute as subprocesses."""
    path = (config or default_config_path()).resolve()
    specs = select_specs(load_deployment_specs(path), only)
    if skip_manual:
        specs = [s for s in specs if not s.manual]
    if not specs:
        raise typer.BadParameter("no deployment left to serve", param_hint="--skip-manual")
    api = describe_api()
    # Entry points are relative to prefect.yaml; served runs start in this process's working directory.
    os.chdir(path.parent)
    deployments = build_runner_deployments(specs, root=path.parent)
    console.print(
        f"Serving {len(deployments)} deployment(s) against {api}. "
        "Trigger one with: prefect deployment run FLOW/DEPLOYMENT. Ctrl-C stops (schedules are paused)."
    )
    from prefect import serve

    from odds_models.runtime import freeze_startup_objects

    # A long-running process: its start-up (every flow's modules, loaded above) is frozen once, out of the
    # collector's full walks; each flow run is its own process and freezes its own start-up.
    freeze_startup_objects()
    serve(*deployments, limit=limit, print_starting_message=False)
