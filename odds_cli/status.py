"""`odds status ...`: what is in the database and how fresh it is."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from odds_cli.common import console, emit_json, run_async

app = typer.Typer(help="Database contents, freshness and API quota.", no_args_is_help=True)


@app.command("show")
def show(json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Row counts per table, the newest snapshot times, and the database in use (password hidden)."""
    from odds_models.db import dispose_engine, hide_password, resolve_database_url
    from odds_models.migrate import current_revision
    from tasks.storage.status import database_overview

    url = resolve_database_url()
    revision = current_revision(url)
    if revision is None:
        from odds_models.errors import ConfigError

        raise ConfigError(
            f"DATABASE_URL: {hide_password(url)} has no schema yet; run `odds db upgrade` first"
        )

    async def collect() -> dict:
        try:
            return await database_overview()
        finally:
            await dispose_engine()

    overview = run_async(collect())
    payload = {"database": hide_password(url), "revision": revision, **overview}
    if json_output:
        emit_json(payload)
        return
    console.print(f"[bold]database[/bold] {payload['database']}  (revision {revision})")
    table = Table("table", "rows", "newest")
    for name, info in overview["tables"].items():
        newest = info["newest"]
        table.add_row(name, f"{info['rows']:,}", newest.isoformat() if hasattr(newest, "isoformat") else "-")
    console.print(table)
    if overview["newest_snapshots"]:
        snaps = Table("snapshots by source", "newest")
        for name, moment in overview["newest_snapshots"].items():
            snaps.add_row(name, moment.isoformat() if moment else "-")
        console.print(snaps)


# --- The Odds API quota (sportsbook engineer) ------------------------------------------------------------


@app.command("quota")
def quota(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    days: Annotated[int, typer.Option("--days", min=1, max=90, help="Days of per-endpoint spend.")] = 7,
    tick_minutes: Annotated[float, typer.Option("--tick-minutes", min=1,
                                                help="Cadence of the fetch-odds tick for the plan.")] = 5.0,
) -> None:  # fmt: skip
    """The Odds API quota, credits per endpoint over the last days, and this month's plan per tier."""
    from odds_analytics.quota import odds_call_cost, plan_month, snapshots_per_game
    from odds_analytics.tiers import TierSpec
    from odds_models.clock import now
    from odds_models.db import dispose_engine
    from odds_models.settings import get_settings
    from tasks.storage.fetch_logs import quota_overview

    settings = get_settings()

    async def collect() -> dict:
        try:
            return await quota_overview(days=days)
        finally:
            await dispose_engine()

    overview = run_async(collect())
    spec = TierSpec.from_settings(settings)
    upcoming = overview.pop("upcoming")
    plan = plan_month([c for c, _ in upcoming], last_requested=[last for _, last in upcoming], now=now(),
                      spec=spec, tick_minutes=tick_minutes,
                      cost_per_call=odds_call_cost(settings.markets, settings.regions, settings.bookmakers),
                      spent_so_far=overview["spent_this_month"], budget=settings.monthly_credit_budget)  # fmt: skip
    payload = {**overview, "plan": plan.as_dict(), "ideal_snapshots_per_game": snapshots_per_game(spec)}
    if json_output:
        emit_json(payload)
        return
    latest = overview["latest"]
    if latest:
        console.print(f"[bold]quota[/bold] remaining {latest['remaining']}, used {latest['used']}, "
                      f"last call {latest['last']} (at {latest['at']})")  # fmt: skip
    else:
        console.print("[bold]quota[/bold] no Odds API call recorded yet")
    held = overview["open_reservations"]
    if held["calls"]:
        console.print(f"[yellow]{held['calls']} credit reservation(s) not settled ({held['credits']} credits, "
                      "counted as spent): a paid call in flight, or one whose run died mid-call[/yellow]")  # fmt: skip
    spend = Table(
        "day", "endpoint", "calls", "credits", "errors", title=f"credits per endpoint, last {days} days"
    )
    for row in overview["per_endpoint"]:
        spend.add_row(row["day"], row["endpoint"], str(row["calls"]), str(row["credits"]), str(row["errors"]))
    console.print(spend)
    p = plan.as_dict()
    console.print(
        f"[bold]plan[/bold] until {p['until']}: {p['paid_calls']} paid /odds calls x {p['cost_per_call']} = "
        f"{p['credits_planned']} credits for {p['games']} listed games; month total "
        f"{p['projected_month_total']} of budget {p['monthly_budget']}"
        + ("" if p["within_budget"] else " [red](over budget)[/red]")
    )
    tiers = Table("tier", "snapshots/game (plan)", "snapshots/game (ideal cadence)")
    for name, value in plan.snapshots_by_tier.items():
        tiers.add_row(name, f"{value:g}", f"{payload['ideal_snapshots_per_game'][name]:g}")
    console.print(tiers)
