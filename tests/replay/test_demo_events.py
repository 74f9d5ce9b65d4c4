"""The demo sends no Prefect events (its server would drop them): `replay.stage._events_sent` gives Prefect's
events worker the `NullEventsClient` inside the demo only, and puts back whatever was there before."""

from __future__ import annotations

from prefect.events.clients import AssertingEventsClient, NullEventsClient
from prefect.events.worker import EventsWorker

import replay.stage
from replay.stage import _events_sent


def test_the_demo_sends_no_events_by_default() -> None:
    assert replay.stage.SEND_EVENTS is False


def test_inside_the_demo_events_go_to_the_null_client_and_the_previous_choice_comes_back() -> None:
    saved = EventsWorker._client_override
    try:
        EventsWorker.set_client_override(None)
        with _events_sent(False):
            assert EventsWorker._client_override is not None
            assert EventsWorker._client_override[0] is NullEventsClient
        assert EventsWorker._client_override is None

        EventsWorker.set_client_override(AssertingEventsClient)  # e.g. a test's own client
        with _events_sent(False):
            assert EventsWorker._client_override[0] is NullEventsClient
        assert EventsWorker._client_override[0] is AssertingEventsClient
    finally:
        EventsWorker._client_override = saved


def test_send_events_leaves_prefects_choice_alone() -> None:
    saved = EventsWorker._client_override
    try:
        EventsWorker.set_client_override(None)
        with _events_sent(True):
            assert EventsWorker._client_override is None
    finally:
        EventsWorker._client_override = saved
