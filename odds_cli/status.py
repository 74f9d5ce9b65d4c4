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
