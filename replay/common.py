"""Small helpers shared by the replay sources and routes: time formats, odds formats, stable hashing.

Everything here is pure and deterministic: the simulated slate is a function of its seed and the clock.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from statistics import NormalDist

__all__ = [
    "NORMAL",
    "american_to_decimal",
    "decimal_to_american",
    "floor_time",
    "iso_z",
    "parse_iso",
    "stable_hex",
    "stable_int",
    "stable_normal",
    "stable_unit",
]

NORMAL = NormalDist()


def iso_z(moment: datetime) -> str:
    """`2024-04-12T23:00:00Z`: the Odds API's timestamp format (seconds, UTC, `Z`)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime | None:
    """Parse an ISO 8601 timestamp with a zone (`Z` or an offset); None when malformed or naive."""
    try:
        value = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        return None
    if value.tzinfo is None:
        return None
    return value.astimezone(UTC)


def floor_time(moment: datetime, step: timedelta, origin: datetime | None = None) -> datetime:
    """The latest point of the grid `origin + k * step` at or before `moment`."""
    base = origin or datetime(2000, 1, 1, tzinfo=UTC)
    k = math.floor((moment - base) / step)
    return base + k * step


def decimal_to_american(price: float) -> int:
    """Decimal 1.91 -> American -110; 2.4 -> 140 (rounded to an integer, as the API does)."""
    if price >= 2.0:
        return round((price - 1.0) * 100)
    return round(-100 / (price - 1.0))


def american_to_decimal(price: float) -> float:
    """American -110 -> 1.9091; 140 -> 2.4."""
    if price > 0:
        return 1.0 + price / 100.0
    return 1.0 + 100.0 / abs(price)


def _digest(parts: tuple[object, ...]) -> bytes:
    text = "|".join(str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=32).digest()


def stable_unit(*parts: object) -> float:
    """A uniform number in (0, 1) that depends only on `parts` (no global random state)."""
    value = int.from_bytes(_digest(parts)[:8], "big")
    return (value + 0.5) / 2**64


def stable_normal(*parts: object) -> float:
    """A standard normal number that depends only on `parts`."""
    return NORMAL.inv_cdf(stable_unit(*parts))


def stable_int(*parts: object) -> int:
    return int.from_bytes(_digest(parts), "big")


def stable_hex(length: int, *parts: object) -> str:
    """`length` lower-case hex characters derived from `parts` (e.g. a 32-char Odds API event id)."""
    out = ""
    counter = 0
    while len(out) < length:
        out += _digest((*parts, counter)).hex()
        counter += 1
    return out[:length]
