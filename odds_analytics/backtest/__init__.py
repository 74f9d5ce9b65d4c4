"""The backtest engine (pure): strategies, sizing, settlement, metrics. See docs/BACKTESTING_GUIDE.md."""

from odds_analytics.backtest.config import BacktestConfig
from odds_analytics.backtest.engine import BET_COLUMNS, BacktestResult, run_backtest_frames
from odds_analytics.backtest.quotes import build_quotes, decision_pairs
from odds_analytics.backtest.strategies import (
    STRATEGIES,
    Strategy,
    StrategyContext,
    UnknownStrategyError,
    get_strategy,
    register_strategy,
)

__all__ = [
    "BET_COLUMNS",
    "STRATEGIES",
    "BacktestConfig",
    "BacktestResult",
    "Strategy",
    "StrategyContext",
    "UnknownStrategyError",
    "build_quotes",
    "decision_pairs",
    "get_strategy",
    "register_strategy",
    "run_backtest_frames",
]
