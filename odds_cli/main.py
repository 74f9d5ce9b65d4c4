"""The `odds` command: thin calls of flows and readers, rendered with rich.

Each command group lives in its own module and is attached here lazily-imported, so `odds --help` stays
fast. Expected failures (`OddsPipelineError`) print one line and exit 1; bad arguments exit 2.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import typer

from odds_models.errors import ConfigError, OddsPipelineError

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

app = typer.Typer(
    name="odds",
    help="NBA odds pipeline: collect sportsbook and Polymarket prices, backtest, predict line movement.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
import_app = typer.Typer(help="Import saved API responses and closing lines.", no_args_is_help=True)
app.add_typer(import_app, name="import")

# (module, attribute, sub-command name or None to register commands on the root / import app)
_GROUPS: list[tuple[str, str, str | None]] = [
    ("odds_cli.status", "app", "status"),
    ("odds_cli.fetch", "app", "fetch"),
    ("odds_cli.polymarket", "app", "polymarket"),
    ("odds_cli.backtest", "app", "backtest"),
    ("odds_cli.model", "app", "model"),
    ("odds_cli.bets", "app", "bets"),
    ("odds_cli.scheduler", "app", "scheduler"),
]
# modules that add `odds import <kind>` commands: each exposes register(import_app)
_IMPORTERS = ["odds_cli.import_oddsapi", "odds_cli.import_polymarket", "odds_cli.import_closing_lines"]
# modules that add root commands (e.g. `odds demo`): each exposes register(app)
_ROOT = ["odds_cli.demo", "odds_cli.db"]


def _attach() -> None:
    for module_name, attr, name in _GROUPS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        app.add_typer(getattr(module, attr), name=name)
    for module_name in _IMPORTERS:
        try:
            importlib.import_module(module_name).register(import_app)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    for module_name in _ROOT:
        try:
            importlib.import_module(module_name).register(app)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise


_attach()


def main() -> None:
    """Entry point with the error policy: typed errors are one line, never a traceback."""
    logging.basicConfig(
        level=os.environ.get("ODDS_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except OddsPipelineError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
    except typer.TyperException as exc:  # typer's public base of its command-line errors
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group called without a command: its help
            exc.show()  # type: ignore[attr-defined]
            sys.exit(0)
        # usage errors exit 2 (their exit_code), other command-line errors theirs
        typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
