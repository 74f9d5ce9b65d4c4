"""The demo's rows and flow runs, fingerprinted, and its Prefect API requests counted: to compare two versions.

    uv run python benchmarks/demo_rows.py --out /tmp/a.json [--seed 7] [--days 2]
    uv run python benchmarks/demo_rows.py --out /tmp/b.json --compare /tmp/a.json    # exit 1 if they differ

Runs the demo (`run_demo`, the code `odds demo` runs) into an emptied `odds_demo` database with every stored
row's key read back (`DemoOptions(fingerprints=True)`), and writes: the row count and a SHA-256 of the sorted
rows of every fingerprinted table, the counts of `odds demo`'s table, the flow runs per flow (the demo's own
count, and the flow runs its Prefect server holds), and the Prefect API requests this process sent (an httpx
hook: method and route, ids replaced by `{id}`), per flow run. With `--compare`, every table, count and
flow-run figure must equal the other file's (the request counts and the seconds may differ).
"""

from __future__ import annotations

import argparse
import atexit
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.pop("ODDS_API_KEY", None)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

_ID = re.compile(r"/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REQUESTS: Counter[str] = Counter()


def _count_prefect_requests() -> None:
    """Count every request this process sends to a Prefect API (`/api/...` on loopback)."""
    original = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        path = request.url.path
        if path.startswith("/api/") and request.url.host == "127.0.0.1":
            REQUESTS[f"{request.method} {_ID.sub('/{id}', path)}"] += 1
        return await original(self, request, **kwargs)

    httpx.AsyncClient.send = send  # type: ignore[method-assign]


def _digest(rows: list[Any]) -> str:
    text = json.dumps(sorted(rows, key=repr), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _prefect_flow_runs(home: Path | None) -> dict[str, int]:
    """Flow runs per flow name in the demo's Prefect server database (SQLite, read after the demo)."""
    import sqlite3
    from contextlib import closing

    if home is None or not (home / "prefect.db").exists():
        return {}
    with closing(sqlite3.connect(home / "prefect.db")) as db:
        rows = db.execute(
            "SELECT flow.name, count(*) FROM flow_run JOIN flow ON flow.id = flow_run.flow_id GROUP BY 1"
        ).fetchall()
    return dict(sorted(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--compare", type=Path)
    parser.add_argument(
        "--send-events",
        action="store_true",
        help="send the demo's Prefect events to its server (as before issue 17's last change)",
    )
    args = parser.parse_args()
    _count_prefect_requests()

    import tempfile

    import replay.stage
    from flows.demo import run_demo
    from replay.stage import DemoOptions, launch_demo_prefect

    replay.stage.SEND_EVENTS = args.send_events

    prefect_home = Path(tempfile.mkdtemp(prefix="demo-rows-prefect-"))
    atexit.register(shutil.rmtree, prefect_home, ignore_errors=True)  # runs after the server's stop (LIFO)
    launch_demo_prefect(prefect_home)
    began = time.perf_counter()
    result = run_demo(
        DemoOptions(seed=args.seed, days=args.days, reset=True, fingerprints=True, prefect_home=prefect_home)
    )
    wall = time.perf_counter() - began
    tables = {
        table: {
            "rows": len(found["rows"]),
            "duplicates": found["duplicates"],
            "sha256": _digest(found["rows"]),
        }
        for table, found in sorted(result.figures["fingerprints"].items())
    }
    runs = dict(sorted(result.steps["runs"].items()))
    prefect_runs = _prefect_flow_runs(result.prefect_home)
    total_runs = sum(prefect_runs.values())
    out = {
        "seed": args.seed,
        "send_events": args.send_events,
        "days": args.days,
        "tables": tables,
        "counts": result.figures["counts"],
        "flow_runs": runs,
        "flow_runs_total": sum(runs.values()),
        "prefect_flow_runs": prefect_runs,
        "failures": result.steps["failures"],
        "wall_seconds": round(wall, 1),
        "prefect_requests": sum(REQUESTS.values()),
        "prefect_requests_per_flow_run": round(sum(REQUESTS.values()) / max(total_runs, 1), 2),
        "requests_by_route": dict(REQUESTS.most_common()),
    }
    args.out.write_text(json.dumps(out, indent=1, default=str))
    print(f"{out['flow_runs_total']} flow runs of the recipe, {total_runs} in the Prefect server "
          f"(with `demo` and `demo-report`); {len(tables)} tables fingerprinted; {wall:.1f} s; "
          f"{out['prefect_requests']} Prefect API requests ({out['prefect_requests_per_flow_run']} a flow run)")  # fmt: skip
    for route, n in REQUESTS.most_common(12):
        print(f"  {n:>6}  {route}")
    if args.compare is None:
        return 0
    old = json.loads(args.compare.read_text())
    differ = [key for key in ("tables", "counts", "flow_runs", "prefect_flow_runs", "failures")
              if old[key] != out[key]]  # fmt: skip
    for key in differ:
        for name in sorted(set(old[key]) | set(out[key])) if isinstance(out[key], dict) else [key]:
            a = old[key].get(name) if isinstance(old[key], dict) else old[key]
            b = out[key].get(name) if isinstance(out[key], dict) else out[key]
            if a != b:
                print(f"DIFFERS {key} {name}: {a} -> {b}")
    print("identical" if not differ else f"DIFFERENT: {', '.join(differ)}")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
