"""What one flow run costs on the demo's Prefect server: wall, client CPU, server CPU and requests, per variant.

    uv run python benchmarks/prefect_overhead.py [--runs 40] [--rounds 3]

A parent flow calls `--runs` subflows, each with a dated `flow_run_name` and two trivial tasks (the demo's shape:
every flow of `odds demo` is a subflow of `demo`), against a fresh `DemoPrefectServer` (the demo's own server,
with `DEMO_SERVER_SETTINGS`). The variants run interleaved, each round on a new server, in a child process:

- `events`: the client sends its Prefect events (task-run states) to the server over the websocket;
- `null-events`: what `odds demo` does (`replay.stage.SEND_EVENTS = False`): Prefect's `NullEventsClient`, since
  the demo's server records no task runs or events.

Printed per variant and round: ms of wall per subflow run, ms of CPU in the client and in the server process,
and the Prefect API requests per subflow run by route (an httpx hook in the child).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from replay.prefect_server import DemoPrefectServer

CHILD = """
import asyncio, collections, json, os, re, resource, sys, time
import httpx
from prefect import flow, task
from prefect.settings import PREFECT_API_URL, temporary_settings

if os.environ.get("BENCH_NULL_EVENTS"):
    from prefect.events.clients import NullEventsClient
    from prefect.events.worker import EventsWorker
    EventsWorker.set_client_override(NullEventsClient)

REQUESTS = collections.Counter()
COUNTING = [False]
_send = httpx.AsyncClient.send
_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f-]{27}")

async def send(self, request, **kwargs):
    if COUNTING[0]:
        REQUESTS[request.method + " " + _ID.sub("/{id}", request.url.path)] += 1
    return await _send(self, request, **kwargs)

httpx.AsyncClient.send = send

@task
async def step(x: int) -> int:
    return x + 1

@flow(flow_run_name="bench sub {i}")
async def sub(i: int) -> int:
    return await step(i) + await step(i)

@flow
async def parent(n: int) -> None:
    for i in range(n):
        await sub(i)

with temporary_settings(updates={PREFECT_API_URL: sys.argv[1]}):
    asyncio.run(parent(2))  # warm: the flows registered, the client's imports done
    COUNTING[0] = True
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    asyncio.run(parent(int(sys.argv[2])))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
print(json.dumps({"wall": wall, "cpu": cpu, "requests": REQUESTS}))
"""

VARIANTS: dict[str, dict[str, str]] = {"events": {}, "null-events": {"BENCH_NULL_EVENTS": "1"}}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def run_variant(name: str, env: dict[str, str], runs: int, *, show_routes: bool = False) -> None:
    home = Path(tempfile.mkdtemp(prefix="prefect-overhead-"))
    server = DemoPrefectServer.launch(home).wait()
    try:
        assert server.process is not None
        load = _load()
        server_before = _cpu_seconds(server.process.pid)
        child = subprocess.run(
            [sys.executable, "-c", CHILD, server.api_url, str(runs)],
            capture_output=True, text=True, env={**os.environ, "PREFECT_LOGGING_LEVEL": "WARNING", **env},
            check=False,
        )  # fmt: skip
        server_cpu = _cpu_seconds(server.process.pid) - server_before
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    if child.returncode:
        print(f"{name}: failed\n{child.stderr[-2000:]}")
        return
    out = json.loads(child.stdout.strip().splitlines()[-1])
    requests = sum(out["requests"].values())
    print(f"{name:>12}: {out['wall'] / runs * 1000:6.1f} ms wall, client {out['cpu'] / runs * 1000:5.1f} ms CPU, "
          f"server {server_cpu / runs * 1000:6.1f} ms CPU, {requests / runs:.2f} requests per subflow run "
          f"(load {load} -> {_load()})")  # fmt: skip
    if show_routes:
        for route, count in sorted(out["requests"].items(), key=lambda kv: -kv[1]):
            print(f"{'':>14}{count / runs:5.2f}  {route}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="subflow runs per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for round_ in range(args.rounds):
        for name, env in VARIANTS.items():
            run_variant(name, env, args.runs, show_routes=round_ == 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
