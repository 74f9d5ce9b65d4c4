"""`odds import polymarket PATH...`: load saved Gamma and CLOB responses idempotently."""

from __future__ import annotations

from pathlib import Path

import typer

from odds_cli.common import console, emit_json, run_db


def register(import_app: typer.Typer) -> None:
    """Add `polymarket` to `odds import`."""

    @import_app.command("polymarket")
    def import_polymarket(
        paths: list[Path] = typer.Argument(
            ...,
            exists=True,
            dir_okay=False,
            readable=True,
            help="Gamma events/markets or CLOB book/prices-history files (.json, .json.gz).",
        ),
        token_id: str | None = typer.Option(
            None, "--token-id", help="Token id of a prices-history file (else taken from the file)."
        ),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Import saved Polymarket responses: events, markets, books, price history."""
        from tasks.import_polymarket import import_polymarket_paths

        counts = run_db(import_polymarket_paths(paths, token_id=token_id)).as_dict()
        if json_out:
            emit_json(counts)
            return
        console.print(
            " ".join(f"{k}={v}" for k, v in counts.items() if k != "kinds") + f" kinds={counts['kinds']}"
        )
