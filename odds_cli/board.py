"""`odds board`: the current picks table, every side of every upcoming game market at the price its stake gets."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from odds_cli.common import console, emit_json, run_db, wide_console
from odds_cli.model import AtOption, BankrollOption, decision_time_option

__all__ = ["board", "register"]


def _zone(name: str | None) -> Any:
    if name is None:
        return None  # this machine's zone
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            f"{name!r} is not a time zone (e.g. America/New_York, UTC)", param_hint="--tz"
        ) from None


def board(  # noqa: PLR0917 - typer options
    market: Annotated[list[str] | None, typer.Option("--market", help="Markets (default: all).")] = None,
    horizon: Annotated[float, typer.Option("--horizon-hours", help="Games starting this far ahead.")] = 48.0,
    min_edge: Annotated[float, typer.Option("--min-edge", help="Minimum expected return to pick.")] = 0.01,
    bankroll: BankrollOption = None,
    at: AtOption = None,
    picks_only: Annotated[bool, typer.Option("--picks", help="Only the picks.")] = False,
    tz: Annotated[
        str | None, typer.Option("--tz", help="Tip-off time zone (default: this machine's).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON (times in UTC).")] = False,
) -> None:
    """Score upcoming games now (or --at) without writing anything; show each side's venue, price paid at the
    stake, fair now, predicted close, expected CLV (pp), expected return, stake and model."""
    from flows.model import predict
    from odds_analytics.board import BOARD_HEADERS, board_cells
    from odds_cli.model import check_market

    markets = [check_market(m) for m in market] if market else None
    zone = _zone(tz)
    when = decision_time_option(at)
    result = run_db(predict(markets, horizon, min_edge, bankroll, when, record=False))
    rows = [r for r in result["board"] if r["pick"] or not picks_only]
    if json_output:
        emit_json({"decision_time": result["decision_time"], "bankroll": result["bankroll"], "rows": rows})
        return
    out = wide_console()
    table = Table(*BOARD_HEADERS, title=f"CLV board at {result['decision_time']:%Y-%m-%d %H:%M} UTC")
    for row in rows:
        table.add_row(*board_cells(row, zone), style="bold" if row["pick"] else None)
    out.print(table)
    picks = sum(1 for r in result["board"] if r["pick"])
    console.print(
        f"{len(rows)} sides shown, {picks} picks; stakes for a bankroll of {result['bankroll']:,.2f}. "
        "paid: decimal price at the stake (Polymarket: filled on its book, fee included); "
        "CLV pp = fair close - 1/paid; exp. return = fair close x paid - 1."
    )


def register(app: typer.Typer) -> None:
    """Attach `odds board` to the root command."""
    app.command("board")(board)
