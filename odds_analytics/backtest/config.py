"""The parameters of a backtest, validated (pydantic), with a description per field."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from odds_analytics.devig import DEVIG_METHODS
from odds_analytics.execution import FeeTerms

__all__ = ["MARKETS", "BacktestConfig", "scheduled_window"]

MARKETS = ("h2h", "spreads", "totals")


class BacktestConfig(BaseModel):
    """Everything that decides a backtest's bets. Two runs with equal configs on equal data are one run."""

    model_config = ConfigDict(extra="forbid")

    strategy: str = Field(description="Registered strategy name: flat, basic_ev, line_shopping, clv_model.")
    strategy_params: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of the strategy."
    )
    start: date = Field(description="First tip-off date (UTC), inclusive.")
    end: date = Field(description="Last tip-off date (UTC), inclusive.")
    decision_hours: list[float] = Field(
        default=[1.0, 3.0, 12.0], description="Decision times, in hours before tip-off (one bet chance each)."
    )
    markets: list[str] = Field(
        default=["h2h", "spreads", "totals"], description="Markets the strategy may bet."
    )
    venues: list[str] | None = Field(
        default=None, description="Sportsbooks the bettor can bet at (None = every book in the data)."
    )
    include_polymarket: bool = Field(
        default=True,
        description="Also bet linked Polymarket moneylines: filled on the stored book at the stake when one "
        "is current at the decision, else at the best ask; each market's own fee terms.",
    )
    polymarket_default_fee_rate: float = Field(
        default=0.03,
        ge=0,
        le=1,
        description="Taker fee rate assumed (and flagged) for a Polymarket market whose fee terms Gamma does "
        "not state (POLYMARKET_DEFAULT_FEE_RATE).",
    )
    polymarket_default_fee_exponent: float = Field(
        default=1.0, ge=0, description="Exponent of the assumed fee (POLYMARKET_DEFAULT_FEE_EXPONENT)."
    )
    fair_basis: Literal["sharp", "consensus"] = Field(
        default="consensus",
        description="Fair price from the sharp-book priority list or the median of books.",
    )
    sharp_books: list[str] = Field(
        default=["pinnacle", "circasports", "lowvig", "betonlineag"], description="Sharp books, best first."
    )
    devig_method: str = Field(
        default="multiplicative", description="multiplicative, additive, power or shin."
    )
    staking: Literal["flat", "kelly"] = Field(default="flat", description="Flat stakes or fractional Kelly.")
    stake: float = Field(default=1.0, gt=0, description="Flat stake in units.")
    bankroll: float = Field(
        default=100.0, gt=0, description="Starting bankroll in units (Kelly, Sharpe basis)."
    )
    kelly_fraction: float = Field(default=0.25, gt=0, le=1, description="Fraction of full Kelly.")
    max_bet_fraction: float = Field(
        default=0.05, gt=0, le=1, description="Cap on one stake, share of bankroll."
    )
    max_stake: float | None = Field(default=None, gt=0, description="Cap on one stake in units.")
    min_stake: float = Field(
        default=0.0,
        ge=0,
        description="Stakes below this are skipped (checked after the edge, never raises one).",
    )
    one_bet_per_market: bool = Field(
        default=True,
        description="At most one bet per event and market (the earliest decision that qualifies).",
    )
    max_staleness_minutes: float = Field(
        default=24 * 60.0,
        gt=0,
        description="Window of the as-of read (the bound below decides what is used).",
    )
    max_quote_age_minutes: float = Field(
        default=90.0,
        gt=0,
        description="A price older than this at the decision is not used (every venue; odds_analytics.staleness).",
    )
    close_window_minutes: float = Field(
        default=120.0, gt=0, description="A snapshot counts as the close when this close to tip-off."
    )
    n_bootstrap: int = Field(
        default=2000, ge=0, le=100_000, description="Bootstrap resamples for the ROI CI."
    )
    n_permutations: int = Field(default=2000, ge=0, le=100_000, description="Random-side permutations.")
    seed: int = Field(default=7, description="Seed of the bootstrap and permutation draws.")

    @field_validator("decision_hours")
    @classmethod
    def _positive_hours(cls, value: list[float]) -> list[float]:
        if not value or any(h <= 0 for h in value):
            raise ValueError("decision_hours must be one or more positive numbers")
        return sorted(set(value), reverse=True)

    @field_validator("devig_method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in DEVIG_METHODS:
            raise ValueError(f"devig_method must be one of {', '.join(DEVIG_METHODS)}")
        return value

    @field_validator("markets")
    @classmethod
    def _known_markets(cls, value: list[str]) -> list[str]:
        bad = [m for m in value if m not in MARKETS]
        if bad or not value:
            raise ValueError(f"markets must be among {', '.join(MARKETS)} (got {value})")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> BacktestConfig:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def polymarket_default_terms(self) -> FeeTerms:
        """The fee terms used, flagged `assumed`, for a market whose terms Gamma did not state."""
        return FeeTerms(
            enabled=True,
            rate=self.polymarket_default_fee_rate,
            exponent=self.polymarket_default_fee_exponent,
            assumed=True,
        )

    def key(self, data_fingerprint: str = "") -> str:
        """Stable hash of the parameters and a fingerprint of the data: the `backtest_runs.run_key`."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True) + "|" + data_fingerprint
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


SEASON_START_MONTH = 10  # NBA seasons tip off in October and end by June


def scheduled_window(today: date, variable: Any = None) -> tuple[str, date, date]:
    """The weekly backtest's strategy and window: from the Prefect Variable `backtest-window` when it is set,
    else the current season to date (from 1 October to yesterday), or, in its first two weeks, the last
    complete season (1 October to 30 June). The variable is a JSON object: `{"start": "2023-10-24", "end":
    "2024-04-14"}` or `{"last_days": 90}`, with an optional `"strategy"` (default `basic_ev`).

    >>> scheduled_window(date(2026, 12, 7))
    ('basic_ev', datetime.date(2026, 10, 1), datetime.date(2026, 12, 6))
    >>> scheduled_window(date(2026, 10, 5))
    ('basic_ev', datetime.date(2025, 10, 1), datetime.date(2026, 6, 30))
    >>> scheduled_window(date(2026, 12, 7), {"last_days": 30, "strategy": "flat"})
    ('flat', datetime.date(2026, 11, 7), datetime.date(2026, 12, 6))
    """
    from datetime import timedelta

    if isinstance(variable, str) and variable.strip():
        try:
            variable = json.loads(variable)
        except json.JSONDecodeError:
            raise ValueError(f"the Prefect Variable backtest-window is not JSON: {variable[:80]!r}") from None
    yesterday = today - timedelta(days=1)
    spec = variable if isinstance(variable, dict) else {}
    strategy = str(spec.get("strategy") or "basic_ev")
    if "start" in spec or "end" in spec:
        start = date.fromisoformat(str(spec["start"]))
        end = date.fromisoformat(str(spec["end"])) if spec.get("end") else yesterday
    elif spec.get("last_days"):
        start, end = yesterday - timedelta(days=int(spec["last_days"]) - 1), yesterday
    else:
        year = today.year if today.month >= SEASON_START_MONTH else today.year - 1
        start, end = date(year, SEASON_START_MONTH, 1), yesterday
        if (end - start).days < 14:  # too little of the new season yet: the last complete one
            start, end = date(year - 1, SEASON_START_MONTH, 1), date(year, 6, 30)
    if end < start:
        raise ValueError(f"backtest window ends ({end}) before it starts ({start})")
    return strategy, start, end
