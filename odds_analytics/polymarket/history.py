"""CLOB price history and the backfill rules: windows, watermark coverage, retention, staleness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from odds_analytics.polymarket.parsing import PolymarketFinding, field_num
from odds_models.clock import SANE_TIMES
from odds_models.errors import PayloadError

__all__ = [
    "BACKFILL_FAIL_AFTER",
    "BACKFILL_WARN_AFTER",
    "FINE_HISTORY_RETENTION",
    "HISTORY_SETTLE",
    "HISTORY_WINDOW",
    "BackfillOutcome",
    "HistoryPoint",
    "backfill_range",
    "backfill_staleness",
    "backfill_verdict",
    "covered_by_answer",
    "expires_within",
    "history_windows",
    "next_history_start",
    "parse_price_history",
]


@dataclass(frozen=True)
class HistoryPoint:
    t: datetime
    p: float


def parse_price_history(
    payload: Any, *, token_id: str | None = None
) -> tuple[list[HistoryPoint], list[PolymarketFinding]]:
    """`/prices-history` `{"history": [{"t": secs, "p": float}, ...]}` as sorted, de-duplicated points.

    A broken envelope raises `PayloadError`; a single bad point (no t, a price outside [0, 1]) is dropped and
    reported as a `PolymarketFinding`. A timestamp sent twice with the same price is merged silently; with two
    different prices the last one is kept and one `pm_history_duplicate` finding reports them. Empty
    history is valid.
    """
    if not isinstance(payload, dict) or "history" not in payload:
        raise PayloadError("clob prices-history: expected {'history': [...]}")
    history = payload["history"]
    if history is None:
        return [], []
    if not isinstance(history, list):
        raise PayloadError("clob prices-history: 'history' is not a list")
    points: dict[int, float] = {}
    duplicates: list[tuple[int, float, float]] = []
    findings: list[PolymarketFinding] = []
    for item in history:
        if not isinstance(item, dict):
            raise PayloadError("clob prices-history: a point is not an object")
        t, p = item.get("t"), item.get("p")
        try:
            seconds = field_num(t, name="prices-history t")
            price = field_num(p, name="prices-history p")
        except PayloadError as exc:
            findings.append(
                PolymarketFinding("warning", "pm_history_point", f"dropped point: {exc}", token_id)
            )
            continue
        if (
            seconds is None
            or price is None
            or not 0.0 <= price <= 1.0
            or not SANE_TIMES[0].timestamp() <= seconds < SANE_TIMES[1].timestamp()
        ):
            findings.append(
                PolymarketFinding(
                    "warning", "pm_history_point", f"dropped point t={t!r:.30} p={p!r:.30}", token_id
                )
            )
            continue
        second = int(seconds)
        if second in points and points[second] != price:
            duplicates.append((second, points[second], price))
        points[second] = price
    if duplicates:
        t, first, last = duplicates[0]
        findings.append(PolymarketFinding("warning", "pm_history_duplicate",
                                f"{len(duplicates)} timestamp(s) with two different prices (first t={t}: {first:g} "
                                f"then {last:g}); the last one is kept", token_id))  # fmt: skip
    ordered = [HistoryPoint(datetime.fromtimestamp(t, UTC), points[t]) for t in sorted(points)]
    return ordered, findings


# --------------------------------------------------------------------------------------------------------
# Backfill planning
# --------------------------------------------------------------------------------------------------------

HISTORY_WINDOW = timedelta(days=15)
FINE_HISTORY_RETENTION = timedelta(days=30)


def history_windows(
    start: datetime, end: datetime, *, max_span: timedelta = HISTORY_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Contiguous windows of at most `max_span` covering [start, end]; each starts where the last ended.

    >>> len(history_windows(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)))
    2
    """
    if max_span <= timedelta(0):
        raise ValueError("max_span must be positive")
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        stop = min(cursor + max_span, end)
        windows.append((cursor, stop))
        cursor = stop
    return windows


HISTORY_SETTLE = timedelta(hours=1)  # after a market closes, its history is final once this has passed


def covered_by_answer(
    *,
    window_start: datetime,
    window_end: datetime,
    point_times: Sequence[datetime],
    market_end: datetime | None,
    now: datetime,
    settle: timedelta = HISTORY_SETTLE,
) -> tuple[datetime, datetime] | None:
    """The range one prices-history answer lets a token's watermark cover, or None.

    - a market that closed (`market_end`) at least `settle` ago: its history is final, so the whole
      window is covered, even when the answer is empty (the API confirms there is nothing there);
    - otherwise only up to the newest point stored: an empty answer covers nothing and a tail the API has
      not published yet (the newest minutes) stays to fetch, so a rerun asks for it again.

    >>> t0 = datetime(2026, 3, 1, tzinfo=UTC)
    >>> covered_by_answer(window_start=t0, window_end=t0 + timedelta(days=1), point_times=[],
    ...                   market_end=None, now=t0 + timedelta(days=1)) is None
    True
    """
    if market_end is not None and now >= market_end + settle:
        return window_start, window_end
    inside = [t for t in point_times if window_start < t <= window_end]
    if not inside:
        return None
    return window_start, max(inside)


def next_history_start(
    window_start: datetime, window_end: datetime, covered: tuple[datetime, datetime] | None
) -> datetime:
    """Where the next window of one backfill starts: at the end of what this answer covered (so the
    watermark's ranges stay contiguous), or at this window's end when the answer covered nothing new."""
    if covered is not None and window_start < covered[1] < window_end:
        return covered[1]
    return window_end


def backfill_range(
    *,
    now: datetime,
    lookback: timedelta,
    market_start: datetime | None,
    market_end: datetime | None,
    covered_from: datetime | None,
    covered_to: datetime | None,
) -> tuple[datetime, datetime] | None:
    """The part of a token's history still to fetch, or None when nothing is missing.

    The wanted range is [max(now - lookback, market start), min(now, market end)]; a watermark that already
    covers its start moves the start to the watermark's end (a rerun fetches only what is missing).
    """
    lower = now - lookback
    start = max(lower, market_start) if market_start else lower
    end = min(now, market_end) if market_end else now
    if covered_to is not None and covered_from is not None and covered_from <= start:
        start = max(start, covered_to)
    if start >= end:
        return None
    return start, end


def expires_within(
    *,
    now: datetime,
    horizon: timedelta,
    market_start: datetime | None,
    market_end: datetime | None,
    covered_to: datetime | None,
    retention: timedelta = FINE_HISTORY_RETENTION,
) -> datetime | None:
    """When a token's not-yet-fetched fine history starts expiring, if that is before `now + horizon`.

    The oldest missing point is at `covered_to` (or the market start); it expires `retention` after it.
    Fully fetched tokens (watermark at or past the market end) never expire for us.
    """
    end = min(now, market_end) if market_end else now
    oldest_missing = covered_to or market_start
    if oldest_missing is None or oldest_missing >= end:
        return None
    expiry = oldest_missing + retention
    return expiry if expiry <= now + horizon else None


BACKFILL_WARN_AFTER = timedelta(days=3)
BACKFILL_FAIL_AFTER = timedelta(days=5)


def backfill_staleness(last_success: datetime | None, now: datetime) -> tuple[str, str]:
    """('ok' | 'warn' | 'fail' | 'never', message) for the time since the last successful backfill.

    Fine-grained history expires after about 30 days and the backfill runs every 3 days: past 3 days a run
    was missed (warn); past 5 days data is at risk (fail loudly).
    """
    if last_success is None:
        return "never", "no successful Polymarket history backfill yet"
    age = now - last_success
    hours = age.total_seconds() / 3600
    text = f"last successful Polymarket backfill {hours / 24:.1f} days ago ({last_success.isoformat()})"
    if age > BACKFILL_FAIL_AFTER:
        return "fail", text + ": more than 5 days; fine-grained history (~30 days) is at risk"
    if age > BACKFILL_WARN_AFTER:
        return "warn", text + ": more than 3 days; the 3-day schedule missed a run"
    return "ok", text


@dataclass
class BackfillOutcome:
    """What one token's backfill did: windows and points stored, or the error it stopped on."""

    token_id: str
    windows: int = 0
    points: int = 0  # points stored (new rows)
    error: str | None = None
    transient: bool = False  # the error was retryable (429/5xx/transport after the client's retries)
    fetched: int = 0  # points answered; fetched - points were already stored (or repeated at a boundary)


def backfill_verdict(outcomes: Sequence[BackfillOutcome], staleness: tuple[str, str]) -> str | None:
    """Why a backfill run must fail (after saving everything it could), or None.

    - the previous success is more than 5 days old (fine-grained history is at risk);
    - a token's windows still failed with a retryable error after the client's retries (the run is
      incomplete; the next run resumes at the watermark). Final errors (404, 400) are recorded on the
      token's watermark (`last_error`) and reported, but do not fail the run.
    """
    reasons = []
    level, message = staleness
    if level == "fail":
        reasons.append(message)
    transient = [o for o in outcomes if o.transient]
    if transient:
        reasons.append(f"{len(transient)} tokens stopped on retryable errors (first: {transient[0].error})")
    return "; ".join(reasons) or None
