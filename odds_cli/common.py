"""Helpers shared by the CLI modules: argument parsing with one-line errors, output, progress.

Output rules every command follows (docs/CLI.md, "Output"); a new command gets them by using these helpers:

- `console` prints to stdout. On a terminal it wraps to the terminal's width; piped or redirected (`| cat`,
  `> file`) it is `PIPE_WIDTH` columns wide, so a table is never cut at 80 columns. Make identifier columns
  (deployment names, slugs, ids that another command takes) with `key_column(table, "name")`: on a terminal
  they fold onto a second line instead of ending in "…". `clip(text, n)` shortens free text (a market's
  question) on a terminal only.
- `--json`: declare it with `JsonOption` and print with `emit_json(payload)`: one JSON document on stdout,
  times as ISO 8601 in UTC (naive ones read as UTC), NaN/NaT as null, numpy and pandas values as plain
  numbers, DataFrames as lists of records. Nothing else may go to stdout when `--json` is given.
- Progress goes to stderr, never stdout: a live bar when stderr is a terminal, else one counter line per
  step (a file, a fold, a simulated hour). Code anywhere reports through `odds_models.progress.step`;
  `odds_cli.main.main()` installs `StderrProgress` for every command. `ODDS_PROGRESS=auto|bar|lines|off`
  overrides the choice (the tests run with `off`).
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from odds_analytics.jsonsafe import json_safe
from odds_models.progress import Step

__all__ = [
    "PIPE_WIDTH",
    "JsonOption",
    "StderrProgress",
    "clip",
    "console",
    "emit_json",
    "key_column",
    "parse_date",
    "parse_hours_list",
    "plain_text",
    "run_async",
    "run_db",
    "to_jsonable",
    "wide_console",
]

# Columns of stdout when it is not a terminal: wide enough that no row of ours wraps or is cut.
PIPE_WIDTH = 10_000


class _OutputConsole(Console):
    """A rich console whose width is the terminal's on a terminal and `PIPE_WIDTH` otherwise (rich would use
    80, or the width of whatever terminal stdin is attached to, and cut tables to it)."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        if self.is_terminal:
            return measured
        return ConsoleDimensions(PIPE_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = _OutputConsole()

JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document (times ISO 8601 UTC) instead of tables."),
]


def key_column(table: Table, header: str, **kwargs: Any) -> None:
    """Add a column of identifiers another command takes: never cut with "…" (folded on a narrow terminal)."""
    table.add_column(header, overflow="fold", **kwargs)


def clip(text: str | None, width: int) -> str:
    """`text` cut to `width` characters on a terminal; whole when piped or redirected."""
    if text is None:
        return ""
    if not console.is_terminal or len(text) <= width:
        return text
    return text[: width - 1] + "…"


def wide_console() -> Console:
    """The console for wide tables: `console` itself, which already takes the terminal's width, or
    `PIPE_WIDTH` when piped (`| cat`, a file), so a table is never cut to 80 columns (one width rule)."""
    return console


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
    """Print `payload` as one JSON document on stdout (see `to_jsonable`); never invalid JSON (no NaN)."""
    typer.echo(json.dumps(json_safe(payload), indent=2, allow_nan=False))


to_jsonable = json_safe  # the one converter (odds_analytics.jsonsafe), under the CLI's name


def plain_text(value: Any) -> str:
    """A value as one readable line for a table cell (never a Python repr): a dict as `key=value, ...`, a list
    of values joined with "; ", a list of records as its length (`--json` shows them), times ISO 8601 UTC."""
    value = to_jsonable(value)
    if value is None or (isinstance(value, list | dict) and not value):
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_inline(item)}" for key, item in value.items())
    return _inline(value)


def _inline(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return "(" + ", ".join(f"{key}={_inline(item)}" for key, item in value.items()) + ")"
    if isinstance(value, list):
        if any(isinstance(item, dict | list) for item in value):
            return f"{len(value)} rows"
        return "; ".join(_inline(item) for item in value) or "-"
    return str(value)


class StderrProgress:
    """The `odds_models.progress` listener of the `odds` command: a live bar on stderr when it is a terminal
    (`bar`), one counter line per step otherwise (`lines`), nothing with `off`. stdout is never touched."""

    MODES = ("auto", "bar", "lines", "off")

    def __init__(self, mode: str = "auto") -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "lines"
        self.mode = mode
        self._lock = threading.Lock()
        self._bar: Any = None
        self._tasks: dict[int, Any] = {}

    def started(self, step: Step) -> None:
        if self.mode != "bar":
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with self._lock:
            if self._bar is None:
                self._bar = Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("{task.fields[detail]}"), console=Console(stderr=True), redirect_stdout=False,
                )  # fmt: skip
                self._bar.start()
            self._tasks[id(step)] = self._bar.add_task(step.label, total=step.total, detail="")

    def advanced(self, step: Step, detail: str | None) -> None:
        if self.mode == "off":
            return
        if self.mode == "lines":
            count = f"{step.done}/{step.total}" if step.total is not None else str(step.done)
            line = f"{step.label}: {count}{' ' + step.unit if step.unit else ''}{': ' + detail if detail else ''}"
            with self._lock:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            return
        with self._lock:
            task = self._tasks.get(id(step))
            if task is not None:
                self._bar.update(task, completed=step.done, total=step.total, detail=detail or "")

    def close(self) -> None:
        """Stop the bar (steps a failure left unfinished included)."""
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = None
            self._tasks.clear()

    def finished(self, step: Step) -> None:
        if self.mode != "bar":
            return
        with self._lock:
            task = self._tasks.pop(id(step), None)
            if task is not None:
                self._bar.update(task, completed=step.done, total=step.total or step.done)
            if not self._tasks and self._bar is not None:
                self._bar.stop()
                self._bar = None


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
