"""`odds bets ...`: the bet ledger: add a bet, import a CSV of bets, list them, report CLV and ROI.

Commands call the plain steps of `tasks.storage.bets` (no Prefect server to start); the scheduled
`settle-bets` flow (`flows/bets.py`) runs the same settlement and publishes the report as artifacts.
A bet that fails a check is one line naming the option (exit 2); a CSV with bad rows lists each with its
line number and writes nothing (exit 2).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from odds_analytics.jsonsafe import json_safe
from odds_cli.common import console, emit_json, parse_date, run_db

app = typer.Typer(help="The bet ledger: your bets and the paper bets of published picks, against the close.",
                  no_args_is_help=True)  # fmt: skip

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="Only bets placed on or after this date (YYYY-MM-DD, UTC).")
]
SourceOption = Annotated[str | None, typer.Option("--source", help="Only manual or paper bets.")]


def _source(value: str | None) -> str | None:
    if value is not None and value not in ("manual", "paper"):
        raise typer.BadParameter(f"{value!r} is not manual or paper", param_hint="--source")
    return value


def _option(field: str) -> str:
    return "--" + field.replace("_", "-") if field else "bet"


def _records(frame: Any) -> list[dict[str, Any]]:
    """Ledger rows as JSON-ready dicts (times ISO 8601 UTC, NaN and NaT as null)."""
    return [json_safe(row) for row in frame.to_dict(orient="records")]


def _side_text(row: dict[str, Any]) -> str:
    line = row.get("line")
    if row["market"] == "h2h" or line is None or (isinstance(line, float) and math.isnan(line)):
        return str(row["outcome"])
    return f"{row['outcome']} {line:+g}" if row["market"] == "spreads" else f"{row['outcome']} {line:g}"


@app.command("add")
def add(  # noqa: PLR0917 - typer options are parameters
    event: Annotated[
        str | None,
        typer.Option("--event", help="The game: an event id, or 'Away Team @ Home Team [YYYY-MM-DD]'."),
    ] = None,
    market: Annotated[str | None, typer.Option("--market", help="h2h, spreads or totals.")] = None,
    side: Annotated[
        str | None, typer.Option("--side", help="home, away, a team name, over or under.")
    ] = None,
    venue: Annotated[
        str, typer.Option("--venue", help="The bookmaker key (e.g. pinnacle) or polymarket.")
    ] = "",
    line: Annotated[
        float | None, typer.Option("--line", help="The side's own point (spreads, totals).")
    ] = None,
    price: Annotated[
        str | None, typer.Option("--price", help="Decimal (1.91) or American (-110) odds (sportsbooks).")
    ] = None,
    stake: Annotated[float | None, typer.Option("--stake", help="The amount staked.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Polymarket: the token id bought.")] = None,
    fill_price: Annotated[
        float | None, typer.Option("--fill-price", help="Polymarket: the price per share, before the fee.")
    ] = None,
    shares: Annotated[float | None, typer.Option("--shares", help="Polymarket: the shares bought.")] = None,
    fee_rate: Annotated[
        float | None,
        typer.Option("--fee-rate", help="Polymarket: the taker fee rate (default POLYMARKET_FEE_RATE)."),
    ] = None,
    placed_at: Annotated[
        str | None,
        typer.Option("--placed-at", help="When the bet was placed, ISO 8601 with a zone (default now)."),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free text kept with the bet.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Record a bet you placed; it is checked against the stored game (event, market, side, venue)."""
    from odds_analytics.ledger import BetsRejected, InvalidBet, draft_from_fields
    from tasks.storage.bets import record_bets

    fields = {"event": event, "market": market, "side": side, "venue": venue, "placed_at": placed_at,
              "line": None if line is None else repr(line), "price": price,
              "stake": None if stake is None else repr(stake), "token": token,
              "fill_price": None if fill_price is None else repr(fill_price),
              "shares": None if shares is None else repr(shares),
              "fee_rate": None if fee_rate is None else repr(fee_rate), "note": note}  # fmt: skip
    try:
        draft = draft_from_fields(fields)
        result = run_db(record_bets([(1, draft)]))
    except InvalidBet as exc:
        raise typer.BadParameter(str(exc), param_hint=_option(exc.field)) from None
    except BetsRejected as exc:
        _, error = exc.errors[0]
        raise typer.BadParameter(str(error), param_hint=_option(error.field)) from None
    if json_output:
        emit_json(result.summary())
        return
    if result.added:
        console.print(f"recorded bet #{result.added[0]}")
    else:
        console.print(f"already in the ledger as bet #{next(iter(result.existing.values()))}; nothing added")


@app.command("import")
def import_bets(
    csv_path: Annotated[Path, typer.Argument(help="A CSV of bets with the header described in docs/CLI.md.")],
    json_output: JsonOption = False,
) -> None:
    """Import bets from a CSV: every row is checked first; one bad row and nothing is written."""
    from odds_analytics.ledger import BetsRejected, drafts_from_csv
    from tasks.storage.bets import record_bets

    if not csv_path.is_file():
        raise typer.BadParameter(f"{str(csv_path)!r} is not a file", param_hint="CSV_PATH")
    try:
        text = csv_path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(f"{csv_path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})",
                                 param_hint="CSV_PATH") from None  # fmt: skip
    drafts, errors = drafts_from_csv(text)
    try:
        result = run_db(record_bets(drafts, errors=errors))
    except BetsRejected as exc:
        typer.echo(f"error: {csv_path.name}: {len(exc.errors)} bad row(s); nothing was imported", err=True)
        for line_no, error in exc.errors[:50]:
            typer.echo(f"  line {line_no}: {error}", err=True)
        if len(exc.errors) > 50:
            typer.echo(f"  ... {len(exc.errors) - 50} more", err=True)
        raise SystemExit(2) from None  # bad input (SystemExit: the code survives click's non-standalone mode)
    if json_output:
        emit_json(result.summary())
        return
    console.print(f"{len(drafts)} bets read: [bold]{len(result.added)}[/] added, "
                  f"{len(result.existing)} already in the ledger")  # fmt: skip


@app.command("list")
def list_bets(
    open_only: Annotated[
        bool, typer.Option("--open", help="Only open bets (no close or no result yet).")
    ] = False,
    settled_only: Annotated[bool, typer.Option("--settled", help="Only settled (and void) bets.")] = False,
    since: SinceOption = None,
    source: SourceOption = None,
    json_output: JsonOption = False,
) -> None:
    """The ledger, oldest first: each bet, its close and CLV, its result and status."""
    from odds_analytics.ledger import bet_status
    from odds_models.clock import now
    from odds_models.db import async_session_maker
    from tasks.storage.bets import read_ledger

    if open_only and settled_only:
        raise typer.BadParameter("give --open or --settled, not both", param_hint="--open")
    start = parse_date(since, "--since")
    source = _source(source)

    async def read() -> Any:
        async with async_session_maker() as session:
            return await read_ledger(session=session, since=start, source=source)

    frame = bet_status(run_db(read()), now=now())
    if open_only:
        frame = frame[frame["status"] == "open"]
    if settled_only:
        frame = frame[frame["status"] != "open"]
    records = _records(frame)
    if json_output:
        emit_json(records)
        return
    if not records:
        console.print("no bets" + (" match" if open_only or settled_only or since or source else " yet"))
        return
    table = Table("#", "placed (UTC)", "game", "market", "side", "venue", "price", "stake", "source", "close",
                  "CLV pp", "result", "profit", "status")  # fmt: skip
    for r in records:
        clv = r.get("clv_prob")
        table.add_row(
            str(r["id"]), str(r["placed_at"])[:16].replace("T", " "), f"{r['away_team']} @ {r['home_team']}",
            r["market"], _side_text(r), r["venue"], f"{r['price_decimal']:.3f}", f"{r['stake']:g}", r["source"],
            "-" if r.get("close_prob") is None else f"{r['close_prob']:.3f}",
            "-" if clv is None else f"{clv * 100:+.2f}", r.get("result") or "-",
            "-" if r.get("profit") is None else f"{r['profit']:+.2f}",
            r["status"] + (f" ({r['open_reason']})" if r.get("open_reason") else ""),
        )  # fmt: skip
    console.print(table)


@app.command("report")
def report(
    since: SinceOption = None,
    source: SourceOption = None,
    no_settle: Annotated[
        bool,
        typer.Option("--no-settle", help="Read the ledger as it is (do not fill closes and results first)."),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Folder for report.md and cumulative_clv.png (default $ODDS_HOME/reports/bets)."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """CLV (pp, with a 95 % interval and n/N), share beating the close and ROI, by source, model, market and
    venue; writes the cumulative CLV chart. Settles what it can first, like the `settle-bets` flow."""
    from odds_analytics.ledger import ledger_report, report_markdown
    from odds_models.clock import now
    from odds_models.db import async_session_maker
    from odds_models.settings import get_settings
    from tasks.storage.bet_report import write_ledger_report
    from tasks.storage.bets import read_ledger, settle_bets

    start = parse_date(since, "--since")
    source = _source(source)

    async def go() -> tuple[dict[str, int] | None, Any]:
        counts = None
        async with async_session_maker() as session:
            if not no_settle:
                counts = await settle_bets(session=session, now=now())
                await session.commit()
            return counts, await read_ledger(session=session, since=start, source=source)

    counts, ledger = run_db(go())
    figures = ledger_report(ledger, now=now())
    folder = output or get_settings().reports_dir / "bets"
    paths = write_ledger_report(figures, ledger, folder)
    if json_output:
        emit_json(
            {"settled_now": counts, **figures, "files": {k: str(v) if v else None for k, v in paths.items()}}
        )
        return
    if not figures["overall"]["bets"]:
        console.print("no bets in the ledger" + (" for this selection" if since or source else " yet"))
        return
    if counts:
        typer.echo(f"settled now: {counts['closes']} closes and {counts['results']} results filled")
    # the same Markdown as report.md and the `bets-report` artifact (plain text: never cut to the terminal)
    typer.echo("\n".join(report_markdown(figures)))
    console.print(f"report: {paths['report']}" + (f"; chart: {paths['chart']}" if paths["chart"] else ""))
