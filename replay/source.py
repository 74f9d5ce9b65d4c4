"""What a replay source provides. The routes do the API's parameter handling, filtering and costing; a
source only answers "what did the upstream know at time t".

Two implementations: `replay.simulate.SimulatedSource` (a seeded NBA slate with Polymarket markets) and
`replay.recorded.RecordedSource` (real historical Odds API responses from a folder; no Polymarket data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["Book", "HistoricalSnapshot", "Quote", "ReplaySource"]


@dataclass(frozen=True)
class Book:
    """A sportsbook as the simulator models it (region decides which `regions=` return it)."""

    key: str
    title: str
    region: str
    vig: float  # overround of a two-way market, e.g. 0.045
    lag_minutes: float  # how long the book takes to follow the true price
    step_minutes: float  # how often it updates
    sharp: bool = False


@dataclass(frozen=True)
class HistoricalSnapshot:
    """One historical `/odds` answer: the snapshot time, its neighbours and the events."""

    timestamp: datetime
    previous_timestamp: datetime | None
    next_timestamp: datetime | None
    data: list[dict[str, Any]]


@dataclass(frozen=True)
class Quote:
    """A CLOB token's best bid and ask (probabilities), mid and last trade."""

    bid: float
    ask: float
    mid: float
    last: float


class ReplaySource(Protocol):
    """Everything the routes ask a source. Times are aware UTC; events are Odds API shaped dicts
    (decimal prices, ISO times), which the routes filter and reformat."""

    label: str  # "simulated" or "recorded"

    def default_start(self) -> datetime: ...

    def region_of(self, bookmaker: str) -> str | None: ...

    def events(self, now: datetime) -> list[dict[str, Any]]: ...

    def odds(self, now: datetime) -> list[dict[str, Any]]: ...

    def scores(self, now: datetime, days_from: int | None) -> list[dict[str, Any]]: ...

    def historical_odds(self, date: datetime, now: datetime) -> HistoricalSnapshot | None: ...

    def historical_events(self, date: datetime, now: datetime) -> HistoricalSnapshot | None: ...

    # -- Polymarket (a recorded source has none) -------------------------------------------------------

    def gamma_events(self, now: datetime) -> list[dict[str, Any]]: ...

    def gamma_markets(self, now: datetime) -> list[dict[str, Any]]: ...

    def token_exists(self, token_id: str) -> bool: ...

    def book(self, token_id: str, now: datetime) -> dict[str, Any] | None: ...

    def quote(self, token_id: str, now: datetime) -> Quote | None: ...

    def history(
        self, token_id: str, start: datetime, end: datetime, fidelity_minutes: int, now: datetime
    ) -> list[dict[str, Any]]: ...

    def market_closed(self, token_id: str, now: datetime) -> bool: ...
