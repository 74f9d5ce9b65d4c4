"""`odds db ...`: migrations and the embedded server."""

from __future__ import annotations

import typer

from odds_cli.common import JsonOption, console, emit_json

db_app = typer.Typer(help="Database schema (alembic) and the embedded PostgreSQL.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(json_output: JsonOption = False) -> None:
    """Apply every migration (alembic upgrade head) to the configured database."""
    from odds_models.db import hide_password
    from odds_models.migrate import current_revision, upgrade_head

    url = upgrade_head()
    revision = current_revision(url)
    if json_output:
        emit_json({"database": hide_password(url), "revision": revision})
        return
    console.print(f"database {hide_password(url)} at revision {revision}")


@db_app.command("url")
def url(json_output: JsonOption = False) -> None:
    """Print the database URL in use (password hidden); starts the embedded server if needed."""
    from odds_models.db import hide_password, resolve_database_url

    shown = hide_password(resolve_database_url())
    if json_output:
        emit_json({"database": shown})
        return
    typer.echo(shown)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
