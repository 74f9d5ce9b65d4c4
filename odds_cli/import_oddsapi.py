"""`odds import oddsapi PATH...`: load saved Odds API responses (files or folders, .json or .json.gz)."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from odds_cli.common import console, emit_json, run_async

__all__ = ["register"]


def oddsapi(
    paths: list[Path] = typer.Argument(
        ..., help="Files or folders (recursively) of .json / .json.gz responses."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
    reject_invalid: bool | None = typer.Option(
        None, "--reject-invalid/--keep-invalid", help="Drop invalid odds rows (default: REJECT_INVALID_ODDS)."
    ),
) -> None:
    """Import saved /odds, /events/{id}/odds and historical responses; importing twice adds nothing."""
    from tasks.import_oddsapi import import_oddsapi_paths

    for path in paths:
        if not path.exists():
            raise typer.BadParameter(f"{path} does not exist", param_hint="PATH")
    from odds_models.db import dispose_engine

    async def run() -> object:
        try:
            return await import_oddsapi_paths(paths, reject_invalid=reject_invalid)
        finally:
            await dispose_engine()

    started = time.perf_counter()
    summary = run_async(run())
    elapsed = time.perf_counter() - started
    result = {**summary.as_dict(), "seconds": round(elapsed, 2)}
    if json_out:
        emit_json(result)
    else:
        table = Table(title="odds import oddsapi", show_header=True)
        table.add_column("count")
        table.add_column("value", justify="right")
        for label, key in (("files", "files"), ("files failed", "files_failed"), ("events", "events"),
                           ("events new", "events_new"), ("snapshots new", "snapshots"),
                           ("odds rows new", "odds_rows"), ("odds rows in files", "odds_rows_in_files"),
                           ("odds rows rejected", "odds_rejected"), ("quality issues new", "quality_issues"),
                           ("seconds", "seconds")):  # fmt: skip
            table.add_row(label, str(result[key]))
        console.print(table)
        for error in summary.errors[:20]:
            console.print(f"[red]skipped[/red] {error}", highlight=False)
    if summary.files_failed:
        from odds_models.errors import PayloadError

        first = summary.errors[0] if summary.errors else ""
        stored = summary.files - summary.files_failed
        done = f"the other {stored} were stored" if stored else "nothing was stored"
        raise PayloadError(
            f"{summary.files_failed} of {summary.files} file(s) not imported ({done}); first: {first}"
        )


def register(import_app: typer.Typer) -> None:
    """Add `odds import oddsapi` to the import group."""
    import_app.command("oddsapi")(oddsapi)
