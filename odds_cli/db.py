"""`odds db ...`: migrations and the embedded server."""

from __future__ import annotations

import typer

from odds_cli.common import console

db_app = typer.Typer(help="Database schema (alembic) and the embedded PostgreSQL.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade() -> None:
    """Apply every migration (alembic upgrade head) to the configured database."""
    from odds_models.db import hide_password
    from odds_models.migrate import current_revision, upgrade_head

    url = upgrade_head()
    console.print(f"database {hide_password(url)} at revision {current_revision(url)}")


@db_app.command("url")
def url() -> None:
    """Print the database URL in use (password hidden); starts the embedded server if needed."""
    from odds_models.db import hide_password, resolve_database_url

    typer.echo(hide_password(resolve_database_url()))


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
