"""Pure rules of the history backfill: what an answer lets the watermark cover, where the next window
starts, duplicate timestamps as findings, out-of-range Gamma times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from odds_analytics.polymarket.history import covered_by_answer, next_history_start, parse_price_history
from odds_analytics.polymarket.parsing import parse_gamma_datetime
from odds_models.errors import PayloadError

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def test_an_answer_covers_up_to_its_newest_point_only() -> None:
    start, end = T0, T0 + 15 * DAY
    points = [T0, T0 + DAY, T0 + 14 * DAY]
    assert covered_by_answer(window_start=start, window_end=end, point_times=points, market_end=None,
                             now=end) == (start, T0 + 14 * DAY)  # fmt: skip
    # empty, or only the boundary point the previous window already had: nothing new is covered
    for answer in ([], [T0]):
        assert covered_by_answer(window_start=start, window_end=end, point_times=answer, market_end=None,
                                 now=end) is None  # fmt: skip


def test_a_closed_markets_settled_history_is_covered_whole_even_empty() -> None:
    start, end = T0, T0 + 10 * DAY
    settled = covered_by_answer(window_start=start, window_end=end, point_times=[], market_end=end,
                                now=end + timedelta(hours=2))  # fmt: skip
    assert settled == (start, end)
    just_closed = covered_by_answer(window_start=start, window_end=end, point_times=[], market_end=end,
                                    now=end + timedelta(minutes=10))  # fmt: skip
    assert just_closed is None  # the API may not have published the last minutes yet


def test_the_next_window_starts_where_the_coverage_ends() -> None:
    start, end = T0, T0 + 15 * DAY
    assert next_history_start(start, end, (start, T0 + 14 * DAY)) == T0 + 14 * DAY
    assert next_history_start(start, end, (start, end)) == end
    assert next_history_start(start, end, None) == end  # no progress: move on, the gap stays uncovered


def test_two_prices_for_one_timestamp_are_a_finding() -> None:
    points, findings = parse_price_history(
        {"history": [{"t": 1_770_000_100, "p": 0.2}, {"t": 1_770_000_100, "p": 0.3},
                     {"t": 1_770_000_160, "p": 0.4}, {"t": 1_770_000_160, "p": 0.4}]},
        token_id="7",
    )  # fmt: skip
    assert [(int(p.t.timestamp()), p.p) for p in points] == [(1_770_000_100, 0.3), (1_770_000_160, 0.4)]
    ((finding),) = findings
    assert finding.check_type == "pm_history_duplicate"
    assert "1 timestamp(s) with two different prices" in finding.detail


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"])
def test_out_of_range_gamma_times_are_payload_errors(value: str) -> None:
    with pytest.raises(PayloadError, match="out of range"):
        parse_gamma_datetime(value, name="startDate")
