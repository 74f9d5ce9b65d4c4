"""The time-window rules of the notebook readers (flows/notebook.py), without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from odds_models.tables import Odds
from tasks.storage.notebook import _window, as_utc_bound


def test_dates_are_utc_midnights_and_an_end_date_includes_its_day() -> None:
    assert as_utc_bound(date(2024, 1, 15)) == datetime(2024, 1, 15, tzinfo=UTC)
    assert as_utc_bound(date(2024, 1, 15), end=True) == datetime(2024, 1, 16, tzinfo=UTC)
    assert as_utc_bound(None) is None


def test_datetimes_convert_to_utc_and_naive_ones_are_read_as_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert as_utc_bound(datetime(2024, 1, 15, 19, 30, tzinfo=eastern)) == datetime(
        2024, 1, 16, 0, 30, tzinfo=UTC
    )
    naive = datetime(2024, 1, 15, 12, 0)  # noqa: DTZ001 - a notebook user's naive input, read as UTC
    assert as_utc_bound(naive) == datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    # a datetime end is exclusive as given, never pushed to the next day
    assert as_utc_bound(datetime(2024, 1, 15, 12, tzinfo=UTC), end=True) == datetime(
        2024, 1, 15, 12, tzinfo=UTC
    )


def test_window_conditions_and_inverted_windows() -> None:
    column = Odds.__table__.c.snapshot_time  # type: ignore[attr-defined]
    assert len(_window(column, None, None)) == 0
    assert len(_window(column, date(2024, 1, 1), None)) == 1
    assert len(_window(column, date(2024, 1, 1), date(2024, 1, 1))) == 2  # one whole day
    with pytest.raises(ValueError, match="must be after start"):
        _window(column, date(2024, 1, 2), date(2024, 1, 1))
    with pytest.raises(ValueError, match="must be after start"):
        _window(column, datetime(2024, 1, 1, 12, tzinfo=UTC), datetime(2024, 1, 1, 12, tzinfo=UTC))
