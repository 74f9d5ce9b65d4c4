"""Importing saved Polymarket responses: Gamma events and markets, CLOB books and prices-history.

Files are `.json` or `.json.gz` (size-capped, `tasks.files.read_payload_file`). The kind of each file is read
from its shape (`odds_analytics.polymarket.parsing.detect_kind`). Each file is parsed completely, then
stored in one transaction: a file that does not parse is refused whole (`PayloadError` naming the file) and
nothing of it is written. Writes are idempotent (unique keys), so importing the same files twice adds
nothing; price history is stored with source `import`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from odds_analytics.polymarket.clob import OrderBook, parse_books
from odds_analytics.polymarket.gamma import parse_gamma_events, parse_gamma_markets
from odds_analytics.polymarket.history import parse_price_history
from odds_analytics.polymarket.parsing import detect_kind
from odds_models import clock
from odds_models.db import async_session_maker
from odds_models.errors import PayloadError
from tasks.files import read_payload_file
from tasks.storage import polymarket_markets as markets
from tasks.storage import polymarket_prices as prices

__all__ = ["ImportCounts", "import_payload", "import_polymarket_file", "import_polymarket_paths"]

_TOKEN_IN_NAME = re.compile(r"(?<!\d)(\d{60,80})(?!\d)")


@dataclass
class ImportCounts:
    files: int = 0
    events: int = 0
    markets: int = 0
    price_points: int = 0
    books: int = 0
    skipped: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    books_existing: int = 0  # books in the file already stored (same token and time)
    price_points_existing: int = 0  # points in the file already stored

    def add(self, other: ImportCounts) -> None:
        for name in ("files", "events", "markets", "price_points", "books", "skipped", "books_existing",
                     "price_points_existing"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {name: (dict(v) if isinstance(v := getattr(self, name), dict) else v)
                for name in self.__dataclass_fields__}  # fmt: skip


def _history_token(payload: dict[str, Any], *, name: str, token_id: str | None) -> str:
    token = token_id or (payload.get("token_id") if isinstance(payload.get("token_id"), str) else None)
    if token is None and (match := _TOKEN_IN_NAME.search(name)):
        token = match.group(1)
    if token is None:
        raise PayloadError(f"{name}: prices-history needs a token id (--token-id, or one in the file name)")
    return token


async def import_payload(
    payload: Any, *, name: str, token_id: str | None = None, at: datetime
) -> ImportCounts:
    """Parse one saved response completely, then store it in one transaction (all or nothing)."""
    kind = detect_kind(payload)
    counts = ImportCounts(files=1, kinds={kind: 1})
    if kind == "empty":
        return counts
    if kind == "unknown":
        raise PayloadError(f"{name}: not a Gamma events/markets list nor a CLOB book or prices-history")
    async with async_session_maker() as session:
        if kind == "events":
            events = parse_gamma_events(payload)
            counts.events = await markets.upsert_events(session=session, events=events, at=at)
            counts.markets = sum(len(e.markets) for e in events)
        elif kind == "markets":
            parsed = parse_gamma_markets(payload)
            counts.markets = await markets.upsert_markets(session=session, markets=parsed, at=at)
        elif kind in ("book", "books"):
            books = parse_books(payload)
            owners = await markets.read_token_owners(session=session, token_ids=[b.token_id for b in books])
            counts.skipped = sum(1 for b in books if b.token_id not in owners)
            by_time: dict[datetime, list[tuple[str, OrderBook]]] = {}
            for book in books:
                if book.token_id in owners:
                    by_time.setdefault(book.book_time or at, []).append((owners[book.token_id][0], book))
            for snapshot_time, group in by_time.items():
                counts.books += await prices.insert_orderbooks(
                    session=session, books=group, snapshot_time=snapshot_time
                )
            counts.books_existing = (
                sum(len({b.token_id for _, b in g}) for g in by_time.values()) - counts.books
            )
        else:  # history
            token = _history_token(payload, name=name, token_id=token_id)
            points, findings = parse_price_history(payload, token_id=token)
            owners = await markets.read_token_owners(session=session, token_ids=[token])
            if token not in owners:
                raise PayloadError(
                    f"{name}: token {token[:12]}… is not a stored market's token; import the "
                    "Gamma markets or events first"
                )
            market_id, outcome = owners[token]
            counts.price_points = await prices.insert_price_history(
                session=session, market_id=market_id, token_id=token, outcome=outcome, points=points,
                source="import",
            )  # fmt: skip
            counts.price_points_existing = len({p.t for p in points}) - counts.price_points
            counts.skipped = len(findings)
            await prices.insert_findings(session=session, findings=findings, source=f"import:{name}")
        await session.commit()
    return counts


async def import_polymarket_file(path: Path, token_id: str | None = None) -> ImportCounts:
    """Import one saved Gamma or CLOB response; `PayloadError` naming the file when it is refused."""
    payload = read_payload_file(path)
    try:
        counts = await import_payload(payload, name=path.name, token_id=token_id, at=clock.now())
    except PayloadError as exc:
        if str(path) in str(exc):
            raise
        raise PayloadError(f"{path}: {exc}"[:300]) from None  # which file, for an import of many
    except (OverflowError, ValueError) as exc:
        # a time at the edge of the calendar (a year-1 date with an offset) overflows while parsing; the
        # file is refused whole (its transaction never commits), like any other malformed payload
        raise PayloadError(f"{path}: {type(exc).__name__}: {exc}"[:300]) from None
    _log_stored(path.name, counts)
    return counts


def _log_stored(name: str, counts: ImportCounts) -> None:
    """One line per imported file in the run's logs (the module's logger outside a run): the rows it added
    and the rows it offered that were already stored. Events and markets are upserts: `upserted`."""
    from tasks.http import run_logger

    parts = [f"{kind} file" for kind in counts.kinds]
    if counts.events or counts.markets:
        parts.append(f"events {counts.events} upserted, markets {counts.markets} upserted")
    if "book" in counts.kinds or "books" in counts.kinds:
        parts.append(f"books {counts.books} added, {counts.books_existing} existing")
    if "history" in counts.kinds:
        parts.append(f"price points {counts.price_points} added, {counts.price_points_existing} existing")
    if counts.skipped:
        parts.append(f"{counts.skipped} skipped")
    run_logger().info("stored %s: %s", name, "; ".join(parts) or "nothing")


async def import_polymarket_paths(paths: Sequence[Path], *, token_id: str | None = None) -> ImportCounts:
    """Import saved Gamma/CLOB responses (`.json`, `.json.gz`), idempotently; the counts of all files."""
    total = ImportCounts()
    for path in paths:
        total.add(await import_polymarket_file(path, token_id))
    return total
