"""How long `odds scheduler start` takes before it can serve: reading prefect.yaml, importing every flow
module, building every RunnerDeployment (no Prefect server needed for this part).

    uv run python benchmarks/bench_scheduler_startup.py

Each step runs in a fresh interpreter so import caches do not flatter later steps.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STEPS = {
    "import odds_cli.main (odds --help)": "import odds_cli.main",
    "read prefect.yaml": ("from odds_cli.scheduler import load_deployment_specs; load_deployment_specs()"),
    "read + build every deployment": (
        "from odds_cli.scheduler import load_deployment_specs, build_runner_deployments; "
        "d = build_runner_deployments(load_deployment_specs()); assert len(d) > 10"
    ),
}


def _time(code: str, repeats: int = 3) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    baseline = min(_time("pass"))
    print(f"interpreter start: {baseline:.2f} s (subtracted below)")
    for label, code in STEPS.items():
        times = _time(code)
        print(f"{label:40s} best {min(times) - baseline:5.2f} s   worst {max(times) - baseline:5.2f} s")


if __name__ == "__main__":
    main()
