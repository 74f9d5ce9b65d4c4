"""The replay service's shared state and its FastAPI dependency."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from odds_models import clock as pipeline_clock
from replay.faults import FaultPlan
from replay.source import ReplaySource

__all__ = ["ReplayState", "StateDep", "get_state"]


@dataclass
class ReplayState:
    """Scenario (source), clock, accepted keys, the Odds API credit ledger and the fault plan.

    `api_keys=None` accepts any non-empty key; `clock` defaults to the pipeline's own clock, so a demo
    that installs a `FrozenClock` with `odds_models.clock.set_clock` moves both at once.
    """

    source: ReplaySource
    clock: Callable[[], datetime] = pipeline_clock.now
    api_keys: frozenset[str] | None = None
    quota_total: int = 20_000
    used: int = 0
    faults: FaultPlan = field(default_factory=FaultPlan.none)
    calls: Counter[str] = field(default_factory=Counter)
    credits_by_route: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()

    def now(self) -> datetime:
        return self.clock()

    @property
    def remaining(self) -> int:
        return max(0, self.quota_total - self.used)


def get_state(request: Request) -> ReplayState:
    return request.app.state.replay


StateDep = Annotated[ReplayState, Depends(get_state)]
