"""Pure rules behind the credit budget and the safety of paid data: every attempt's credits, the month plan
(the tick's own due rule), the snapshot key's markets, lenient parsing, out-of-range times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from odds_analytics.oddsapi import markets_key, parse_odds_payload, parse_timestamp
from odds_analytics.quota import attempt_credits, plan_month
from odds_analytics.tiers import TierSpec, due_events
from odds_analytics.validation import rejected_event_findings
from odds_models.errors import PayloadError

T0 = datetime(2030, 1, 31, tzinfo=UTC)
Q3 = {"x-requests-last": "3", "x-requests-used": "3"}


@pytest.mark.parametrize(
    ("answers", "credits"),
    [
        ([(200, Q3)], 3),
        ([(200, Q3), (200, Q3)], 6),  # a body cut after the server charged, then a whole one
        ([(None, None), (200, Q3)], 6),  # no answer (timeout): the same request cost 3 when answered
        ([(None, None), (200, {"x-requests-last": "0"})], 0),  # ...and 0 when the slate was empty
        ([(None, None), (None, None)], 6),  # never answered: the documented cost, each time
        ([(500, None), (429, None), (200, Q3)], 3),  # errors without quota headers are not charged
        ([(422, {"x-requests-last": "0"})], 0),
        ([(200, {})], 3),  # a success without the quota headers: the documented cost
    ],
)
def test_every_attempt_of_a_paid_call_is_counted(answers: list, credits: int) -> None:
    assert attempt_credits(answers, 3) == credits


def _ticks_of_the_real_rule(games: list[datetime], *, until: datetime, tick: timedelta) -> int:
    """The tick as the flow runs it: a call when `due_events` says so; the call covers every listed game."""
    last: dict[str, datetime | None] = {str(i): None for i in range(len(games))}
    calls, t = 0, T0
    while t < until:
        listed = [(str(i), c, last[str(i)]) for i, c in enumerate(games) if c > t]
        if due_events(listed, now=t, spec=TierSpec()):
            calls += 1
            for key, _, _ in listed:
                last[key] = t
        t += tick
    return calls


def test_the_month_plan_makes_the_calls_the_tick_makes() -> None:
    hour = timedelta(hours=1)
    games = [T0 + 2 * hour, T0 + 10 * hour, T0 + 20 * hour, T0 + 60 * hour, T0 + 100 * hour, T0 + 300 * hour]
    plan = plan_month(games, now=T0, spec=TierSpec(), cost_per_call=3, tick_minutes=5)
    assert plan.end == T0 + timedelta(days=1)
    assert plan.calls == _ticks_of_the_real_rule(games, until=plan.end, tick=timedelta(minutes=5))
    assert plan.credits == 3 * plan.calls
    # a game covered a minute ago by a paid call is not due again yet
    covered = plan_month(games[3:], now=T0, spec=TierSpec(), cost_per_call=3, tick_minutes=5,
                         last_requested=[T0 - timedelta(minutes=1)] * 3)  # fmt: skip
    assert covered.calls == 0


def test_markets_key_is_sorted_unique_and_bounded() -> None:
    books = [
        {"markets": [{"key": "totals"}, {"key": "h2h"}]},
        {"markets": [{"key": "h2h"}, {"key": "spreads"}]},
    ]
    assert markets_key(books) == "h2h,spreads,totals"
    assert markets_key([]) == ""
    long = markets_key([{"markets": [{"key": f"player_{i:04d}"} for i in range(200)]}])
    assert len(long) == 512
    assert long.startswith("player_0000,")
    assert "+md5:" in long
    assert long != markets_key([{"markets": [{"key": f"player_{i:04d}"} for i in range(201)]}])


def _event(eid: str, **overrides: object) -> dict:
    event = {"id": eid, "commence_time": "2030-01-31T20:00:00Z", "home_team": "Boston Celtics",
             "away_team": "Miami Heat", "bookmakers": [{"key": "dk", "last_update": "2030-01-31T10:00:00Z",
             "markets": [{"key": "h2h", "outcomes": [{"name": "Boston Celtics", "price": 1.5},
                                                     {"name": "Miami Heat", "price": 2.7}]}]}]}  # fmt: skip
    return {**event, **overrides}


def test_lenient_parsing_keeps_the_good_events_and_names_the_bad_one() -> None:
    payload = [_event("a" * 32), _event("b" * 32, commence_time="not a time"), _event("c" * 32)]
    with pytest.raises(PayloadError, match="not ISO 8601"):
        parse_odds_payload(payload)
    parsed = parse_odds_payload(payload, lenient=True)
    assert [e.event.id for e in parsed.events] == ["a" * 32, "c" * 32]
    ((finding),) = rejected_event_findings(parsed.rejected)
    assert (finding.check_type, finding.event_id, finding.dropped) == ("malformed_event", "b" * 32, True)
    assert "event #1" in finding.detail
    with pytest.raises(PayloadError, match="and 1 more"):  # nothing usable at all: the response is broken
        parse_odds_payload([_event("b" * 32, home_team=None), {"id": 7}], lenient=True)


@pytest.mark.parametrize(
    "value", [-1e11, -62135596801, "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
)
def test_out_of_range_times_are_payload_errors(value: object) -> None:
    with pytest.raises(PayloadError, match=r"out of range|not a time"):
        parse_timestamp(value, endpoint="/odds", what="commence_time")
    with pytest.raises(PayloadError):
        parse_odds_payload([_event("a" * 32, commence_time=value)])


@pytest.mark.parametrize("score", ["99999999999999999999", 2**40, -3])
def test_a_score_that_cannot_be_stored_is_a_payload_error(score: object) -> None:
    from odds_analytics.oddsapi import parse_scores_payload

    game = {"id": "a" * 32, "commence_time": "2030-01-31T00:00:00Z", "home_team": "Boston Celtics",
            "away_team": "Miami Heat", "completed": True, "scores": [{"name": "Boston Celtics", "score": score}]}  # fmt: skip
    with pytest.raises(PayloadError, match="whole number from 0"):
        parse_scores_payload([game])
