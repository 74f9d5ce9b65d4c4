"""The `odds` command: thin calls of flows and readers, rendered with rich.

Each command group lives in its own module and is attached here lazily-imported, so `odds --help` stays
fast. `main()` applies the error policy: an expected failure prints one line and exits 2 (bad arguments or
settings) or 1 (a failed run); see `failure_line`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import time
from types import ModuleType

import typer

from odds_models.errors import BadArgument, ConfigError, OddsPipelineError, UnsafeDatabaseError

STARTED_AT = time.perf_counter()  # `odds demo` counts its start-up from here (its timing table's first row)

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
    ("odds_cli.replay", "app", "replay"),
    ("odds_cli.prefect_ops", "app", "prefect"),
]
# modules that add `odds import <kind>` commands: each exposes register(import_app)
_IMPORTERS = ["odds_cli.import_oddsapi", "odds_cli.import_polymarket", "odds_cli.import_closing_lines"]
# modules that add root commands (e.g. `odds demo`): each exposes register(app)
_ROOT = ["odds_cli.demo", "odds_cli.db", "odds_cli.board"]


def _optional_module(module_name: str) -> ModuleType | None:
    """The module, or None when it is not there (a module missing inside it still raises)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise


def _attach() -> None:
    for module_name, attr, name in _GROUPS:
        if (module := _optional_module(module_name)) is not None:
            app.add_typer(getattr(module, attr), name=name)
    for module_name, target in [(m, import_app) for m in _IMPORTERS] + [(m, app) for m in _ROOT]:
        if (module := _optional_module(module_name)) is not None:
            module.register(target)


_attach()


def _missing_table(exc: BaseException) -> bool:
    """PostgreSQL's undefined_table (42P01) or undefined_column (42703) anywhere in the exception's chain."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in ("42P01", "42703") or type(current).__name__ in (
            "UndefinedTableError",
            "UndefinedColumnError",
        ):
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def failure_line(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and the one line for a failure the user can act on; None for a bug (keeps its traceback).

    2: bad arguments or settings (including a database that cannot be reached with the settings given);
    1: a run that failed (an upstream refusal, a bad file, no data for the request, a database that was
    reached when the command started and went away during the run).
    """
    from odds_models.db import database_was_reached, describe_connection_failure
    from tasks.retry import is_db_connection_error

    if isinstance(exc, typer.TyperException):  # typer's public base of its command-line errors (usage: 2)
        return exc.exit_code, exc.format_message()
    if isinstance(exc, ConfigError | UnsafeDatabaseError | BadArgument):
        return 2, str(exc)
    if isinstance(exc, OddsPipelineError):
        return 1, f"{type(exc).__name__}: {exc}"
    reason = describe_connection_failure(exc)
    api = _prefect_api_failure(exc)
    if database_was_reached():
        # the settings worked when the command started: the database went away during the run (exit 1)
        if reason is None and api is None and is_db_connection_error(exc):
            reason = _root_cause(exc)
        if reason is not None:
            return 1, (
                f"{_database_setting()}: the database became unreachable during the run: {reason}. "
                "Paid responses already received stay in the spool; the next run stores them"
            )
    if reason is not None:
        return 2, f"{_database_setting()}: cannot connect: {reason}"
    if api is not None:
        return 2, api
    if _missing_table(exc):
        # the database answers but its schema is missing or behind the migrations: a setting to fix (exit 2)
        return 2, (
            f"{_database_setting()}: the database has no schema yet or is behind the migrations "
            f"({_root_cause(exc)}); run `odds db upgrade` first"
        )
    if isinstance(exc, RuntimeError) and str(exc).startswith(_EPHEMERAL_TIMEOUT):
        # Prefect's local server did not come up in time (an overloaded machine): the run failed, retry it
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as STARTUP

        return 1, (
            "the local Prefect server did not start within PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS "
            f"({STARTUP.value():g} s), so the flow did not run. Run again, raise that setting, or set "
            "PREFECT_API_URL to a running server (`prefect server start`)"
        )
    return None


_EPHEMERAL_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"


def _root_cause(exc: BaseException) -> str:
    """The first line of the innermost exception of `exc`'s chain (the driver's words, not the wrapper's)."""
    seen: set[int] = set()
    current = exc
    while id(current) not in seen and (current.__cause__ or current.__context__) is not None:
        seen.add(id(current))
        current = current.__cause__ or current.__context__  # type: ignore[assignment]
    text = str(current).strip()
    return text.splitlines()[0] if text else type(current).__name__


def _prefect_api_failure(exc: BaseException) -> str | None:
    """Our API clients wrap every httpx error in an `UpstreamError`; a raw httpx connection error is the
    Prefect client's (PREFECT_API_URL set to a server that is not running)."""
    import httpx

    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    transport = next((e for e in chain if isinstance(e, httpx.TransportError)), None)
    if transport is None:
        return None
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    where = f"PREFECT_API_URL ({url})" if url else "the Prefect API"
    return f"{where}: cannot connect ({type(transport).__name__}); start the server or unset PREFECT_API_URL"


def _database_setting() -> str:
    from odds_models.db import hide_password
    from odds_models.settings import get_settings

    try:
        url = get_settings().database_url
    except ConfigError:
        return "DATABASE_URL"
    return f"DATABASE_URL ({hide_password(url)})" if url else "ODDS_HOME (embedded PostgreSQL)"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _HoldExpectedFailures(logging.Filter):
    """Prefect logs a failed task or flow run with its traceback before the exception reaches `main()`. For an
    expected failure those records are held back: `main()` prints the error once, in one line, and shows
    the held records (without traceback) only when they were about something else."""

    _FAILED_RUN = ("Finished in state Failed", "Finished in state Crashed")

    def __init__(self) -> None:
        super().__init__()
        self.held: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        expected = exc is not None and failure_line(exc) is not None
        failed_run = record.name.startswith("prefect.") and record.getMessage().startswith(self._FAILED_RUN)
        retry = getattr(record, "retrying", False)  # an HTTP retry: news only if the command then succeeds
        if not (expected or failed_run or retry):
            return True
        self.held.append(record)
        del self.held[:-100]  # a long-running command (the scheduler) must not grow this without bound
        return False


class _Console:
    """The console log handler of one `odds` run: level ODDS_LOG_LEVEL (WARNING by default, so Prefect's
    per-run INFO lines stay in the Prefect UI), expected failures held back (see above)."""

    def __init__(self, level: str) -> None:
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.handler.setLevel(level)
        self.held = _HoldExpectedFailures()
        self.handler.addFilter(self.held)
        root = logging.getLogger()
        # Prefect installs its own console handler on the root logger when it is imported first: while
        # `odds` runs, this handler is the only console output.
        self.replaced = [h for h in root.handlers if type(h).__name__ == "PrefectConsoleHandler"]
        for handler in self.replaced:
            root.removeHandler(handler)
        self.root_level = root.level
        root.setLevel(min(logging.getLevelNamesMapping()[level], root.level or logging.WARNING))
        root.addHandler(self.handler)

    def release(self, final: BaseException | None) -> None:
        """Show the held records that are not about `final` (one line each), then detach."""
        related: set[int] = set()
        current = final
        while current is not None and id(current) not in related:
            related.add(id(current))
            current = current.__cause__ or current.__context__
        final_text = _one_line(str(final)) if final is not None else None
        for record in self.held.held:
            exc = record.exc_info[1] if record.exc_info else None
            if final is not None and (exc is None or id(exc) in related or _one_line(str(exc)) == final_text):
                continue
            shown = logging.makeLogRecord(record.__dict__)
            shown.exc_info, shown.exc_text, shown.stack_info = None, None, None
            shown.msg, shown.args = _one_line(record.getMessage()), None
            self.handler.emit(shown)
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.root_level)
        for handler in self.replaced:
            root.addHandler(handler)
        if not root.handlers:
            # what Prefect logs while the process exits (its services flushing) is not for the user;
            # without a handler, logging's last resort would print it bare on stderr
            root.addHandler(logging.NullHandler())


def main() -> None:
    """Entry point with the error policy: an expected failure is one line on stderr and exit code 2 (bad
    arguments or settings) or 1 (a failed run), never a traceback."""
    from odds_cli.common import StderrProgress
    from odds_models.db import check_before_first_use
    from odds_models.progress import listening

    level = os.environ.get("ODDS_LOG_LEVEL", "WARNING").strip().upper()
    if level not in logging.getLevelNamesMapping():
        typer.echo(f"error: ODDS_LOG_LEVEL: {level!r} is not one of DEBUG, INFO, WARNING, ERROR", err=True)
        sys.exit(2)
    progress_mode = os.environ.get("ODDS_PROGRESS", "auto").strip().lower() or "auto"
    if progress_mode not in StderrProgress.MODES:
        typer.echo(f"error: ODDS_PROGRESS: {progress_mode!r} is not one of auto, bar, lines, off", err=True)
        sys.exit(2)
    console = _Console(level)
    check_before_first_use(True)  # a wrong DATABASE_URL fails at once, in one line, before any work
    final: BaseException | None = None
    code = 0
    try:
        # progress of long steps on stderr (a bar on a terminal, counter lines otherwise; odds_cli/common.py)
        shown = StderrProgress(progress_mode)
        try:
            with listening(shown):
                result = app(standalone_mode=False)
        finally:
            shown.close()
        # Without standalone mode click *returns* the code of `raise typer.Exit(n)` (and `ctx.exit(n)`)
        # instead of exiting with it; commands themselves return None. Honour it here, for every command.
        if isinstance(result, int) and not isinstance(result, bool):
            code = result
    except typer.Abort as exc:
        final = exc
        typer.echo("error: aborted", err=True)
        code = 1
    except Exception as exc:
        final = exc
        if isinstance(exc, typer.TyperException) and type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]  # a group called without a command: its help
        else:
            failure = failure_line(exc)
            if failure is None:
                raise  # a bug: keep the traceback (the finally block still shows what was held)
            code, line = failure
            typer.echo(f"error: {_one_line(line)}", err=True)
    finally:
        check_before_first_use(False)
        console.release(final)
    if code:
        sys.exit(code)


if __name__ == "__main__":
    main()
