"""`odds scheduler start` serves prefect.yaml deployments that `prefect deployment run` completes (must-show 2).

Starts the replay service (the local stand-in for The Odds API) on loopback and `odds scheduler start --only
sync-events --only pipeline-summary` as a subprocess against the session's test Prefect server, triggers
`sync-events/sync-events` with `prefect deployment run --watch`, and checks the run completed and stored the
replayed games in PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.engine,
    pytest.mark.slow,
    pytest.mark.db,
    pytest.mark.usefixtures("prefect_harness"),
]

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "sync-events/sync-events"


def _api_url() -> str:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    assert url, "the prefect_harness fixture did not set an API URL"
    return url


def _env(db: str, tmp_path: Path, replay_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(replay_env)
    env.update(
        PREFECT_API_URL=_api_url(),
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_RUNNER_POLL_FREQUENCY="1",  # pick the triggered run up within a second
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="INFO",
        DO_NOT_TRACK="1",
        DATABASE_URL=db,
        ODDS_HOME=str(tmp_path / "odds-home"),
    )
    return env


def _wait_for_deployment(deadline: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"scheduler exited early:\n{log.read_text()}"
            try:
                client.read_deployment_by_name(DEPLOYMENT)
                return
            except Exception:
                time.sleep(0.5)
    pytest.fail(f"deployment {DEPLOYMENT} never appeared:\n{log.read_text()}")


@pytest.fixture
def replay_env() -> Iterator[dict[str, str]]:
    """The replay app on a loopback port, simulating a slate around today; yields the settings env."""
    from odds_models.clock import now
    from replay.app import DEMO_API_KEY, create_app
    from replay.server import ReplayServer
    from replay.simulate import SimulatedSource

    with ReplayServer(create_app(SimulatedSource(seed=3, start=now().date()))) as server:
        yield server.settings_env(DEMO_API_KEY)


def test_scheduler_serves_and_deployment_run_completes(
    db: str, tmp_path: Path, replay_env: dict[str, str]
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    from odds_models.db import run_coro_blocking
    from tasks.storage.notebook import read_events

    env = _env(db, tmp_path, replay_env)
    log = tmp_path / "scheduler.log"
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "odds_cli.main", "scheduler", "start", "--only", "sync-events",
             "--only", "pipeline-summary"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_for_deployment(started + 60, proc, log)
        registered = time.monotonic()
        prefect_cli = Path(sys.executable).with_name("prefect")
        run = subprocess.run(
            [str(prefect_cli), "deployment", "run", DEPLOYMENT, "--watch", "--watch-timeout", "60"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
        output = run.stdout + run.stderr
        assert run.returncode == 0, f"{output}\n--- scheduler ---\n{log.read_text()}"
        assert "Completed" in output
        print(
            f"scheduler serving after {registered - started:.1f} s; run completed {time.monotonic() - registered:.1f} s later"
        )

        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["sync-events"]))
            )
            assert [r.state_type.value for r in runs] == ["COMPLETED"]
            served = client.read_deployment_by_name("pipeline-summary/pipeline-summary")
            assert [s.schedule.cron for s in served.schedules] == ["7 * * * *"]
        # the served run reached the replayed Odds API and wrote the games
        events = run_coro_blocking(read_events())
        assert len(events) > 0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert time.monotonic() - started < 90


async def test_ecs_pull_step_fills_secrets_from_a_secret_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pull step the ECS deployments run, through Prefect's step runner, against a real Secret block."""
    from prefect.blocks.system import Secret
    from prefect.deployments.steps.core import run_step

    block = f"odds-api-key-test-{os.getpid()}"
    await Secret(value="k-from-block").save(block, overwrite=True)
    monkeypatch.setenv("ODDS_API_KEY_SECRET_BLOCK", block)
    monkeypatch.delenv("DATABASE_URL_SECRET_BLOCK", raising=False)
    monkeypatch.delenv("ODDS_API_KEY", raising=False)

    outputs = await run_step({"odds_cli.scheduler.load_secret_blocks": {}})

    assert outputs == {"filled": ["ODDS_API_KEY"]}
    assert os.environ["ODDS_API_KEY"] == "k-from-block"
    monkeypatch.delenv("ODDS_API_KEY")
