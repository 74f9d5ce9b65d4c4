"""`odds fetch ...`: run the sportsbook flows once (the scheduler runs them on a cadence)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from odds_cli.common import console, emit_json, parse_date, run_db

app = typer.Typer(help="Fetch The Odds API data now: events, odds, scores, history.", no_args_is_help=True)


def _require_key() -> None:
    """Fail fast (exit 2) before any flow starts when there is no key."""
    from odds_models.errors import ConfigError
    from odds_models.settings import get_settings

    if not get_settings().api_key_value():
        raise ConfigError("ODDS_API_KEY is not set; set it in the environment or .env")


def _show(title: str, summary: dict[str, Any], json_output: bool) -> None:
    if json_output:
        emit_json(summary)
        return
    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        shown = ", ".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else str(value)
        table.add_row(key, shown)
    console.print(table)


def _blocked(summary: dict[str, Any]) -> None:
    status = str(summary.get("paid_call", ""))
    if status.startswith("blocked:"):
        from odds_models.errors import BudgetExceeded

        raise BudgetExceeded(status.removeprefix("blocked:").strip())


@app.command("current")
def current(
    force: Annotated[bool, typer.Option("--force", help="Call /odds even if no game is due.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Sync events (free), then one paid /odds call for the slate if some game is due in its tier."""
    from flows.odds import fetch_odds

    _require_key()

    summary = run_db(fetch_odds(force=force))
    _show("fetch current", summary, json_output)
    _blocked(summary)


@app.command("scores")
def scores(
    days_from: Annotated[int, typer.Option("--days-from", min=0, max=3,
                                           help="Include games completed up to N days ago (0: none; costs 2).")] = 1,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:  # fmt: skip
    """Fetch /scores and move games through scheduled → live → final (postponed/cancelled)."""
    from flows.odds import fetch_scores

    _require_key()

    summary = run_db(fetch_scores(days_from=days_from or None))
    _show("fetch scores", summary, json_output)
    _blocked(summary)


@app.command("events")
def events(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Sync upcoming games from /events (free)."""
    from flows.odds import sync_events

    _require_key()

    _show("fetch events", run_db(sync_events()), json_output)


@app.command("backfill")
def backfill(  # noqa: PLR0917 - typer options
    start: Annotated[str, typer.Option("--start", help="First game date, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last game date, YYYY-MM-DD.")],
    budget: Annotated[int, typer.Option("--budget", min=0, help="Credits this backfill may spend.")] = 1000,
    offsets: Annotated[
        str, typer.Option("--offsets", help="Hours before tip to fill, comma list.")
    ] = "24,12,3,0.5",
    yes: Annotated[bool, typer.Option("--yes", help="Spend without asking after printing the plan.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Plan a history backfill, print its cost, then (after confirmation) spend within the budget."""
    from flows.odds import backfill_odds_history
    from odds_cli.common import parse_hours_list

    _require_key()

    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    if first is None or last is None:
        raise typer.BadParameter("--start and --end are required")
    if last < first:
        raise typer.BadParameter("--end is before --start", param_hint="--end")
    hours = parse_hours_list(offsets, "--offsets")
    plan = run_db(backfill_odds_history(first, last, budget, hours, dry_run=True))
    _show("backfill plan", plan["plan"], json_output)
    if not plan["plan"]["calls"]:
        return
    if not yes and not typer.confirm(f"Spend {plan['plan']['credits']} credits?"):
        typer.echo("error: not confirmed; nothing was spent", err=True)
        raise typer.Exit(1)
    _show("backfill", run_db(backfill_odds_history(first, last, budget, hours)), json_output)
