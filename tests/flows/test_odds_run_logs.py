"""What a person watching the Prefect UI sees of a tick: the run's name, the HTTP retry warning in the flow
run's own logs (not only on the worker's terminal), the paid call's facts and the rows stored, and a final
failure that says how many attempts were made. Read back from the test server's log API.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from odds_models.settings import get_settings
from tests.support.oddsapi_fake import SENTINEL, T0

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]


async def _run_logs(flow_run_id: UUID) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    await APILogWorker.drain_all()  # the run's logs are sent in batches
    async with get_client() as client:
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id]))
        )
    return [log.message for log in logs]


async def _name(flow_run_id: UUID) -> str:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        return (await client.read_flow_run(flow_run_id)).name


async def test_retry_warning_paid_call_and_store_in_the_run_logs(db: str, fake_api: Any) -> None:
    from flows.odds import fetch_odds

    # the replay's fault: one 429 on /odds, then the answer
    fake_api.faults["/odds"] = [
        httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "slow down"})
    ]
    state = await fetch_odds(predict_after=False, return_state=True)
    assert state.is_completed(), state
    run_id = state.state_details.flow_run_id
    assert await _name(run_id) == f"fetch-odds {T0:%Y-%m-%dT%H:%MZ}"
    lines = await _run_logs(run_id)
    text = "\n".join(lines)
    assert any("/odds: attempt 1 of" in line and "failed" in line and "retrying" in line for line in lines), (
        text
    )
    assert any(line.startswith("paid call GET /v4/sports/basketball_nba/odds") and "3 game(s)" in line
               and "cost 3 credit(s)" in line and "497 remaining" in line for line in lines), text  # fmt: skip
    assert any(line.startswith("stored odds response:") and "odds_rows 18" in line for line in lines), text
    assert any(line.startswith("stored events:") for line in lines), text
    assert SENTINEL not in text


async def test_a_final_failure_says_how_many_attempts(
    db: str, fake_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.odds import fetch_scores

    monkeypatch.setenv("HTTP_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    fake_api.faults["/scores"] = [httpx.Response(503, json={"message": "down"}) for _ in range(3)]
    state = await fetch_scores(days_from=1, return_state=True)
    assert state.is_failed()
    assert "gave up after 3 attempts" in state.message
    lines = await _run_logs(state.state_details.flow_run_id)
    assert sum("/scores: attempt" in line and "retrying" in line for line in lines) == 2, lines
    assert any("gave up after 3 attempts" in line for line in lines), lines
