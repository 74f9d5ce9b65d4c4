"""`odds demo`: the whole pipeline, offline, against the replay service (the README's main command)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from odds_cli.common import console, emit_json

__all__ = ["register"]


def demo_command(  # noqa: PLR0917 - typer options
    seed: int = typer.Option(7, "--seed", help="Seed of the simulated slate (same seed, same data)."),
    days: int = typer.Option(2, "--days", min=1, max=14, help="Simulated game days to play."),
    source: str = typer.Option("simulated", "--source", help="simulated, or recorded (needs --path)."),
    path: Path | None = typer.Option(None, "--path", help="Folder of historical Odds API files (recorded)."),
    faults: bool = typer.Option(
        False, "--faults", help="Inject 429s, 5xx, timeouts, cut bodies, schema drift."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Database for the demo (default: odds_demo on the embedded server)."
    ),
    report_dir: Path | None = typer.Option(None, "--report-dir", help="Where to write the report."),
    no_analysis: bool = typer.Option(False, "--no-analysis", help="Skip backtest and model flows."),
    reset: bool = typer.Option(False, "--reset", help="Empty the demo database first."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """Run the real flows through Prefect against a local stand-in of the three APIs; print a report."""
    import logging

    from replay.stage import DemoOptions, launch_demo_prefect

    if source not in ("simulated", "recorded"):
        raise typer.BadParameter("must be simulated or recorded", param_hint="--source")
    if source == "recorded" and path is None:
        raise typer.BadParameter("--source recorded needs a folder", param_hint="--path")
    # the demo's own Prefect server boots in its own process while this one imports the flows and starts
    # the database (replay.prefect_server); the stage waits for it before the first flow run
    launch_demo_prefect()
    from flows.demo import run_demo

    for name in ("prefect", "httpx", "tasks", "flows"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # progress (each stage's flow runs and simulated ticks) goes to stderr: odds_models.progress
    from odds_cli.main import STARTED_AT

    started = time.perf_counter() - STARTED_AT  # imports (the flows, Prefect, pandas...) before the demo
    result = run_demo(
        DemoOptions(seed=seed, days=days, source=source, path=path, faults=faults, database_url=database_url,
                    report_dir=report_dir, analysis=not no_analysis, reset=reset)
    )  # fmt: skip
    counts = result.figures["counts"]
    if as_json:
        emit_json({"counts": counts, "replay": result.replay, "steps": result.steps,  # timing: steps["timing"]
                   "wall_seconds": result.wall_seconds, "startup_seconds": round(started, 1),
                   "report": str(result.report_path)})  # fmt: skip
        return
    console.print(f"[bold]odds demo[/bold]: {result.source} data, {result.simulated_start:%Y-%m-%d %H:%M} → "
                  f"{result.simulated_end:%Y-%m-%d %H:%M} UTC simulated in {result.wall_seconds:.0f} s")  # fmt: skip
    console.print(f"  events {counts['events']}, snapshots {counts['odds_snapshots']}, odds rows {counts['odds']}, "
                  f"polymarket markets {counts['polymarket_markets']}, prices {counts['polymarket_price_snapshots']}, "
                  f"books {counts['polymarket_orderbook_snapshots']}")  # fmt: skip
    console.print(f"  credits spent {result.replay['credits_used']} ({result.replay['credits_by_route']}); "
                  f"data-quality findings {counts['data_quality_logs']}; links {result.figures['links']}")  # fmt: skip
    if result.replay.get("faults_injected"):
        console.print(f"  faults injected: {result.replay['faults_injected']}")
    console.print(f"  flows: {dict(result.steps['runs'])}")
    for name, why in result.steps.get("skipped", {}).items():
        console.print(f"  skipped {name}: {why}")
    for failure in result.steps["failures"][:5]:
        console.print(
            f"  [yellow]failed[/yellow] {failure['flow']} at {failure['at'][:16]}: {failure['error']}"
        )
    from odds_analytics.demo_report import model_summary_lines

    for line in model_summary_lines(result.steps.get("results", {})):
        console.print(f"  {line}", markup=False)
    console.print(f"  report: {result.report_path}")
    from odds_analytics.demo_report import timing_rows

    console.print(f"  where the time went ({started + result.wall_seconds:.0f} s since `odds` started):",
                  markup=False)  # fmt: skip
    rows = [("odds start-up: imports, the demo's Prefect server launched", "", started)]
    for name, runs, seconds in rows + timing_rows(result.steps):
        console.print(f"    {name:<58} {runs:>5} {seconds:>7.1f} s", markup=False, highlight=False)
    from odds_models.db import hide_password

    console.print(f"  data: {hide_password(result.database_url)} (look at it with DATABASE_URL=<that url> "
                  "uv run odds status show)")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
