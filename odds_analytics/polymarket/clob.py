"""CLOB order books and top-of-book quotes as plain data.

Prices are probabilities in [0, 1]; sizes are shares. Books are returned best-first whatever order the API
used: bids high to low, asks low to high (the CLOB sends bids ascending and asks descending, best last).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from odds_analytics.polymarket.parsing import field_num, field_str
from odds_models.clock import sane_time
from odds_models.errors import PayloadError

__all__ = [
    "BookLevel",
    "OrderBook",
    "TokenQuote",
    "book_metrics",
    "parse_book",
    "parse_books",
    "parse_price_quotes",
    "sort_levels",
]


@dataclass(frozen=True)
class BookLevel:
    price: float
    size: float


@dataclass(frozen=True)
class OrderBook:
    """A book with levels best-first (bids high to low, asks low to high) and its metrics."""

    token_id: str
    condition_id: str | None
    book_time: datetime | None
    book_hash: str | None
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    tick_size: float | None
    min_order_size: float | None
    last_trade_price: float | None
    best_bid: float | None
    best_ask: float | None
    mid: float | None
    spread: float | None
    bid_depth: float
    ask_depth: float
    imbalance: float | None
    weighted_mid: float | None

    def levels_json(self) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
        return (
            [{"price": lvl.price, "size": lvl.size} for lvl in self.bids],
            [{"price": lvl.price, "size": lvl.size} for lvl in self.asks],
        )


def _levels(raw: Any, *, name: str) -> list[BookLevel]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PayloadError(f"{name}: expected a list of levels")
    levels = []
    for item in raw:
        if not isinstance(item, dict):
            raise PayloadError(f"{name}: a level is not an object")
        price = field_num(item.get("price"), name=f"{name} price")
        size = field_num(item.get("size"), name=f"{name} size")
        if price is None or size is None:
            raise PayloadError(f"{name}: a level lacks price or size")
        if not 0.0 <= price <= 1.0:
            raise PayloadError(f"{name}: price {price} outside [0, 1]")
        if size < 0:
            raise PayloadError(f"{name}: negative size {size}")
        levels.append(BookLevel(price, size))
    return levels


def sort_levels(bids: list[BookLevel], asks: list[BookLevel]) -> tuple[list[BookLevel], list[BookLevel]]:
    """Best-first: bids by price descending, asks ascending (whatever order they came in)."""
    return sorted(bids, key=lambda lvl: -lvl.price), sorted(asks, key=lambda lvl: lvl.price)


def book_metrics(
    bids: list[BookLevel], asks: list[BookLevel], *, top_levels: int = 5
) -> dict[str, float | None]:
    """Metrics of a best-first book.

    - `bid_depth`/`ask_depth`: total size (shares) on each side;
    - `imbalance`: (bid size - ask size) / (bid size + ask size) over the best `top_levels` levels, in [-1, 1];
    - `weighted_mid`: the size-weighted mid of the top of book (micro-price),
      `(best_bid * ask_size + best_ask * bid_size) / (bid_size + ask_size)`.
    """
    best_bid = bids[0].price if bids else None
    best_ask = asks[0].price if asks else None
    mid = round((best_bid + best_ask) / 2, 10) if best_bid is not None and best_ask is not None else None
    spread = best_ask - best_bid if best_bid is not None and best_ask is not None else None
    top_bid = sum(lvl.size for lvl in bids[:top_levels])
    top_ask = sum(lvl.size for lvl in asks[:top_levels])
    imbalance = (top_bid - top_ask) / (top_bid + top_ask) if top_bid + top_ask > 0 else None
    weighted = None
    if best_bid is not None and best_ask is not None:
        bsize, asize = bids[0].size, asks[0].size
        weighted = (best_bid * asize + best_ask * bsize) / (bsize + asize) if bsize + asize > 0 else mid
    return {
        "best_bid": best_bid,
        "best_ask": best_ask,
        "mid": mid,
        "spread": round(spread, 10) if spread is not None else None,
        "bid_depth": float(sum(lvl.size for lvl in bids)),
        "ask_depth": float(sum(lvl.size for lvl in asks)),
        "imbalance": imbalance,
        "weighted_mid": weighted,
    }


def _ms_time(value: Any, *, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    number = field_num(value, name=name)
    assert number is not None
    seconds = number / 1000 if number > 1e11 else number  # ms (documented) or seconds (older captures)
    try:
        return sane_time(datetime.fromtimestamp(seconds, UTC), what=f"{name}: {value!r:.40}")
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{name}: {value!r} is not a timestamp") from None


def parse_book(payload: Any, *, token_id: str | None = None) -> OrderBook:
    """A CLOB `/book` response (current or legacy shape; either side may be empty), sorted best-first."""
    if not isinstance(payload, dict):
        raise PayloadError(f"clob book: expected an object, got {type(payload).__name__}")
    asset = payload.get("asset_id")
    if asset is None:
        asset = token_id
    if isinstance(asset, int) and not isinstance(asset, bool):
        asset = str(asset)
    if not isinstance(asset, str) or not asset:
        raise PayloadError("clob book: missing 'asset_id'")
    if token_id is not None and asset != token_id:
        raise PayloadError(f"clob book: asked for token {token_id[:12]}…, got {asset[:12]}…")
    what = f"clob book {asset[:12]}…"
    bids, asks = sort_levels(
        _levels(payload.get("bids"), name=f"{what} bids"), _levels(payload.get("asks"), name=f"{what} asks")
    )
    metrics = book_metrics(bids, asks)
    book_hash = payload.get("hash")
    return OrderBook(
        token_id=asset,
        condition_id=field_str(payload.get("market")),
        book_time=_ms_time(payload.get("timestamp"), name=f"{what} timestamp"),
        book_hash=book_hash if isinstance(book_hash, str) else None,
        bids=tuple(bids),
        asks=tuple(asks),
        tick_size=field_num(payload.get("tick_size"), name=f"{what} tick_size"),
        min_order_size=field_num(payload.get("min_order_size"), name=f"{what} min_order_size"),
        last_trade_price=field_num(payload.get("last_trade_price"), name=f"{what} last_trade_price"),
        best_bid=metrics["best_bid"],
        best_ask=metrics["best_ask"],
        mid=metrics["mid"],
        spread=metrics["spread"],
        bid_depth=metrics["bid_depth"] or 0.0,
        ask_depth=metrics["ask_depth"] or 0.0,
        imbalance=metrics["imbalance"],
        weighted_mid=metrics["weighted_mid"],
    )


def parse_books(payload: Any) -> list[OrderBook]:
    """A `POST /books` response (a list of books) or one book."""
    if isinstance(payload, dict):
        return [parse_book(payload)]
    if not isinstance(payload, list):
        raise PayloadError("clob books: expected a list of books")
    return [parse_book(item) for item in payload]


# --------------------------------------------------------------------------------------------------------
# CLOB prices
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenQuote:
    """One token's top of book from the price endpoints: BUY is the best bid, SELL the best ask."""

    token_id: str
    best_bid: float | None
    best_ask: float | None
    mid: float | None
    spread: float | None


def _price(value: Any, *, name: str) -> float | None:
    number = field_num(value, name=name)
    if number is not None and not 0.0 <= number <= 1.0:
        raise PayloadError(f"{name}: price {number} outside [0, 1]")
    return number


def parse_price_quotes(prices: Any, midpoints: Any = None) -> dict[str, TokenQuote]:
    """`POST /prices` (`{token: {"BUY": "0.52", "SELL": "0.53"}}`), optionally `POST /midpoints`
    (`{token: "0.525"}`), as quotes per token. `side=BUY` is the best bid and `SELL` the best ask."""
    if not isinstance(prices, dict):
        raise PayloadError("clob prices: expected an object keyed by token id")
    if midpoints is not None and not isinstance(midpoints, dict):
        raise PayloadError("clob midpoints: expected an object keyed by token id")
    quotes: dict[str, TokenQuote] = {}
    for token, sides in prices.items():
        if not isinstance(sides, dict):
            raise PayloadError(f"clob prices {str(token)[:12]}…: expected {{BUY, SELL}}")
        bid = _price(sides.get("BUY"), name="clob prices BUY")
        ask = _price(sides.get("SELL"), name="clob prices SELL")
        mid = _price((midpoints or {}).get(token), name="clob midpoints")
        if mid is None and bid is not None and ask is not None:
            mid = round((bid + ask) / 2, 10)
        spread = round(ask - bid, 10) if bid is not None and ask is not None else None
        quotes[str(token)] = TokenQuote(str(token), bid, ask, mid, spread)
    return quotes
