"""`odds status quota` and the spool's handling of unreadable files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from odds_models.errors import PayloadError
from tasks.odds_ingest import fetch_events, fetch_odds_to_spool, fetch_scores_to_spool, store_events_payload
from tasks.spool import drain_spool, read_spool_entry, spool_files, spool_response

pytestmark = pytest.mark.db


def test_status_quota_reports_spend_and_plan(db: str, fake_api) -> None:
    from odds_cli.main import app
    from odds_models.db import dispose_engine, run_coro_blocking

    async def seed() -> None:
        await store_events_payload(await fetch_events())
        await fetch_odds_to_spool()
        await fetch_scores_to_spool(days_from=1)
        await drain_spool()
        await dispose_engine()

    run_coro_blocking(seed())
    result = CliRunner().invoke(app, ["status", "quota", "--json", "--tick-minutes", "30"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["latest"]["remaining"] == 495
    assert payload["spent_this_month"] == 5
    by_endpoint = {r["endpoint"]: r["credits"] for r in payload["per_endpoint"]}
    assert by_endpoint == {"/v4/sports/basketball_nba/events": 0, "/v4/sports/basketball_nba/odds": 3,
                           "/v4/sports/basketball_nba/scores": 2}  # fmt: skip
    plan = payload["plan"]
    assert plan["games"] == 2  # the game that went final is no longer upcoming
    assert plan["paid_calls"] > 0
    assert plan["credits_planned"] == plan["paid_calls"] * 3
    assert payload["ideal_snapshots_per_game"]["<3h"] == 6


async def test_unreadable_spool_file_is_set_aside(db: str, fake_api, tmp_path: Path) -> None:
    good = spool_response(kind="odds", endpoint="/v4/sports/basketball_nba/odds", data=[], source="live")
    bad = good.parent / "00000000T000000000000-odds-broken.json"
    bad.write_text('{"kind": "odds", "data": [', encoding="utf-8")
    result = await drain_spool()
    assert (result.stored, result.failed) == (1, 1)
    assert spool_files() == []
    assert (good.parent / "failed" / bad.name).exists()
    assert "unreadable" in (good.parent / "failed" / f"{bad.name}.reason.txt").read_text()
    assert not list(good.parent.glob(".*.tmp"))  # atomic writes leave no temp files
    with pytest.raises(PayloadError):
        read_spool_entry(good.parent / "failed" / bad.name)
