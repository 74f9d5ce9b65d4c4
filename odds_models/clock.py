"""The pipeline's clock: `now()` is `datetime.now(UTC)` unless a test or the replay demo injects another.

Every module asks `odds_models.clock.now()` for the current time, never `datetime.now` directly, so a
simulated day can play in seconds (the replay service moves the clock; the pipeline follows it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

__all__ = [
    "SANE_TIMES",
    "FrozenClock",
    "installed_clock",
    "now",
    "parse_iso_utc",
    "sane_time",
    "set_clock",
    "use_clock",
]

# The window every time read from an API response or an import file must fall in (start inclusive, end
# exclusive). A year-1 or year-9999 time parses, but it is a broken payload: stored, it would poison the
# as-of reads, the tiers and the watermarks. Outside it, the parsers raise `PayloadError`.
SANE_TIMES = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))

_clock: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    if _clock is None:
        return datetime.now(UTC)
    value = _clock()
    if value.tzinfo is None:
        raise ValueError("the injected clock returned a naive datetime")
    return value.astimezone(UTC)


def sane_time(moment: datetime, *, what: str, endpoint: str = "") -> datetime:
    """`moment` if it is aware and inside `SANE_TIMES`; `PayloadError` naming `what` otherwise."""
    from odds_models.errors import PayloadError

    if moment.tzinfo is None or not SANE_TIMES[0] <= moment < SANE_TIMES[1]:
        start, end = (f"{t:%Y-%m-%d}" for t in SANE_TIMES)
        raise PayloadError(f"{what} is out of range (outside {start}..{end})"[:300], endpoint=endpoint)
    return moment


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Install a clock for the whole process (None restores the system clock)."""
    global _clock  # noqa: PLW0603 - one process-wide clock is the point
    _clock = clock


def installed_clock() -> Callable[[], datetime] | None:
    """The clock installed with `set_clock` / `use_clock`, or None while the system clock is in use."""
    return _clock


@contextmanager
def use_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """Use `clock` inside the block, then restore the previous one."""
    previous = _clock
    set_clock(clock)
    try:
        yield
    finally:
        set_clock(previous)


class FrozenClock:
    """A clock that stands still until moved: `clock.advance(minutes=30)`."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.current = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self.current += delta if delta is not None else timedelta(**kwargs)
        return self.current

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self.current = moment.astimezone(UTC)


def parse_iso_utc(text: str) -> datetime:
    """An ISO 8601 time (`Z`, `z`, an offset, or none: taken as UTC) as an aware UTC datetime.

    Raises `ValueError` when it is not a time and `OverflowError` when it falls before year 1 in UTC (the
    callers turn both into their own `PayloadError`).
    """
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
