"""Odds rows in PostgreSQL's binary COPY format, built without asyncpg's per-value encoders (issue 17).

`asyncpg.copy_records_to_table` encodes every value of every row through its codecs; for the import's
286,864 rows that was 0.6 s of client CPU, 0.55 s of it the three `timestamptz` values per row (each an
`astimezone`, two comparisons and a subtraction). Here the columns are ordered so that a row is the
concatenation of parts that repeat: the snapshot's (`COPY_COLUMNS[:3]`: id, event, time), the market's
(bookmaker, market, both update times, `is_valid`, `notes`) and the outcome's (name, description, point,
prices). The parser builds each row's market and outcome part once (`market_part`, `outcome_part`); the
writer prefixes the snapshot part when it knows the snapshot id (`snapshot_head`). The bytes are exactly
what asyncpg's codecs send for the same values (tested against `copy_records_to_table`).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "COPY_COLUMNS",
    "COPY_HEADER",
    "COPY_TRAILER",
    "encode_row",
    "market_part",
    "outcome_part",
    "snapshot_head",
    "text_field",
    "timestamptz_field",
]

COPY_COLUMNS = (
    "snapshot_id", "event_id", "snapshot_time",  # the snapshot's part (`snapshot_head`)
    "bookmaker", "market", "bookmaker_last_update", "market_last_update", "is_valid", "notes",  # market's
    "outcome", "description", "point", "price_decimal", "price_american",  # the outcome's part
)  # fmt: skip
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # signature, flags, no header extension
COPY_TRAILER = struct.pack(">h", -1)

_NULL = struct.pack(">i", -1)
_TRUE = b"\x00\x00\x00\x01\x01"
_FALSE = b"\x00\x00\x00\x01\x00"
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_INT32 = (-(2**31), 2**31 - 1)
_HEAD = struct.Struct(">hiq")  # field count, then the snapshot id (int8)
_FLOAT8 = struct.Struct(">id")
_PRICES = struct.Struct(">idii")  # price_decimal (float8), price_american (int4)
_PRICE_NULL = struct.Struct(">idi")  # price_decimal, price_american NULL
_INT = struct.Struct(">i")
_INT8 = struct.Struct(">iq")

_texts: dict[str, bytes] = {}


def text_field(value: str) -> bytes:
    """A `text` field: length and UTF-8 (cached: bookmakers, markets and team names repeat). A lone
    surrogate raises UnicodeEncodeError, as asyncpg's encoder does."""
    try:
        return _texts[value]
    except KeyError:
        pass
    data = value.encode()
    field = _INT.pack(len(data)) + data
    if len(_texts) >= 50_000:
        _texts.clear()
    _texts[value] = field
    return field


def timestamptz_field(value: datetime | None) -> bytes:
    """A `timestamptz` field: microseconds since 2000-01-01 UTC (asyncpg's arithmetic), or NULL."""
    if value is None:
        return _NULL
    delta = value.astimezone(UTC) - _PG_EPOCH
    return _INT8.pack(8, (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _float_field(value: float | None) -> bytes:
    return _NULL if value is None else _FLOAT8.pack(8, value)


def _int4_field(value: int | None) -> bytes:
    if value is None:
        return _NULL
    if not _INT32[0] <= value <= _INT32[1]:
        raise OverflowError(f"odds.price_american {value} is out of the int4 range")
    return _INT.pack(4) + _INT.pack(value)


def market_part(
    bookmaker: str, market: str, book_update: datetime | None, market_update: datetime | None, *,
    valid: bool = True, notes: str | None = None,
) -> bytes:  # fmt: skip
    """The fields one bookmaker's market shares: bookmaker, market, both update times, is_valid, notes."""
    return b"".join((
        text_field(bookmaker), text_field(market), timestamptz_field(book_update), timestamptz_field(market_update),
        _TRUE if valid else _FALSE, _NULL if notes is None else text_field(notes),
    ))  # fmt: skip


def outcome_part(
    outcome: str, description: str, point: float | None, price_decimal: float, price_american: int | None
) -> bytes:
    """The fields of one outcome: name, description, point, price_decimal, price_american."""
    head = text_field(outcome) + text_field(description) + _float_field(point)
    if price_american is None:
        return head + _PRICE_NULL.pack(8, price_decimal, -1)
    if not _INT32[0] <= price_american <= _INT32[1]:
        raise OverflowError(f"odds.price_american {price_american} is out of the int4 range")
    return head + _PRICES.pack(8, price_decimal, 4, price_american)


def snapshot_head(snapshot_id: int, event_id: str, snapshot_time: datetime) -> bytes:
    """What starts every row of one snapshot: the field count, snapshot id, event id, snapshot time."""
    return (
        _HEAD.pack(len(COPY_COLUMNS), 8, snapshot_id)
        + text_field(event_id)
        + timestamptz_field(snapshot_time)
    )


def encode_row(values: Sequence[Any]) -> bytes:
    """One row given in `tasks.storage.odds._ODDS_COLUMNS` order (snapshot_id, event_id, snapshot_time,
    bookmaker, market, outcome, description, point, price_decimal, price_american, bookmaker_last_update,
    market_last_update, is_valid, notes); the slow, general path for rows with findings."""
    (sid, event_id, at, book, market, outcome, description, point, dec, am, book_update, market_update, valid,
     notes) = values  # fmt: skip
    return (
        snapshot_head(sid, event_id, at)
        + market_part(book, market, book_update, market_update, valid=valid, notes=notes)
        + text_field(outcome) + text_field(description) + _float_field(point) + _float_field(dec)
        + _int4_field(am)
    )  # fmt: skip
