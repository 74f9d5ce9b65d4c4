"""Betting strategies and their registry. A strategy looks at the quotes of each decision and names its bets.

Adding a strategy is one class:

    @register_strategy
    class MyStrategy(Strategy):
        name = "my_strategy"
        def select(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
            ...  # return rows of `quotes` (the bets) with a `prob` column: your win probability

`select` receives `QUOTE_COLUMNS` rows (every venue's price at every decision, each with the fair
probability of its outcome where the quote is at the fair line) and returns the chosen quotes plus `prob`.
The engine then computes the edge `prob × price − 1`, drops every bet without a positive edge (unless the
strategy is the `flat` baseline, `requires_edge = False`), sizes, settles and scores them.

Built in:
- `flat` (baseline): always the same side (`side`: home, away, favorite, underdog, over, under) of one
  `market`, at the best available price. No edge estimate, flat stakes.
- `basic_ev`: the best price of each outcome against the devigged fair probability (sharp or consensus);
  bets the outcome with the largest edge when it exceeds `min_edge`.
- `line_shopping`: bets an outcome when one venue's price beats the median price of the other books by at
  least `min_improvement` (an off-market number) and still has positive edge against the fair price.
- `clv_model`: acts on the CLV model's predictions of the closing fair probability (or closing line):
  bets when the best price beats the predicted close by `min_edge`. Predictions come from
  `StrategyContext.predictions` (a DataFrame, read look-ahead-free: the latest prediction at or before the
  decision) or a `predictor` callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from odds_analytics.backtest.config import MARKETS
from odds_analytics.fair import shift_probability

__all__ = [
    "STRATEGIES",
    "BasicEV",
    "ClvModel",
    "Flat",
    "LineShopping",
    "Strategy",
    "StrategyContext",
    "UnknownStrategyError",
    "get_strategy",
    "register_strategy",
]


class UnknownStrategyError(ValueError):
    """A strategy name that is not registered, or parameters it does not take."""


@dataclass
class StrategyContext:
    """What a strategy may use besides the quotes (never anything dated after the decision)."""

    predictions: pd.DataFrame | None = None
    predictor: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Strategy:
    """Base class: set `name`, implement `select`. Parameters are keyword arguments of `__init__`."""

    name: ClassVar[str] = ""
    requires_edge: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        if params:
            raise UnknownStrategyError(f"strategy {self.name!r} takes no parameters {sorted(params)}")

    def params(self) -> dict[str, Any]:
        return {}

    def select(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
        raise NotImplementedError


STRATEGIES: dict[str, type[Strategy]] = {}


def register_strategy(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available by its `name` (CLI, flow, config)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a `name`")
    STRATEGIES[cls.name] = cls
    return cls


def get_strategy(name: str, **params: Any) -> Strategy:
    """The registered strategy `name` built with `params`; `UnknownStrategyError` otherwise."""
    if name not in STRATEGIES:
        raise UnknownStrategyError(
            f"unknown strategy {name!r}; choose one of {', '.join(sorted(STRATEGIES))}"
        )
    try:
        return STRATEGIES[name](**params)
    except (
        TypeError,
        ValueError,
    ) as exc:  # an unknown keyword, or a value of the wrong kind ("abc" for a number)
        raise UnknownStrategyError(f"bad parameters for strategy {name!r}: {exc}") from exc


def _number(
    strategy: str, name: str, value: Any, *, integer: bool = False, minimum: float | None = None
) -> float:
    """A numeric strategy parameter, or `UnknownStrategyError` saying what it must be."""
    wanted = ("a whole number" if integer else "a number") + ("" if minimum is None else f" >= {minimum:g}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if (
        not math.isfinite(number)
        or (minimum is not None and number < minimum)
        or (integer and not number.is_integer())
    ):
        raise UnknownStrategyError(f"{strategy}: {name} must be {wanted}, not {value!r}")
    return number


def _best(quotes: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The highest price per `keys` (ties: the earliest snapshot, then venue name, for determinism)."""
    if quotes.empty:
        return quotes
    ordered = quotes.sort_values([*keys, "price_decimal", "snapshot_time", "venue"],
                                 ascending=[True] * len(keys) + [False, True, True], kind="stable")  # fmt: skip
    return ordered.drop_duplicates(keys, keep="first")


_OUTCOME_KEYS = ["request_index", "market", "outcome", "point"]


@register_strategy
class Flat(Strategy):
    """Baseline: one fixed side of one market at the best price, whatever the price."""

    name = "flat"
    requires_edge = False
    SIDES: ClassVar[tuple[str, ...]] = ("home", "away", "favorite", "underdog", "over", "under")

    def __init__(self, side: str = "home", market: str = "h2h") -> None:
        if side not in self.SIDES:
            raise UnknownStrategyError(f"flat: side must be one of {', '.join(self.SIDES)}")
        if market not in MARKETS:
            raise UnknownStrategyError(f"flat: market must be one of {', '.join(MARKETS)}")
        if (side in ("over", "under")) != (market == "totals"):
            raise UnknownStrategyError("flat: over/under go with market totals, teams with h2h or spreads")
        self.side, self.market = side, market

    def params(self) -> dict[str, Any]:
        return {"side": self.side, "market": self.market}

    def select(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
        q = quotes[quotes["market"] == self.market]
        if self.market != "h2h":  # at the fair line where one exists, so every bet is on the main number
            at_line = q["fair_prob"].notna()
            has_line = q[at_line]["request_index"].unique()
            q = q[at_line | ~q["request_index"].isin(has_line)]
        if self.side in ("favorite", "underdog"):
            best = _best(q[q["side"].isin(["home", "away"])], ["request_index", "side"])
            shortest = best.groupby("request_index")["price_decimal"].transform("min")
            pick = (
                best["price_decimal"] == shortest
                if self.side == "favorite"
                else best["price_decimal"] > shortest
            )
            chosen = best[pick].drop_duplicates("request_index")
        else:
            chosen = _best(q[q["side"] == self.side], ["request_index"])
        return chosen.assign(prob=chosen["fair_prob"])


@register_strategy
class BasicEV(Strategy):
    """Best price vs the devigged fair probability; the largest positive edge per market."""

    name = "basic_ev"

    def __init__(self, min_edge: float = 0.02) -> None:
        self.min_edge = _number(self.name, "min_edge", min_edge, minimum=0)

    def params(self) -> dict[str, Any]:
        return {"min_edge": self.min_edge}

    def select(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
        q = quotes[quotes["fair_prob"].notna()]
        # One fair probability per (decision, market, outcome, point): the edge grows with the price, so the
        # best price of a group clears `min_edge` exactly when some quote of it does. Dropping the others
        # first leaves the same bets and spares sorting half a million quotes.
        edge = q["fair_prob"].to_numpy(dtype=float) * q["price_decimal"].to_numpy(dtype=float) - 1.0
        q = q[edge > self.min_edge]
        best = _best(q, _OUTCOME_KEYS)
        best = best.assign(prob=best["fair_prob"], _edge=best["fair_prob"] * best["price_decimal"] - 1.0)
        best = best[best["_edge"] > self.min_edge]
        best = best.sort_values(["request_index", "market", "_edge"], ascending=[True, True, False])
        return best.drop_duplicates(["request_index", "market"]).drop(columns="_edge")


@register_strategy
class LineShopping(Strategy):
    """An off-market price: the best venue beats the other books' median by `min_improvement`, with edge."""

    name = "line_shopping"

    def __init__(self, min_improvement: float = 0.03, min_books: int = 3) -> None:
        self.min_improvement = _number(self.name, "min_improvement", min_improvement)
        self.min_books = int(_number(self.name, "min_books", min_books, integer=True, minimum=1))

    def params(self) -> dict[str, Any]:
        return {"min_improvement": self.min_improvement, "min_books": self.min_books}

    def select(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
        q = quotes[quotes["fair_prob"].notna()]
        grouped = q.groupby(_OUTCOME_KEYS, dropna=False)["price_decimal"]
        q = q.assign(_median=grouped.transform("median"), _n=grouped.transform("size"))
        best = _best(q, _OUTCOME_KEYS)
        best = best[
            (best["_n"] >= self.min_books)
            & (best["price_decimal"] >= best["_median"] * (1 + self.min_improvement))
        ]
        best = best.assign(prob=best["fair_prob"], _edge=best["fair_prob"] * best["price_decimal"] - 1.0)
        best = best[best["_edge"] > 0].sort_values(
            ["request_index", "market", "_edge"], ascending=[True, True, False]
        )
        return best.drop_duplicates(["request_index", "market"]).drop(columns=["_edge", "_median", "_n"])


@register_strategy
class ClvModel(Strategy):
    """Bets where the best price beats the model's predicted closing fair probability by `min_edge`.

    `context.predictions` columns: event_id, market, outcome, decision_time, and `predicted_close`: a fair
    closing probability in (0, 1), or for spreads/totals a closing line (points), turned into a probability
    at the quote's point with `shift_probability` (a fair 50 % at the predicted line). Only predictions made
    at or before the decision are used (latest one).
    """

    name = "clv_model"

    def __init__(self, min_edge: float = 0.01) -> None:
        self.min_edge = _number(self.name, "min_edge", min_edge)

    def params(self) -> dict[str, Any]:
        return {"min_edge": self.min_edge}

    def _predicted(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
        if context.predictor is not None:
            pred = context.predictor(quotes)
            return quotes.merge(pred, on=["request_index", "market", "outcome"], how="inner")
        preds = context.predictions
        if preds is None or preds.empty:
            return quotes.iloc[0:0].assign(predicted_close=[])
        preds = preds[["event_id", "market", "outcome", "decision_time", "predicted_close"]].dropna()
        preds = preds.rename(columns={"decision_time": "prediction_time"})
        preds["prediction_time"] = pd.to_datetime(preds["prediction_time"], utc=True)
        left = quotes.sort_values("decision_time")
        for key in ("event_id", "market", "outcome"):
            if isinstance(left[key].dtype, pd.CategoricalDtype):  # the backtest reads keys as categoricals
                preds[key] = preds[key].astype(left[key].dtype)
        right = preds.dropna(subset=["event_id", "market", "outcome"]).sort_values("prediction_time")
        return pd.merge_asof(
            left, right, left_on="decision_time", right_on="prediction_time",
            by=["event_id", "market", "outcome"], direction="backward",
        ).dropna(subset=["predicted_close"])  # fmt: skip

    def select(self, quotes: pd.DataFrame, context: StrategyContext) -> pd.DataFrame:
        q = self._predicted(quotes, context)
        if q.empty:
            return q.assign(prob=[])
        pc = q["predicted_close"].astype(float).to_numpy()
        # The market says what the prediction is, never its value: h2h predicts a probability; spreads and
        # totals predict a line (a predicted spread of +0.5 points is not a 50 % probability).
        is_h2h = (q["market"] == "h2h").to_numpy()
        prob = np.where(is_h2h & (pc > 0) & (pc < 1), pc, np.nan)
        for market in ("spreads", "totals"):
            m = (q["market"] == market).to_numpy()
            if m.any():
                # A predicted closing line L for this outcome: fair 50 % at L, shifted to the quote's point.
                prob[m] = shift_probability(
                    0.5, pc[m], q["point"].to_numpy()[m], market, q["side"].to_numpy()[m]
                )
        q = q.assign(prob=prob).dropna(subset=["prob"])
        best = _best(q, _OUTCOME_KEYS)
        best = best.assign(_edge=best["prob"] * best["price_decimal"] - 1.0)
        best = best[best["_edge"] > self.min_edge].sort_values(["request_index", "market", "_edge"],
                                                                 ascending=[True, True, False])  # fmt: skip
        extra = [c for c in ("_edge", "prediction_time", "predicted_close") if c in best.columns]
        return best.drop_duplicates(["request_index", "market"]).drop(columns=extra)
