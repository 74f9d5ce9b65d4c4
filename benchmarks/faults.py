"""Fault campaign: the real flows against the replay service with injected faults, compared with a clean run.

    uv run python benchmarks/faults.py [--runs 5] [--plans transport,mixed] [--seed 3] [--hours 6]

Each run plays the same simulated span (the demo's recipe: event sync, odds ticks, scores, Polymarket
discovery, polls, links and both backfills) into its own emptied database (`odds_faults` on the embedded
server), through the Prefect engine and the replay service on loopback. The first run is clean; every
other run injects faults (429 with Retry-After, 5xx, stalled responses past the client timeout, bodies cut
mid-transfer, unknown fields, missing optional fields). Printed per run: faults injected by kind, requests,
rows compared, rows lost / extra / duplicated per table, The Odds API credits the replay's ledger charged
against the credits `fetch_logs` counted (they must be equal: every attempt of every paid call is counted,
including cut bodies, timeouts after the charge and responses that could not be stored), and every failure
message with a check that it is one clear line (names the API and endpoint, no traceback, no key).

After every faulty run, once the faults stop, a **second Polymarket backfill pass** runs against the same
database and the same slate (same seed, faults off, the clock at the span's end, as the demo's own backfill):
a token whose history window kept failing (a `BackfillOverdue` line, the watermark left behind) must then be
filled. Printed: the backfill points the clean run stored that the faulty run lacked, before and after the
second pass, and the tokens whose watermark still lags the clean run's; the check is 0 missing after it.

The "payload" run cuts bodies into broken JSON with a valid HTTP framing. The last ("history-outage") makes
`/prices-history` answer 5xx most of the time with no bound on the faults in a row, so the first backfill
leaves tokens behind for certain and the second pass has something to fill. The HTTP layer treats a 2xx
whose body is not JSON as a cut transfer: it retries, and only a body that stays broken becomes a
`PayloadError` (a clear one-line failure, nothing written).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.pop("ODDS_API_KEY", None)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.demo import run_demo
from flows.polymarket import backfill_polymarket_history
from odds_models.db import create_database_if_missing
from replay.simulate import SimulatedSource
from replay.stage import DemoOptions, DemoStage, demo_database_url, move_clock

SENTINEL = "SENTINEL-faults-campaign-key"
PLANS: list[tuple[str, str]] = [
    ("transport", "*:429=0.10,5xx=0.10,timeout=0.02,truncated=0.06,retry_after=0,timeout_seconds=1.5"),
    ("drift", "*:extra=0.30,missing=0.30"),
    ("mixed", "*:429=0.06,5xx=0.05,timeout=0.01,truncated=0.04,extra=0.08,missing=0.05,latency=2,"
              "retry_after=0,timeout_seconds=1.5"),
    ("payload", "/oddsapi/*:truncated=0.05,truncate_mode=body;/clob/*:truncated=0.03,truncate_mode=body"),
    # a history outage: /prices-history answers 5xx far more often than the client retries (no bound on the
    # faults in a row), so some tokens' windows stay unfetched, the backfill fails (`BackfillOverdue`) and
    # their watermarks stay behind until the second pass
    ("history-outage", "/clob/prices-history:5xx=0.8,max_consecutive=100,retry_after=0"),
]  # fmt: skip


def _compare(clean: dict[str, Any], other: dict[str, Any]) -> dict[str, dict[str, int]]:
    out = {}
    for table, found in other.items():
        a, b = set(clean[table]["rows"]), set(found["rows"])
        out[table] = {"rows": len(found["rows"]), "lost": len(a - b), "extra": len(b - a),
                      "duplicated": found["duplicates"]}  # fmt: skip
    return out


async def _fetch_log_errors(url: str) -> list[tuple[str, str, int | None, int, str]]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT api, endpoint, status_code, attempts, error FROM fetch_logs WHERE error IS NOT NULL"
        )
        return [(r["api"], r["endpoint"], r["status_code"], r["attempts"], r["error"]) for r in rows]
    finally:
        await conn.close()


async def _logged_credits(url: str) -> tuple[int, int]:
    """(Odds API credits in fetch_logs, credit reservations never settled)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        row = await conn.fetchrow(
            "SELECT COALESCE(sum(cost), 0) AS credits, count(*) FILTER (WHERE settled_at IS NULL) AS open "
            "FROM fetch_logs WHERE api = 'oddsapi'"
        )
        return int(row["credits"]), int(row["open"])
    finally:
        await conn.close()


async def _retried(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM fetch_logs WHERE attempts > 1"))
    finally:
        await conn.close()


def _backfill_points(fingerprints: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The Polymarket history points the backfill stored (token, source, time, price, bid, ask)."""
    return {r for r in fingerprints["polymarket_price_snapshots"]["rows"] if r[1] == "backfill"}


async def _watermarks(url: str) -> dict[str, str | None]:
    """Each token's backfill watermark (covered_to, ISO), or None where none was recorded."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT token_id, covered_to FROM polymarket_backfill_watermarks")
        return {r["token_id"]: r["covered_to"].isoformat() if r["covered_to"] else None for r in rows}
    finally:
        await conn.close()


async def _fingerprints() -> dict[str, Any]:
    from odds_models.db import async_session_maker
    from tasks.storage.demo_figures import read_table_fingerprints

    async with async_session_maker() as session:
        return await read_table_fingerprints(session=session)


def second_backfill(options: DemoOptions) -> tuple[str | None, dict[str, Any]]:
    """The Polymarket backfill again once the faults have stopped: the same slate and database, no faults,
    no reset, the clock at the span's end (as the demo's own backfill). Returns (its failure or None, the
    tables' fingerprints after it)."""
    options = dataclasses.replace(options, faults=False, fault_spec=None, reset=False)
    with DemoStage(options) as stage:
        move_clock(stage.end)

        async def backfill() -> str | None:
            try:
                await backfill_polymarket_history(lookback_days=options.days)
            except Exception as exc:  # reported in the campaign's output, one line
                return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            return None

        error = stage.run(backfill())
        return error, stage.run(_fingerprints())


def _clear(message: str) -> bool:
    """One line, names an API or flow, no traceback, no key."""
    return (
        "\n" not in message.strip()
        and "Traceback" not in message
        and SENTINEL not in message
        and len(message) < 400
        and any(word in message for word in ("oddsapi", "gamma", "clob", "/", "Error", "error"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--runs", type=int, default=None, help="faulty runs (cycling through the plans; default one per plan)"
    )
    parser.add_argument("--plans", default="", help="only these plans, comma-separated (e.g. history-outage)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--hours", type=float, default=6.0, help="simulated span from 21:30 UTC")
    args = parser.parse_args()
    chosen = [p for p in PLANS if not args.plans or p[0] in args.plans.split(",")]
    if not chosen:
        parser.error(f"--plans: none of {args.plans!r} among {', '.join(n for n, _ in PLANS)}")

    os.environ["ODDS_API_KEY"] = SENTINEL  # the key must surface in no message
    base = demo_database_url(os.environ.get("FAULTS_DATABASE_URL") or None)
    url = urlunsplit(urlsplit(base)._replace(path="/odds_faults"))
    create_database_if_missing(url)
    start = SimulatedSource(seed=args.seed).default_start() + timedelta(hours=9, minutes=30)
    report_root = Path(os.environ.get("TMPDIR", "/tmp")) / "odds-faults"

    def options(name: str, spec: str | None) -> DemoOptions:
        return DemoOptions(
            seed=args.seed, database_url=url, report_dir=report_root / name, analysis=False, start=start,
            hours=args.hours, pm_lead_hours=6.0, reset=True, fingerprints=True, faults=spec is not None, fault_spec=spec,
        )  # fmt: skip

    def run(name: str, spec: str | None, seed: int) -> Any:
        began = time.perf_counter()
        result = run_demo(options(name, spec))
        result.options["fault_seed"] = seed
        return result, time.perf_counter() - began

    clean, clean_seconds = run("clean", None, 0)
    base = clean.figures["fingerprints"]
    clean_points = _backfill_points(base)
    clean_marks = asyncio.run(_watermarks(url))
    logged, unsettled = asyncio.run(_logged_credits(url))
    print(
        f"clean run: {clean.replay['requests']} requests, {sum(len(v['rows']) for v in base.values())} rows in "
        f"{len(base)} tables, failures {len(clean.steps['failures'])}, {clean_seconds:.0f} s"
    )
    print(
        f"  credits: ledger {clean.replay['credits_used']}, fetch_logs {logged}, unsettled reservations {unsettled}"
    )
    totals = {"runs": 0, "faults": 0, "requests": 0, "rows_compared": 0, "lost": 0, "extra": 0, "duplicated": 0,
              "failures": 0, "unclear": 0, "credits_charged": 0, "credits_logged": 0,
              "backfill_missing_after_faults": 0, "backfill_missing_after_second_pass": 0,
              "watermarks_behind_after_second_pass": 0, "second_pass_failures": 0}  # fmt: skip
    for i in range(args.runs if args.runs is not None else len(chosen)):
        name, spec = chosen[i % len(chosen)]
        result, seconds = run(f"{name}-{i}", spec, i)
        diff = _compare(base, result.figures["fingerprints"])
        errors = asyncio.run(_fetch_log_errors(url))
        retried = asyncio.run(_retried(url))
        logged, unsettled = asyncio.run(_logged_credits(url))
        charged = result.replay["credits_used"]
        messages = [f["error"] for f in result.steps["failures"]] + [e[4] for e in errors]
        unclear = [m for m in messages if not _clear(m)]
        injected = result.replay["faults_injected"]
        lost = sum(d["lost"] for d in diff.values())
        extra = sum(d["extra"] for d in diff.values())
        duplicated = sum(d["duplicated"] for d in diff.values())
        compared = sum(d["rows"] for d in diff.values())
        print(f"\nrun {i + 1} [{name}] {spec}")
        print(f"  {result.replay['requests']} requests, faults injected {sum(injected.values())} {injected}, "
              f"calls retried {retried}, {seconds:.0f} s")  # fmt: skip
        print(f"  rows compared {compared}: lost {lost}, extra {extra}, duplicated {duplicated}")
        print(f"  credits: ledger {charged} ({result.replay['credits_by_route']}), fetch_logs {logged}"
              f"{'' if logged == charged else ' MISMATCH'}, unsettled reservations {unsettled}")  # fmt: skip
        for table, d in diff.items():
            if d["lost"] or d["extra"] or d["duplicated"]:
                print(f"    {table}: {d}")
        print(f"  failures {len(messages)} (flow failures {len(result.steps['failures'])}, failed calls "
              f"{len(errors)}), unclear {len(unclear)}")  # fmt: skip
        for message in sorted(set(messages))[:6]:
            print(f"    - {message[:200]}")
        for message in unclear[:3]:
            print(f"    UNCLEAR: {message[:300]!r}")
        # the second backfill pass, the faults stopped: every point the faults kept out must now be stored
        missing_before = len(clean_points - _backfill_points(result.figures["fingerprints"]))
        marks_before = asyncio.run(_watermarks(url))
        behind_before = sorted(t for t, m in clean_marks.items() if marks_before.get(t) != m)
        began = time.perf_counter()
        error, healed = second_backfill(options(f"{name}-{i}", spec))
        missing_after = len(clean_points - _backfill_points(healed))
        marks_after = asyncio.run(_watermarks(url))
        behind_after = sorted(t for t, m in clean_marks.items() if marks_after.get(t) != m)
        after_diff = _compare(base, healed)
        print(f"  second backfill pass (faults off, seed {args.seed}, {time.perf_counter() - began:.0f} s): "
              f"{'ok' if error is None else 'FAILED: ' + error}; backfill points missing {missing_before} -> "
              f"{missing_after} (of {len(clean_points)}); watermarks behind the clean run {len(behind_before)} -> "
              f"{len(behind_after)}; duplicated {sum(d['duplicated'] for d in after_diff.values())}"
              f"{'' if missing_after == 0 and not behind_after and error is None else '  CHECK FAILED'}")  # fmt: skip
        totals["backfill_missing_after_faults"] += missing_before
        totals["backfill_missing_after_second_pass"] += missing_after
        totals["watermarks_behind_after_second_pass"] += len(behind_after)
        totals["second_pass_failures"] += error is not None
        totals["duplicated"] += sum(d["duplicated"] for d in after_diff.values())
        totals["runs"] += 1
        totals["faults"] += sum(injected.values())
        totals["requests"] += result.replay["requests"]
        totals["rows_compared"] += compared
        totals["lost"] += lost
        totals["extra"] += extra
        totals["duplicated"] += duplicated
        totals["failures"] += len(messages)
        totals["unclear"] += len(unclear)
        totals["credits_charged"] += charged
        totals["credits_logged"] += logged
    print("\nsummary:")
    print("  " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    checks = {
        "no row duplicated": totals["duplicated"] == 0,
        "credits: ledger = fetch_logs": totals["credits_charged"] == totals["credits_logged"],
        "every failure one clear line": totals["unclear"] == 0,
        "second backfill pass: 0 backfill points missing": totals["backfill_missing_after_second_pass"] == 0,
        "second backfill pass: every watermark as in the clean run": totals["watermarks_behind_after_second_pass"] == 0,
        "second backfill pass: no failure": totals["second_pass_failures"] == 0,
    }  # fmt: skip
    print("checks: " + "; ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in checks.items()))
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
