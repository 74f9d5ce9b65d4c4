"""Fetch tiers by hours to tip-off, and which events are due a snapshot (pure).

Default tiers (settings `TIER_BOUNDARIES_HOURS=72,24,12,3`, `TIER_INTERVALS_MINUTES=2880,1440,720,180,30`):

| tier | hours to tip | cadence |
|---|---|---|
| `>72h` | more than 72 | every 48 h |
| `24-72h` | 24 to 72 | every 24 h |
| `12-24h` | 12 to 24 | every 12 h |
| `3-12h` | 3 to 12 | every 3 h |
| `<3h` | under 3 | every 30 min |

Games that have started (hours ≤ 0) are in no tier and never due.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

__all__ = ["DueEvent", "TierSpec", "due_events", "hours_to_commence", "tier_for", "tier_names"]

# A tick that lands a little early (cron jitter, a slow previous run) still counts as on time.
DUE_TOLERANCE = timedelta(minutes=2)


def _fmt(hours: float) -> str:
    return f"{hours:g}"


def tier_names(boundaries: Sequence[float]) -> list[str]:
    """Names for the tiers cut by descending `boundaries`: [72, 24, 12, 3] → >72h, 24-72h, 12-24h, 3-12h, <3h."""
    edges = sorted(boundaries, reverse=True)
    if not edges:
        return ["all"]
    names = [f">{_fmt(edges[0])}h"]
    names.extend(f"{_fmt(lo)}-{_fmt(hi)}h" for hi, lo in pairwise(edges))
    names.append(f"<{_fmt(edges[-1])}h")
    return names


@dataclass(frozen=True)
class TierSpec:
    """Tier boundaries (hours, descending) and the snapshot interval (minutes) of each tier."""

    boundaries: tuple[float, ...] = (72.0, 24.0, 12.0, 3.0)
    intervals_minutes: tuple[float, ...] = (2880.0, 1440.0, 720.0, 180.0, 30.0)

    def __post_init__(self) -> None:
        if len(self.intervals_minutes) != len(self.boundaries) + 1:
            raise ValueError(
                f"{len(self.boundaries)} tier boundaries need {len(self.boundaries) + 1} intervals, "
                f"got {len(self.intervals_minutes)} (TIER_BOUNDARIES_HOURS / TIER_INTERVALS_MINUTES)"
            )
        if list(self.boundaries) != sorted(self.boundaries, reverse=True):
            raise ValueError("TIER_BOUNDARIES_HOURS must be descending")
        if any(i <= 0 for i in self.intervals_minutes):
            raise ValueError("TIER_INTERVALS_MINUTES must be positive")

    @classmethod
    def from_settings(cls, settings: object) -> TierSpec:
        return cls(
            boundaries=tuple(getattr(settings, "tier_boundaries_hours", cls.boundaries)),
            intervals_minutes=tuple(getattr(settings, "tier_intervals_minutes", cls.intervals_minutes)),
        )

    @property
    def names(self) -> list[str]:
        return tier_names(self.boundaries)

    def index(self, hours: float) -> int | None:
        """Tier index for `hours` to tip (0 = farthest); None once the game has started."""
        if hours <= 0:
            return None
        for i, edge in enumerate(self.boundaries):
            if hours > edge:
                return i
        return len(self.boundaries)

    def interval(self, hours: float) -> timedelta | None:
        i = self.index(hours)
        return None if i is None else timedelta(minutes=self.intervals_minutes[i])


def hours_to_commence(commence_time: datetime, at: datetime) -> float:
    """Hours from `at` to tip-off (negative once started)."""
    return (commence_time - at).total_seconds() / 3600.0


def tier_for(hours: float, spec: TierSpec | None = None) -> str | None:
    """The tier name for `hours` to tip, e.g. 30.0 → `24-72h`; None when the game has started."""
    spec = spec or TierSpec()
    i = spec.index(hours)
    return None if i is None else spec.names[i]


@dataclass(frozen=True)
class DueEvent:
    event_id: str
    tier: str
    hours_to_commence: float
    last_snapshot: datetime | None


def due_events(
    events: Iterable[tuple[str, datetime, datetime | None]], *, now: datetime, spec: TierSpec | None = None
) -> list[DueEvent]:
    """Events due a snapshot: (event_id, commence_time, last time) → the due ones.

    The last time is when the game was last covered: its last live snapshot, or the last paid call that
    could have returned it (a game listed before any book prices it has no snapshot, and must not make
    every tick pay), whichever is later; None when neither happened. An event is due when it has not
    started and that time is older than its tier's interval (less `DUE_TOLERANCE`), or it has none.
    The month plan (`odds_analytics.quota.plan_month`) runs this same rule.
    """
    spec = spec or TierSpec()
    due: list[DueEvent] = []
    for event_id, commence, last in events:
        hours = hours_to_commence(commence, now)
        index = spec.index(hours)
        if index is None:
            continue
        interval = timedelta(minutes=spec.intervals_minutes[index])
        if last is None or now - last >= interval - DUE_TOLERANCE:
            due.append(DueEvent(event_id, spec.names[index], hours, last))
    return due
