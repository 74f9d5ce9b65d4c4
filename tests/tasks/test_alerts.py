"""The pipeline's own Prefect events (quota low, new picks) and the rule that fires the quota alert once.

Events go to Prefect's asserting test client (no server); the automations that react to them are tested
against a server in tests/odds_cli/test_prefect_ops.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from odds_analytics.quota import QuotaStatus, quota_crossed
from tasks.alerts import AUTOMATIONS, PICKS_EVENT, QUOTA_EVENT, emit_picks_published, emit_quota_low


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker
    from prefect.settings import PREFECT_API_URL, temporary_settings

    # the worker opens a Prefect client (never used here: no run context): any URL will do, nothing listens
    monkeypatch.setattr("tasks.alerts._in_run", lambda: True)  # as inside a flow run
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        worker = EventsWorker.instance(AssertingEventsClient)
        monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)
        events: list[Any] = []
        yield events
        worker.drain()


def _drained() -> list[Any]:
    from prefect.events.worker import EventsWorker

    worker = EventsWorker.instance()
    worker.drain()
    return list(worker._client.events)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("remaining", "used", "last", "expected"),
    [
        (95, 905, 10, 0.1),  # 10.5 % -> 9.5 %: crossed 10 %
        (195, 805, 10, 0.2),  # 20.5 % -> 19.5 %: crossed 20 %
        (85, 915, 10, None),  # 9.5 % -> 8.5 %: already below both, no new alert
        (300, 700, 10, None),  # healthy
        (50, 950, 200, 0.1),  # 25 % -> 5 %: one call crossed both; the lowest is reported
        (50, 950, None, 0.1),  # no cost header: below a level counts as crossing it
        (None, None, 3, None),  # no quota headers at all
    ],
)
def test_quota_crossed(
    remaining: int | None, used: int | None, last: int | None, expected: float | None
) -> None:
    assert quota_crossed(QuotaStatus(remaining, used, last), (0.2, 0.1)) == expected


def test_quota_low_event(sent: list[Any]) -> None:
    assert emit_quota_low(QuotaStatus(95, 905, 10), 0.1, "The Odds API quota is low: 95 credits remaining")
    (event,) = _drained()
    assert event.event == QUOTA_EVENT
    assert event.resource.id == "odds.oddsapi.quota"
    assert event.payload["remaining"] == 95
    assert event.payload["level"] == 0.1
    assert event.payload["fraction"] == 0.095
    assert "95 credits" in event.payload["message"]


def test_picks_event_lists_the_picks(sent: list[Any]) -> None:
    picks = [{"home_team": "Boston Celtics", "away_team": "Miami Heat", "market": "spreads", "outcome": "Miami Heat",
              "point": 5.5, "expected_clv": 0.0312, "best_venue": "draftkings",
              "commence_time": datetime(2026, 1, 13, 0, 30, tzinfo=UTC)}]  # fmt: skip
    assert not emit_picks_published(picks, new=0)  # nothing new: no event
    assert emit_picks_published(picks, new=1)
    (event,) = _drained()
    assert event.event == PICKS_EVENT
    assert event.payload["count"] == 1
    line = event.payload["picks"][0]
    assert "Miami Heat @ Boston Celtics" in line
    assert "+3.1%" in line
    assert "Tue 13 Jan 00:30 UTC" in line


def test_outside_a_run_nothing_is_emitted(sent: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tasks.alerts._in_run", lambda: False)
    assert emit_quota_low(QuotaStatus(95, 905, 10), 0.1, "low") is False
    assert _drained() == []


def test_reactive_alerts_listen_to_the_events_we_emit() -> None:
    expected = {e for spec in AUTOMATIONS for e in spec.trigger["expect"] if e.startswith("odds.")}
    assert expected == {QUOTA_EVENT, PICKS_EVENT}
