"""Property: storing any generated payload either succeeds or raises PayloadError with nothing written."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text

from odds_models.db import async_session_maker
from odds_models.errors import PayloadError
from tasks.odds_ingest import store_odds_payload

pytestmark = pytest.mark.db

_spec = importlib.util.spec_from_file_location(
    "oddsapi_props", Path(__file__).parents[1] / "odds_analytics" / "test_oddsapi_properties.py"
)
assert _spec
assert _spec.loader
_props = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_props)
TRIED = {"store": 0, "stored": 0, "rejected": 0}


async def _total() -> int:
    async with async_session_maker() as session:
        return int(
            (
                await session.execute(
                    text(
                        "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM odds_snapshots) "
                        "+ (SELECT count(*) FROM odds) + (SELECT count(*) FROM data_quality_logs)"
                    )
                )
            ).scalar_one()
        )


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(payload=_props.payloads)
async def test_store_is_all_or_nothing(db: str, payload: Any) -> None:
    TRIED["store"] += 1
    before = await _total()
    try:
        await store_odds_payload(
            payload, endpoint="/prop", source="live", snapshot_time=datetime(2030, 1, 1, tzinfo=UTC)
        )
    except PayloadError:
        TRIED["rejected"] += 1
        assert await _total() == before
        return
    TRIED["stored"] += 1
    assert await _total() >= before


def test_zz_report_store_counts() -> None:
    print(f"\nhypothesis store inputs: {TRIED}")
