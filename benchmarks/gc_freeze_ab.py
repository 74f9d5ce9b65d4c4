"""The start-up freeze (`odds_models/runtime.py`) against none, interleaved, on the backtest benchmark's data.

    uv run python benchmarks/gc_freeze_ab.py --rounds 2 --scales 1,2,4
    BENCH_GC_TRACE=1 uv run python benchmarks/gc_freeze_ab.py --rounds 1 --scales 1   # where each full GC falls

Needs the database `benchmarks/backtest.py` loaded (the same `BENCH_DATABASE_URL` or embedded folder). Each
(round, scale, mode) is one process of that benchmark's linearity measurement (a staged backtest, then the
timed one), with `BENCH_FREEZE=none` or the freeze, the two modes one after the other in each round and scale
so that load drift hits both alike. Prints per process: wall and client CPU per game of the timed backtest, its
full collections (count and time) and the staged backtest's. With `BENCH_GC_TRACE=1`, each child's trace lines
(stderr) follow it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import backtest as bench  # noqa: E402 - the benchmark's own helpers, from this folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scales", default="1,2,4")
    parser.add_argument("--events", type=int, default=1230, help="games in a season")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    url = bench._bench_url()
    dates = asyncio.run(bench._game_dates(url))
    if len(dates) < args.events * max(scales):
        raise SystemExit(
            f"{len(dates)} games loaded: run benchmarks/backtest.py --scales {args.scales} first"
        )
    from odds_models.db import database_name

    out = Path(tempfile.mkdtemp(prefix="odds-bench-ab-"))
    print(f"machine: {bench._load_text()}")
    for r in range(args.rounds):
        for k in scales:
            start, end = bench._window(dates, args.events * k)
            for mode in ("none", "freeze"):
                spec = {"url": url, "database": database_name(url), "runs": 1, "sample": 0, "method": "new",
                        "stages": True, "start": start.isoformat(), "end": end.isoformat(),
                        "out": str(out / f"{mode}{k}.pkl")}  # fmt: skip
                load = os.getloadavg()[0]
                proc = subprocess.run([sys.executable, str(HERE / "backtest.py"), "--child", json.dumps(spec)],
                                      capture_output=True, text=True, cwd=HERE.parent, check=False,
                                      env={**os.environ, "BENCH_FREEZE": mode})  # fmt: skip
                if proc.returncode != 0:
                    raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                run, games = res["runs"][0], res["runs"][0]["games"]
                clock = run["clock"]
                staged_n = sum(v.get("full_gcs", 0) for v in res["stages"].values())
                staged_ms = sum(v.get("full_gc_s", 0.0) for v in res["stages"].values()) * 1e3
                print(f"round {r + 1} {k}x {mode:6s} load {load:5.2f}: wall {run['total_s'] / games * 1e3:.3f} ms "
                      f"per game, client CPU {clock['cpu_s'] / games * 1e3:.3f}, GC {clock['gc_s'] / games * 1e3:.3f};"
                      f" full collections {clock['full_gcs']} ({clock['full_gc_s'] * 1e3:.1f} ms), in the staged "
                      f"backtest {staged_n:.0f} ({staged_ms:.1f} ms); peak RSS {res['rss'] >> 20} MiB",
                      flush=True)  # fmt: skip
                for line in proc.stderr.splitlines():
                    if line.startswith(("full GC", "  window")):
                        print("    " + line)
    print(f"machine after: {bench._load_text()}")


if __name__ == "__main__":
    main()
