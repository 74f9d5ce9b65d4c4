"""Helpers shared by the CLI modules: argument parsing with one-line errors, JSON output, rich console."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import typer
from rich.console import Console

from odds_analytics.jsonsafe import json_safe

__all__ = ["console", "emit_json", "parse_date", "parse_hours_list", "run_async", "run_db", "wide_console"]

console = Console()


def wide_console() -> Console:
    """The console for wide tables: the terminal's width, or 240 columns when piped (`| cat`, a file), so a
    table is never cut to 80 columns."""
    return console if console.is_terminal else Console(width=240)


def parse_date(value: str | None, name: str) -> date | None:
    """Parse YYYY-MM-DD or raise a usage error (exit 2) naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=name) from None


def parse_hours_list(value: str, name: str) -> list[float]:
    try:
        hours = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a comma list of hours", param_hint=name) from None
    if not hours or any(h <= 0 for h in hours):
        raise typer.BadParameter("hours must be positive", param_hint=name)
    return hours


def emit_json(payload: Any) -> None:
    """Print JSON to stdout (no rich markup)."""
    typer.echo(json.dumps(json_safe(payload), indent=2, sort_keys=False))


def run_async(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)


def run_db(coro: Any) -> Any:
    """`run_async` for a coroutine that uses the database: the engine is disposed before the loop closes."""
    from odds_models.db import dispose_engine

    async def wrapped() -> Any:
        try:
            return await coro
        finally:
            await dispose_engine()

    return run_async(wrapped())
