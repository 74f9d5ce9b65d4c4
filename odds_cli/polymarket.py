"""`odds polymarket …`: discover, status, backfill, link, book, markets.

`discover`, `backfill` and `link` run the flows of `flows/polymarket.py` once, as `odds fetch` does (the
scheduler runs them on a cadence); `status`, `book` and `markets` are reads.
"""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from odds_cli.common import console, emit_json, parse_date, run_db

app = typer.Typer(
    help="Polymarket: discover NBA games, link them, backfill price history, inspect books.",
    no_args_is_help=True,
)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@app.command()
def discover(
    closed: bool = typer.Option(
        False, "--closed", help="Discover closed (finished) games instead of open ones."
    ),
    link: bool = typer.Option(True, "--link/--no-link", help="Link to sportsbook events afterwards."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Page through Gamma's NBA game events, upsert events and markets, then link them."""
    from flows.polymarket import discover_polymarket

    counts = run_db(discover_polymarket(closed=closed, link=link))
    if json_out:
        emit_json(counts)
        return
    console.print(" ".join(f"{k}={v}" for k, v in counts.items()))


@app.command()
def status(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Time since the last successful backfill and the markets whose history expires within a week."""
    from odds_models.clock import now
    from tasks.polymarket_ingest import read_status

    info = run_db(read_status(now=now()))
    if json_out:
        emit_json(info)
        return
    style = {"ok": "green", "warn": "yellow", "fail": "bold red", "never": "yellow"}[
        info["backfill_staleness"]
    ]
    console.print(f"[{style}]{info['message']}[/{style}]")
    console.print(
        f"events {info['events']} (linked {info['linked']}, ambiguous {info['ambiguous']}), "
        f"markets {info['markets']}, price rows {info['price_rows']}, last poll {_fmt(info['last_poll'])}"
    )
    expiring = info["expiring_within_week"]
    if not expiring:
        console.print("no market's fine-grained history expires within a week")
        return
    table = Table(title=f"{len(expiring)} markets whose unfetched history expires within a week")
    for col in ("market", "question", "expires at", "tokens"):
        table.add_column(col)
    for e in expiring[:50]:
        table.add_row(
            e["market_id"],
            e["question"][:60],
            e["expires_at"].isoformat(timespec="minutes"),
            str(e["tokens"]),
        )
    console.print(table)


@app.command()
def backfill(
    days: int | None = typer.Option(
        None, "--days", min=1, help="How far back (default POLYMARKET_BACKFILL_DAYS)."
    ),
    start: str | None = typer.Option(None, "--start", help="Only history from this UTC date (YYYY-MM-DD)."),
    end: str | None = typer.Option(None, "--end", help="Only history before this UTC date (YYYY-MM-DD)."),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        min=1,
        max=32,
        help="Tokens in flight (default POLYMARKET_BACKFILL_CONCURRENCY).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (no progress bar)."),
) -> None:
    """Backfill price history from each token's watermark (≤15-day windows, 1-minute fidelity)."""
    from datetime import UTC, datetime, time

    from flows.polymarket import backfill_polymarket_history, progress_listeners

    start_day, end_day = parse_date(start, "--start"), parse_date(end, "--end")
    if start_day and end_day and end_day <= start_day:
        raise typer.BadParameter(f"end {end_day} is not after start {start_day}", param_hint="--end")
    lo = datetime.combine(start_day, time(0), tzinfo=UTC) if start_day else None
    hi = datetime.combine(end_day, time(0), tzinfo=UTC) if end_day else None

    with Progress(
        TextColumn("backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=json_out,
    ) as progress:
        bar = progress.add_task("tokens", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(bar, completed=done, total=total)

        progress_listeners.append(advance)
        try:
            summary = run_db(backfill_polymarket_history(days, lo, hi, concurrency))
        finally:
            progress_listeners.remove(advance)
    if json_out:
        emit_json(summary)
    else:
        console.print(" ".join(f"{k}={v}" for k, v in summary.items()))


@app.command()
def link(
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be linked; write nothing."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Link Polymarket games to sportsbook events; print matched, ambiguous and unmatched events."""
    from flows.polymarket import link_polymarket

    result = run_db(link_polymarket(dry_run=dry_run))
    counts = {k: result[k] for k in ("linked", "ambiguous", "unmatched", "written")}
    if json_out:
        emit_json({"dry_run": dry_run, **counts, **result["results"]})
        return
    for name, rows in result["results"].items():
        table = Table(title=f"{name}: {len(rows)}")
        for col in ("polymarket event", "sportsbook event", "note"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["polymarket_event_id"], r["event_id"] or ", ".join(r["candidates"]) or "-", r["note"]
            )
        console.print(table)
    console.print("dry run: nothing written" if dry_run else f"{counts['written']} events updated")


@app.command()
def book(
    game: str = typer.Argument(..., help="Polymarket slug/ticker, Gamma event id, or sportsbook event id."),
    depth: int = typer.Option(10, "--depth", min=1, help="Levels per side."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Print the current order book of a game's moneyline market (both tokens, best first)."""
    from odds_models.db import async_session_maker
    from odds_models.errors import ConfigError
    from tasks.polymarket_clob import make_clob_client
    from tasks.storage.polymarket_markets import read_moneyline_tokens

    async def go() -> tuple[dict, dict]:
        async with async_session_maker() as session:
            market = await read_moneyline_tokens(session=session, game=game)
        if market is None:
            raise ConfigError(
                f"GAME: no stored moneyline market for {game!r}; run `odds polymarket discover` first"
            )
        clob = make_clob_client()
        try:
            return market, await clob.books(market["token_ids"])
        finally:
            await clob.aclose()

    market, books = run_db(go())
    if json_out:
        emit_json(
            {
                **market,
                "books": {
                    t: {
                        "best_bid": b.best_bid,
                        "best_ask": b.best_ask,
                        "mid": b.mid,
                        "spread": b.spread,
                        "imbalance": b.imbalance,
                        "weighted_mid": b.weighted_mid,
                        "bids": b.levels_json()[0][:depth],
                        "asks": b.levels_json()[1][:depth],
                    }
                    for t, b in books.items()
                },
            }
        )
        return
    console.print(f"[bold]{market['question']}[/bold] ({market['slug']})")
    for outcome, token_id in zip(market["outcomes"], market["token_ids"], strict=False):
        b = books.get(token_id)
        if b is None:
            console.print(f"{outcome}: no book (closed or resolved market)")
            continue
        table = Table(
            title=f"{outcome}: bid {_fmt(b.best_bid)} / ask {_fmt(b.best_ask)}, mid {_fmt(b.mid)}, "
            f"imbalance {_fmt(round(b.imbalance, 3) if b.imbalance is not None else None)}"
        )
        for col in ("bid size", "bid", "ask", "ask size"):
            table.add_column(col, justify="right")
        for i in range(min(depth, max(len(b.bids), len(b.asks)))):
            bid = b.bids[i] if i < len(b.bids) else None
            ask = b.asks[i] if i < len(b.asks) else None
            table.add_row(
                _fmt(bid.size if bid else None),
                _fmt(bid.price if bid else None),
                _fmt(ask.price if ask else None),
                _fmt(ask.size if ask else None),
            )
        console.print(table)


@app.command()
def markets(
    market_type: str | None = typer.Option(
        None, "--type", help="moneyline, spread, total, player_prop, futures, other."
    ),
    event: str | None = typer.Option(None, "--event", help="Polymarket slug or id, or sportsbook event id."),
    limit: int = typer.Option(200, "--limit", min=1),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List markets: id, question, type, team and line, event, link to the sportsbook event."""
    from odds_models.db import async_session_maker
    from odds_models.tables import MARKET_TYPES
    from tasks.storage.polymarket_markets import read_markets

    if market_type is not None and market_type not in MARKET_TYPES:
        raise typer.BadParameter(
            f"{market_type!r} is not one of {', '.join(MARKET_TYPES)}", param_hint="--type"
        )

    async def go() -> list[dict]:
        async with async_session_maker() as session:
            return await read_markets(session=session, market_type=market_type, event=event, limit=limit)

    rows = run_db(go())
    if json_out:
        emit_json(rows)
        return
    table = Table(title=f"{len(rows)} Polymarket markets")
    for col in ("id", "question", "type", "period", "team", "line", "event", "sportsbook event"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["id"],
            r["question"][:50],
            r["market_type"],
            r["period"],
            _fmt(r["team"] or r["player"]),
            _fmt(r["line"]),
            _fmt(r["event_slug"]),
            _fmt(r["event_id"] or r["link_status"]),
        )
    console.print(table)
