"""`odds import closing-lines CSV --format kaggle|sbr [--from DATE] [--to DATE] [--json]`."""

from __future__ import annotations

from pathlib import Path

import typer

from odds_cli.common import console, emit_json, parse_date, run_async

__all__ = ["register"]


def closing_lines(
    csv_path: Path = typer.Argument(
        ..., help="The CSV file (../shared/data/closing_lines/... or sbr_open_close/...)."
    ),
    fmt: str = typer.Option("kaggle", "--format", help="File format: kaggle or sbr."),
    since: str | None = typer.Option(None, "--from", help="Only games on or after this date (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--to", help="Only games on or before this date (YYYY-MM-DD)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts as JSON."),
) -> None:
    """Import closing (and, for sbr, opening) lines and final scores; prints matched/created/unmatched."""
    if fmt not in ("kaggle", "sbr"):
        raise typer.BadParameter(f"{fmt!r} is not a format (kaggle or sbr)", param_hint="--format")
    if not csv_path.is_file():
        raise typer.BadParameter(f"{str(csv_path)!r} is not a file", param_hint="CSV")
    start, end = parse_date(since, "--from"), parse_date(until, "--to")
    if start and end and end < start:
        raise typer.BadParameter("--to is before --from", param_hint="--to")

    from flows.closing_lines import import_closing_lines

    summary = run_async(import_closing_lines(str(csv_path), fmt, start, end))
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"{summary['games']} games: [bold]{summary['matched']}[/] matched, [bold]{summary['created']}[/] created, "
        f"[bold]{summary['unmatched']}[/] unmatched, {summary['lines_added']} lines added"
        + (f", {summary['skipped']} skipped (suspect)" if summary["skipped"] else "")
    )
    for example in summary.get("unmatched_examples", []):
        console.print(f"  unmatched: {example}")


def register(import_app: typer.Typer) -> None:
    """Attach `closing-lines` to the `odds import` group."""
    import_app.command("closing-lines")(closing_lines)
