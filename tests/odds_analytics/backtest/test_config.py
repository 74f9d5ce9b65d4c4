"""The weekly backtest's window comes from the date (or a Prefect Variable), never from a season typed into
prefect.yaml that someone must move each October."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from odds_analytics.backtest.config import scheduled_window

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 12, 7), (date(2026, 10, 1), date(2026, 12, 6))),  # the season to date
        (
            date(2027, 3, 1),
            (date(2026, 10, 1), date(2027, 2, 28)),
        ),  # January-June: the season began last year
        (
            date(2026, 10, 5),
            (date(2025, 10, 1), date(2026, 6, 30)),
        ),  # its first two weeks: the last full season
        (date(2026, 8, 1), (date(2025, 10, 1), date(2026, 7, 31))),  # summer: the whole last season
    ],
)
def test_window_from_the_date(today: date, expected: tuple[date, date]) -> None:
    assert scheduled_window(today)[1:] == expected


def test_window_from_the_variable() -> None:
    today = date(2026, 12, 7)
    assert scheduled_window(today, {"start": "2023-10-24", "end": "2024-04-14"}) == (
        "basic_ev", date(2023, 10, 24), date(2024, 4, 14))  # fmt: skip
    assert scheduled_window(today, '{"last_days": 7, "strategy": "flat"}') == (
        "flat", date(2026, 11, 30), date(2026, 12, 6))  # fmt: skip
    assert scheduled_window(today, {"start": "2026-11-01"})[1:] == (date(2026, 11, 1), date(2026, 12, 6))
    with pytest.raises(ValueError, match="not JSON"):
        scheduled_window(today, "last 30 days")
    with pytest.raises(ValueError, match="before it starts"):
        scheduled_window(today, {"start": "2027-01-01"})


def test_prefect_yaml_holds_no_fixed_backtest_season() -> None:
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    (backtest,) = [d for d in deployments if d["name"] == "run-backtest"]
    assert "config" not in (backtest.get("parameters") or {})
