"""Pure parsing, conversion, validation, tiers, quota and planning (no DB, no engine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from odds_analytics.backfill import plan_backfill
from odds_analytics.oddsapi import (
    MAX_PRICE,
    american_to_decimal,
    convert_price,
    decimal_to_american,
    parse_odds_payload,
    parse_scores_payload,
    parse_timestamp,
    plan_status_changes,
)
from odds_analytics.quota import (
    QuotaStatus,
    budget_allows,
    odds_call_cost,
    plan_month,
    quota_from_headers,
    quota_warnings,
    snapshots_per_game,
)
from odds_analytics.tiers import TierSpec, due_events, tier_for, tier_names
from odds_analytics.validation import validate_event_odds
from odds_models.errors import PayloadError

T0 = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def _event(books: list, *, home: str = "Boston Celtics", away: str = "Miami Heat") -> dict:
    return {
        "id": "e" * 32,
        "commence_time": "2030-01-10T22:00:00Z",
        "home_team": home,
        "away_team": away,
        "bookmakers": books,
    }


def _book(*markets: dict, last_update: str = "2030-01-10T11:00:00Z") -> dict:
    return {"key": "bk", "title": "BK", "last_update": last_update, "markets": list(markets)}


@pytest.mark.parametrize(
    ("american", "decimal"), [(150, 2.5), (-200, 1.5), (100, 2.0), (-110, 1 + 100 / 110)]
)
def test_price_conversion_round_trips(american: int, decimal: float) -> None:
    assert american_to_decimal(american) == pytest.approx(decimal)
    assert decimal_to_american(decimal) == (100 if american == -100 else american)


@pytest.mark.parametrize("decimal", [1.00000001, 1.0000001, 1.0009])
def test_a_decimal_price_a_hair_above_one_is_invalid_not_an_int4_overflow(decimal: float) -> None:
    """-100 / (d - 1) beyond MAX_PRICE (1.00000001 -> -10^10, past int4): an invalid row with no American price,
    flagged by validation, instead of a value that makes the database refuse the whole write."""
    assert convert_price(decimal, american=False) == (decimal, None, False)
    assert convert_price(1.001, american=False) == (1.001, -round(MAX_PRICE), True)  # the edge still converts
    book = _book({"key": "h2h", "outcomes": [{"name": "Boston Celtics", "price": decimal},
                                            {"name": "Miami Heat", "price": 500.0}]})  # fmt: skip
    parsed = parse_odds_payload([_event([book])], endpoint="/odds")
    rows = parsed.events[0].rows
    assert [(r.price_american, r.price_valid) for r in rows] == [(None, False), (49900, True)]
    findings = validate_event_odds(parsed.events[0], snapshot_time=T0)
    assert "price_out_of_range" in {f.check_type for f in findings}


@pytest.mark.parametrize("bad", [50, -99, 0])
def test_american_below_100_is_invalid(bad: int) -> None:
    with pytest.raises(ValueError):
        american_to_decimal(bad)


def test_timestamps_iso_z_offset_and_unix() -> None:
    assert parse_timestamp("2023-11-07T00:10:00Z") == datetime(2023, 11, 7, 0, 10, tzinfo=UTC)
    assert parse_timestamp("2023-11-07T01:10:00+01:00") == datetime(2023, 11, 7, 0, 10, tzinfo=UTC)
    assert parse_timestamp(1699315800) == datetime(2023, 11, 7, 0, 10, tzinfo=UTC)
    with pytest.raises(PayloadError, match="not ISO 8601"):
        parse_timestamp("yesterday", endpoint="/odds")


@pytest.mark.parametrize(
    "value",
    ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z",
     "0001-01-01T00:00:00", 0, -62135596800, 4102444800],
)  # fmt: skip
def test_times_outside_the_sane_window_are_payload_errors(value: object) -> None:
    """A year-1 or year-9999 time parses as a datetime; it is still a broken payload, never stored."""
    with pytest.raises(PayloadError, match="out of range"):
        parse_timestamp(value, endpoint="/odds", what="commence_time")


def test_the_sane_window_edges() -> None:
    from odds_models.clock import SANE_TIMES

    assert parse_timestamp("2000-01-01T00:00:00Z") == SANE_TIMES[0]
    assert parse_timestamp("2099-12-31T23:59:59Z") < SANE_TIMES[1]


def test_american_detected_per_market_and_converted() -> None:
    parsed = parse_odds_payload(
        [
            _event(
                [
                    _book(
                        {
                            "key": "h2h",
                            "outcomes": [
                                {"name": "Boston Celtics", "price": -150},
                                {"name": "Miami Heat", "price": 130},
                            ],
                        }
                    )
                ]
            )
        ]
    )
    rows = {r.outcome: r for r in parsed.events[0].rows}
    assert rows["Boston Celtics"].price_decimal == pytest.approx(1 + 100 / 150)
    assert rows["Miami Heat"].price_american == 130
    assert validate_event_odds(parsed.events[0], snapshot_time=T0) == []


def test_missing_field_names_endpoint_and_field() -> None:
    with pytest.raises(
        PayloadError,
        match=r"/v4/sports/basketball_nba/odds: event e+ bookmaker bk market h2h outcome 'X' has no numeric price",
    ):
        parse_odds_payload(
            [_event([_book({"key": "h2h", "outcomes": [{"name": "X", "price": "abc"}]})])],
            endpoint="/v4/sports/basketball_nba/odds",
        )
    with pytest.raises(PayloadError, match="not an Odds API odds payload"):
        parse_odds_payload("nope")
    with pytest.raises(PayloadError, match="API error body"):
        parse_odds_payload({"message": "x", "error_code": "INVALID_KEY"})


def _checks(
    markets: list[dict], *, snapshot: datetime = T0, last_update: str = "2030-01-10T11:00:00Z"
) -> set[str]:
    parsed = parse_odds_payload([_event([_book(*markets, last_update=last_update)])], odds_format="decimal")
    return {f.check_type for f in validate_event_odds(parsed.events[0], snapshot_time=snapshot)}


def test_validation_finds_each_problem() -> None:
    assert _checks(
        [
            {
                "key": "h2h",
                "outcomes": [{"name": "Boston Celtics", "price": 1.2}, {"name": "Miami Heat", "price": 9.0}],
            }
        ]
    ) == {"negative_overround"}
    assert _checks(
        [
            {
                "key": "h2h",
                "outcomes": [{"name": "Boston Celtics", "price": 1.3}, {"name": "Miami Heat", "price": 1.5}],
            }
        ]
    ) == {"overround_too_large"}
    assert _checks([{"key": "h2h", "outcomes": [{"name": "Boston Celtics", "price": 1.9}]}]) == {
        "missing_outcome"
    }
    assert _checks(
        [
            {
                "key": "spreads",
                "outcomes": [
                    {"name": "Boston Celtics", "price": 1.91, "point": -3.5},
                    {"name": "Miami Heat", "price": 1.91, "point": 4.5},
                ],
            }
        ]
    ) == {"spread_not_mirrored"}
    assert _checks(
        [
            {
                "key": "totals",
                "outcomes": [
                    {"name": "Over", "price": 1.91, "point": 220.5},
                    {"name": "Under", "price": 1.91, "point": 221.5},
                ],
            }
        ]
    ) == {"total_points_mismatch"}
    assert _checks(
        [
            {
                "key": "h2h",
                "outcomes": [{"name": "Boston Celtics", "price": 1.91}, {"name": "LA Lakers", "price": 1.91}],
            }
        ]
    ) == {"unknown_outcome_name"}
    assert _checks(
        [
            {
                "key": "h2h",
                "outcomes": [{"name": "Boston Celtics", "price": 1.0}, {"name": "Miami Heat", "price": 1.91}],
            }
        ]
    ) == {"price_out_of_range"}
    assert _checks(
        [
            {
                "key": "h2h",
                "outcomes": [
                    {"name": "Boston Celtics", "price": 1.91},
                    {"name": "Miami Heat", "price": 1.91},
                ],
            }
        ],
        last_update="2030-01-10T13:00:00Z",
    ) == {"future_timestamp"}
    assert _checks(
        [
            {
                "key": "h2h",
                "outcomes": [
                    {"name": "Boston Celtics", "price": 1.91},
                    {"name": "Boston Celtics", "price": 1.95},
                    {"name": "Miami Heat", "price": 1.91},
                ],
            }
        ]
    ) == {"duplicate_outcome"}


def test_fingerprint_is_stable_and_specific() -> None:
    parsed = parse_odds_payload(
        [_event([_book({"key": "h2h", "outcomes": [{"name": "Boston Celtics", "price": 1.9}]})])]
    )
    (finding,) = validate_event_odds(parsed.events[0], snapshot_time=T0)
    a = finding.fingerprint(source="live", snapshot_time=T0)
    assert a == finding.fingerprint(source="live", snapshot_time=T0)
    assert a != finding.fingerprint(source="live", snapshot_time=T0 + timedelta(minutes=5))


def test_tiers_and_boundaries() -> None:
    assert tier_names([72, 24, 12, 3]) == [">72h", "24-72h", "12-24h", "3-12h", "<3h"]
    assert [tier_for(h) for h in (100, 72, 30, 24, 13, 12, 5, 3, 0.5, 0, -1)] == [
        ">72h",
        "24-72h",
        "24-72h",
        "12-24h",
        "12-24h",
        "3-12h",
        "3-12h",
        "<3h",
        "<3h",
        None,
        None,
    ]
    with pytest.raises(ValueError, match="need 5 intervals"):
        TierSpec(boundaries=(72, 24, 12, 3), intervals_minutes=(1, 2))


def test_due_events_respects_tier_cadence() -> None:
    listed = [
        ("never", T0 + timedelta(hours=50), None),
        ("fresh-near", T0 + timedelta(hours=2), T0 - timedelta(minutes=10)),  # <3h: every 30 min
        ("stale-near", T0 + timedelta(hours=2), T0 - timedelta(minutes=31)),
        ("far-recent", T0 + timedelta(hours=100), T0 - timedelta(hours=20)),  # >72h: every 48 h
        ("started", T0 - timedelta(minutes=5), None),
    ]
    assert [d.event_id for d in due_events(listed, now=T0)] == ["never", "stale-near"]


def test_quota_headers_warnings_budget() -> None:
    status = quota_from_headers(
        {"X-Requests-Remaining": "45", "x-requests-used": "455", "x-requests-last": "3"}
    )
    assert status == QuotaStatus(remaining=45, used=455, last=3)
    assert "10%" in quota_warnings(status)[0]
    assert "20%" in quota_warnings(QuotaStatus(90, 410, 1))[0]
    assert quota_warnings(QuotaStatus(400, 100, 1)) == []
    assert odds_call_cost(["h2h", "spreads", "totals"], ["us"]) == 3
    assert odds_call_cost(["h2h"], ["us"], [f"b{i}" for i in range(11)]) == 2
    assert odds_call_cost(["h2h", "spreads"], ["us", "eu"], historical=True) == 40
    assert budget_allows(spent_this_month=98, cost=3, budget=100) is False
    assert budget_allows(spent_this_month=100, cost=0, budget=100) is True  # free calls are never blocked


def test_month_plan_counts_calls_and_snapshots() -> None:
    spec = TierSpec()
    games = [T0 + timedelta(hours=30), T0 + timedelta(hours=30, minutes=30)]
    plan = plan_month(
        games, now=T0, spec=spec, cost_per_call=3, tick_minutes=30, budget=1000, until=T0 + timedelta(days=2)
    )
    # both games share the calls: 24-72h once, 12-24h once, 3-12h three times, <3h six times (+1 overlap)
    assert plan.snapshots_by_tier["24-72h"] >= 1
    assert 5 <= plan.snapshots_by_tier["<3h"] <= 7
    assert plan.credits == plan.calls * 3
    assert plan.within_budget
    ideal = snapshots_per_game(spec)
    assert ideal == {">72h": 2, "24-72h": 2, "12-24h": 1, "3-12h": 3, "<3h": 6}


def test_backfill_plan_groups_skips_covered_and_respects_budget() -> None:
    g1 = ("g1", T0, [T0 - timedelta(hours=12, minutes=5)])
    g2 = ("g2", T0 + timedelta(minutes=2), [])
    plan = plan_backfill(
        [g1, g2], offsets_hours=[12, 3], cost_per_call=30, budget=60, now=T0 + timedelta(days=1)
    )
    assert plan.wanted == 4
    assert plan.already_covered == 1
    # g1@-3h and g2@-3h fall in the same 5-minute slot (09:00): one call fills both
    assert [c.date for c in plan.calls] == [T0 - timedelta(hours=12), T0 - timedelta(hours=3)]
    assert plan.calls[0].fills == (("g2", 12),)
    assert plan.calls[1].fills == (("g1", 3), ("g2", 3))
    assert plan.credits == 60
    tight = plan_backfill(
        [g1, g2], offsets_hours=[12, 3], cost_per_call=30, budget=30, now=T0 + timedelta(days=1)
    )
    assert [c.date for c in tight.calls] == [T0 - timedelta(hours=3)]  # the call that fills most wins
    assert tight.dropped_for_budget == 1


def test_scores_status_and_vanished_or_moved() -> None:
    data = [
        {
            "id": "a" * 32,
            "commence_time": "2030-01-09T00:00:00Z",
            "home_team": "Utah Jazz",
            "away_team": "Miami Heat",
            "completed": True,
            "scores": [{"name": "Utah Jazz", "score": "101"}, {"name": "Miami Heat", "score": "99"}],
            "last_update": "2030-01-09T03:00:00Z",
        },
        {
            "id": "b" * 32,
            "commence_time": "2030-01-12T00:00:00Z",
            "home_team": "Utah Jazz",
            "away_team": "Boston Celtics",
            "completed": False,
            "scores": None,
            "last_update": None,
        },
    ]
    updates = parse_scores_payload(data)
    assert [(u.status, u.home_score, u.away_score) for u in updates] == [
        ("final", 101, 99),
        ("scheduled", None, None),
    ]
    known = [
        ("a" * 32, T0 - timedelta(days=1, hours=12), "live"),
        ("b" * 32, T0, "scheduled"),  # moved by 36 h -> postponed
        ("c" * 32, T0 - timedelta(hours=5), "scheduled"),
    ]  # should be listed, is not -> cancelled
    cancelled, postponed = plan_status_changes(known, updates, now=T0, days_from=2)
    assert (cancelled, postponed) == (["c" * 32], ["b" * 32])
    assert plan_status_changes(known, updates, now=T0, days_from=None)[0] == []
    with pytest.raises(PayloadError, match="neither team"):
        parse_scores_payload([{**data[0], "scores": [{"name": "Lakers", "score": "1"}]}])
    with pytest.raises(PayloadError, match="whole number"):
        parse_scores_payload([{**data[0], "scores": [{"name": "Utah Jazz", "score": "1O1"}]}])


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_a_historical_file_stamped_outside_the_sane_window_is_refused_whole(stamp: str) -> None:
    """The historical wrapper's own `timestamp` becomes every stored snapshot's time: a year-1 one is refused,
    even when the paid answer is parsed leniently (the envelope must parse)."""
    event = {"id": "e" * 32, "sport_key": "basketball_nba", "commence_time": "2024-01-02T00:10:00Z",
             "home_team": "Boston Celtics", "away_team": "Miami Heat", "bookmakers": []}  # fmt: skip
    wrapper = {"timestamp": stamp, "previous_timestamp": None, "next_timestamp": None, "data": [event]}
    for lenient in (False, True):
        with pytest.raises(PayloadError, match=r"historical timestamp.*out of range"):
            parse_odds_payload(wrapper, endpoint="/v4/historical/sports/basketball_nba/odds", lenient=lenient)
    ok = parse_odds_payload({**wrapper, "timestamp": "2024-01-01T12:00:00Z"}, endpoint="/historical/odds")
    assert len(ok.events) == 1
