"""`odds prefect`: set up the Prefect server the scheduler talks to (alerts, secrets).

    odds prefect setup --block slack-webhook/odds-alerts    # the four alert automations, idempotent
    printf %s "$KEY" | odds prefect secret set-api-key       # the Secret block the ECS runs read

Both talk to `PREFECT_API_URL` (a local `prefect server start`, or Prefect Cloud); without it they refuse,
since a temporary server would forget everything when the command ends.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.table import Table

from odds_cli.common import console, emit_json
from odds_models.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(help="Set up the Prefect server: alert automations, Secret blocks.", no_args_is_help=True)
secret_app = typer.Typer(help="Save secrets as Prefect Secret blocks (read at run time, never printed).",
                         no_args_is_help=True)  # fmt: skip
app.add_typer(secret_app, name="secret")


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigError("PREFECT_API_URL is not set: point it at your Prefect server "
                          "(e.g. http://127.0.0.1:4200/api) so the setup outlives this command")  # fmt: skip
    return str(url)


def _run(coro: object) -> object:
    from odds_models.db import run_coro_blocking

    return run_coro_blocking(coro)  # type: ignore[arg-type]


@app.command("setup")
def setup(
    block: str = typer.Option(
        "odds-alerts",
        "--block",
        help="Notification block to notify (NAME or TYPE/NAME, e.g. slack-webhook/x).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was created or updated as JSON."),
) -> None:
    """Create or update the alert automations (backfill overdue, quota low, paid run failed, new pick)."""
    from tasks.alerts import apply_automations

    url = _api_url()
    done = _run(apply_automations(block))
    assert isinstance(done, list)
    if as_json:
        emit_json({"api": url, "block": block, "automations": done})
        return
    table = Table(title=f"Prefect automations on {url} (notify {block})")
    for column in ("automation", "action", "id"):
        table.add_column(column, overflow="fold")
    for row in done:
        action = row["action"] + (f", {row['removed_duplicates']} duplicate(s) removed" if row["removed_duplicates"]
                                  else "")  # fmt: skip
        table.add_row(row["name"], action, row["id"])
    console.print(table)


def _read_secret(what: str, env_var: str, from_env: bool) -> str:
    """The value from the environment (`--from-env`), piped stdin, or a hidden prompt; never echoed."""
    if from_env:
        value = os.environ.get(env_var, "")
        if not value.strip():
            raise ConfigError(f"--from-env: {env_var} is not set")
    elif not sys.stdin.isatty():
        value = sys.stdin.readline()
    else:
        value = typer.prompt(what, hide_input=True)
    value = value.strip()
    if not value:
        raise ConfigError(f"{what}: empty value; nothing saved")
    return value


def _save_secret(name: str, value: str) -> None:
    from prefect.blocks.system import Secret

    _run(Secret(value=value).asave(name, overwrite=True))


@secret_app.command("set-api-key")
def set_api_key(
    name: str = typer.Option(
        "odds-api-key", "--block", help="Secret block name (ODDS_API_KEY_SECRET_BLOCK)."
    ),
    from_env: bool = typer.Option(False, "--from-env", help="Take the key from ODDS_API_KEY."),
) -> None:
    """Save The Odds API key as a Secret block (from stdin, ODDS_API_KEY with --from-env, or a hidden prompt)."""
    url = _api_url()
    value = _read_secret("The Odds API key", "ODDS_API_KEY", from_env)
    _save_secret(name, value)
    console.print(f"saved the Odds API key ({len(value)} characters) as Secret block {name!r} on {url}")


@secret_app.command("set-database-url")
def set_database_url(
    name: str = typer.Option(
        "odds-database-url", "--block", help="Secret block name (DATABASE_URL_SECRET_BLOCK)."
    ),
    from_env: bool = typer.Option(False, "--from-env", help="Take the URL from DATABASE_URL."),
) -> None:
    """Save the pipeline's DATABASE_URL as a Secret block (stdin, --from-env, or a hidden prompt)."""
    from odds_models.db import hide_password
    from odds_models.dburl import normalise_database_url

    url = _api_url()
    value = normalise_database_url(_read_secret("DATABASE_URL", "DATABASE_URL", from_env))
    _save_secret(name, value)
    console.print(f"saved {hide_password(value)} as Secret block {name!r} on {url}")
