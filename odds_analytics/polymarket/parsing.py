"""Small parsers shared by the Gamma and CLOB payloads, and the data-quality finding they report.

Every time is an aware UTC `datetime`; numbers may arrive as strings; junk raises `PayloadError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from odds_models.clock import parse_iso_utc, sane_time
from odds_models.errors import PayloadError

__all__ = [
    "PolymarketFinding",
    "detect_kind",
    "parse_gamma_datetime",
    "parse_json_list",
]


@dataclass(frozen=True)
class PolymarketFinding:
    """A data-quality observation: a value dropped or kept with a warning."""

    severity: str  # info | warning | error
    check_type: str
    detail: str
    token_id: str | None = None
    market_id: str | None = None
    at: datetime | None = None


def parse_gamma_datetime(value: Any, *, name: str = "time") -> datetime | None:
    """Parse a Gamma/CLOB time into an aware UTC datetime; None/'' stay None.

    Accepts `"2025-11-10 00:30:00+00"`, ISO 8601 (`Z`, fractions, offsets), `YYYY-MM-DD` (midnight UTC).
    Raises `PayloadError` for anything else.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{name}: expected a time string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    try:
        return sane_time(parse_iso_utc(text), what=f"{name}: {value[:40]!r}")
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before year 1 once in UTC
        raise PayloadError(f"{name}: {value[:40]!r} is out of range") from None
    except ValueError:
        raise PayloadError(f"{name}: {value[:40]!r} is not a time") from None


def field_date(value: Any, *, name: str) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{name}: expected YYYY-MM-DD, got {type(value).__name__}")
    try:
        return sane_time(
            datetime.fromisoformat(value.strip()[:10]).replace(tzinfo=UTC), what=f"{name}: {value[:20]!r}"
        ).date()
    except ValueError:
        raise PayloadError(f"{name}: {value[:20]!r} is not a date") from None


def parse_json_list(value: Any, *, name: str, allow_int: bool = False) -> list[str]:
    """Gamma's JSON-encoded list fields (`outcomes`, `outcomePrices`, `clobTokenIds`) as a list of strings.

    Accepts the JSON string or an already-decoded list. Integers are accepted only when `allow_int` (token
    ids, converted losslessly); floats never (a float token id has already lost digits).
    """
    if value is None or value == "":
        return []
    decoded = value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):  # JSONDecodeError, and the int-digits limit
            raise PayloadError(f"{name}: not a JSON-encoded list: {value[:60]!r}") from None
    if not isinstance(decoded, list):
        raise PayloadError(f"{name}: expected a list, got {type(decoded).__name__}")
    out: list[str] = []
    for item in decoded:
        if isinstance(item, str):
            out.append(item)
        elif allow_int and isinstance(item, int) and not isinstance(item, bool):
            out.append(str(item))
        else:
            raise PayloadError(f"{name}: element {item!r:.40} is not a string")
    return out


def field_num(value: Any, *, name: str) -> float | None:
    """A number that may arrive as a string; None/'' stay None; NaN/inf and junk raise PayloadError."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{name}: expected a number, got a boolean")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise PayloadError(f"{name}: number too large") from None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise PayloadError(f"{name}: {value[:30]!r} is not a number") from None
    else:
        raise PayloadError(f"{name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise PayloadError(f"{name}: {value!r} is not finite")
    return number


def field_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def field_str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def require_id(payload: dict[str, Any], key: str, what: str) -> str:
    value = payload.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{what}: missing {key!r}")
    return value


def detect_kind(payload: Any) -> str:
    """events | markets | book | books | history | unknown, from the shape of a saved response."""
    if isinstance(payload, dict):
        if "history" in payload:
            return "history"
        if "bids" in payload or "asks" in payload:
            return "book"
        if isinstance(payload.get("events"), list):
            return "events"
        if isinstance(payload.get("markets"), list) and "question" not in payload:
            return "markets" if "slug" not in payload or "next_cursor" in payload else "events"
        if "condition_id" in payload and "tokens" in payload:
            return "unknown"  # a CLOB market: Gamma is our market index
        if "question" in payload or "clobTokenIds" in payload:
            return "markets"
        if "slug" in payload and "title" in payload:
            return "events"
        return "unknown"
    if isinstance(payload, list):
        first = next((item for item in payload if isinstance(item, dict)), None)
        if first is None:
            return "empty" if not payload else "unknown"
        if "bids" in first or "asks" in first:
            return "books"
        if "question" in first or "clobTokenIds" in first:
            return "markets"
        if "slug" in first and ("title" in first or "markets" in first):
            return "events"
    return "unknown"
