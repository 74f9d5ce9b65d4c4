"""How fresh each source is, for the `pipeline-summary` artifact: the newest row's age, and a flag when a
source that should be fed on a schedule has gone quiet (pure).

`STALE_AFTER` holds the sources with a cadence: the hourly `/events` sync writes a `fetch_logs` row every hour;
the odds tick stores a snapshot at least every 48 h while games are listed (the >72 h tier); the price poll
stores Polymarket prices and books every `PRICE_POLL_INTERVAL` while linked markets are upcoming. A stale
flag in the off-season (no game listed) is expected; during the season it means a schedule stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

__all__ = ["STALE_AFTER", "format_age", "freshness_rows"]

STALE_AFTER: dict[str, timedelta] = {
    "fetch_logs": timedelta(hours=2),
    "odds_snapshots": timedelta(hours=49),
    "odds": timedelta(hours=49),
    "polymarket_price_snapshots": timedelta(hours=1),
    "polymarket_orderbook_snapshots": timedelta(hours=1),
}


def format_age(age: timedelta) -> str:
    """`45 s`, `12 min`, `3 h 05 min`, `2 d 4 h` (a future timestamp reads `in the future`).

    >>> format_age(timedelta(hours=3, minutes=5))
    '3 h 05 min'
    """
    seconds = int(age.total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def _parse(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def freshness_rows(
    rows: Sequence[Mapping[str, Any]], now: datetime, stale_after: Mapping[str, timedelta] | None = None
) -> list[dict[str, Any]]:
    """The summary rows (`table`, `exists`, `rows`, `approximate`, `latest`) as a bettor reads them: rows with
    thousands separators, the newest row's time and age, and a status (`ok`, `STALE: ...`, `empty`,
    `missing`)."""
    limits = STALE_AFTER if stale_after is None else stale_after
    out = []
    for row in rows:
        table = str(row["table"])
        latest = _parse(row.get("latest"))
        limit = limits.get(table)
        if not row.get("exists", True):
            status = "missing: run `odds db upgrade`"
        elif latest is None:
            status = "empty"
        elif limit is not None and now - latest > limit:
            status = f"STALE: nothing for {format_age(now - latest)} (expected within {format_age(limit)})"
        else:
            status = "ok"
        count = int(row.get("rows") or 0)
        out.append({
            "source": table,
            "rows": f"{'~' if row.get('approximate') else ''}{count:,}",
            "newest (UTC)": f"{latest:%Y-%m-%d %H:%M}" if latest else "",
            "age": format_age(now - latest) if latest else "",
            "status": status,
        })  # fmt: skip
    return out
