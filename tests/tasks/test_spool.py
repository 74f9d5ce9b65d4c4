"""Paid data never blocks the pipeline: poisoned spool entries are set aside (one-line reason, a data-quality
row) while the rest of the queue is stored; two drains at once store each entry once; a claim left by a
dead process goes back to the queue; a missing file is not a database error."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from tasks.retry import is_db_connection_error, is_transient_db_error
from tasks.spool import drain_spool, spool_files, spool_response, store_spool_file

pytestmark = pytest.mark.db

T0 = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
ODDS = "/v4/sports/basketball_nba/odds"


@pytest.fixture
def spool(db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("ODDS_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    folder = get_settings().spool_dir
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _event(eid: str, commence: str = "2030-01-10T20:00:00Z") -> dict[str, Any]:
    return {"id": eid, "sport_key": "basketball_nba", "commence_time": commence, "home_team": "Boston Celtics",
            "away_team": "Miami Heat", "bookmakers": [{"key": "draftkings", "last_update": "2030-01-10T11:58:00Z",
            "markets": [{"key": "h2h", "outcomes": [{"name": "Boston Celtics", "price": 1.5},
                                                    {"name": "Miami Heat", "price": 2.7}]}]}]}  # fmt: skip


def _log(**overrides: Any) -> dict[str, Any]:
    row = {"api": "oddsapi", "endpoint": ODDS, "params": {"regions": "us"}, "status_code": 200, "cost": 1,
           "requests_used": 1, "requests_remaining": 499, "requests_last": 1, "latency_ms": 12.0, "attempts": 1,
           "error": None, "headers": {}, "flow_run_id": None, "created_at": T0.isoformat()}  # fmt: skip
    return {**row, **overrides}


def _entry(folder: Path, name: str, **fields: Any) -> Path:
    """A spool file as `spool_response` writes it, with `fields` overriding what it holds."""
    written = spool_response(kind=fields.pop("kind", "odds"), endpoint=fields.pop("endpoint", ODDS),
                             data=fields.pop("data", [_event("a" * 32)]), snapshot_time=T0, odds_format="decimal",
                             fetch_logs=[_log()], directory=folder)  # fmt: skip
    raw = json.loads(written.read_text())
    written.unlink()
    raw.update(fields)
    path = folder / name
    path.write_text(json.dumps(raw))
    return path


def _listing(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    process = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, check=True)
    return int(process.stdout)


async def _scalar(sql: str) -> Any:
    async with async_session_maker() as session:
        return (await session.execute(text(sql))).scalar_one()


async def test_poisoned_entries_are_set_aside_and_the_rest_of_the_queue_is_stored(spool: Path) -> None:
    poisoned = {
        "01-naive.json": {"fetched_at": "2030-01-10T12:00:00"},
        "02-out-of-range.json": {"snapshot_time": "9999-12-31T23:59:59-05:00"},
        "03-days-from-text.json": {"kind": "scores", "endpoint": "/v4/sports/basketball_nba/scores",
                                   "data": [], "days_from": "1"},
        "04-bad-fetch-logs.json": {"fetch_logs": [_log(status_code="two hundred")]},
        "05-year-one.json": {"data": [_event("b" * 32, commence="0001-01-01T00:00:00+01:00")]},
        "06-not-an-object.json": None,
        "09-year-one-z.json": {"snapshot_time": "0001-01-01T00:00:00Z"},
        "10-year-9999-z.json": {"fetched_at": "9999-12-31T23:59:59Z"},
    }  # fmt: skip
    for name, fields in poisoned.items():
        if fields is None:
            (spool / name).write_text("[1, 2")
        else:
            _entry(spool, name, **fields)
    _entry(spool, "07-good.json", data=[_event("c" * 32)], fetch_logs=[_log(cost=3)])
    _entry(spool, "08-good-scores.json", kind="scores", endpoint="/v4/sports/basketball_nba/scores", data=[],
           days_from=1, fetch_logs=[_log(endpoint="/v4/sports/basketball_nba/scores", cost=2)])  # fmt: skip

    result = await drain_spool()

    assert (result.stored, result.failed) == (2, len(poisoned))
    assert spool_files() == []
    failed = spool / "failed"
    assert sorted(p.name for p in failed.glob("*.json")) == sorted(poisoned)
    for name in poisoned:
        reason = (failed / f"{name}.reason.txt").read_text()
        assert reason.count("\n") == 1, reason
        assert len(reason) < 320, reason
        assert "Traceback" not in reason
    assert await _scalar(
        "SELECT count(*) FROM data_quality_logs WHERE check_type = 'spool_entry_failed'"
    ) == len(poisoned)
    assert await _scalar("SELECT count(*) FROM odds_snapshots WHERE event_id = '" + "c" * 32 + "'") == 1
    # the credits of every readable entry count: 3 + 2 stored, 1 for the one whose payload was refused (an
    # unreadable entry's call keeps the credits reserved for it before it was made)
    assert await _scalar("SELECT sum(cost) FROM fetch_logs") == 3 + 2 + 1


async def test_two_drains_at_once_store_each_entry_once(spool: Path) -> None:
    for i in range(6):
        _entry(
            spool,
            f"{i:02d}-odds.json",
            data=[_event(f"{i:x}" * 32)],
            snapshot_time=(T0 + timedelta(minutes=i)).isoformat(),
        )
    first, second = await asyncio.gather(drain_spool(), drain_spool())
    assert first.stored + second.stored == 6
    assert first.failed == second.failed == 0
    assert await _scalar("SELECT count(*) FROM fetch_logs") == 6
    assert await _scalar("SELECT count(*) FROM odds_snapshots") == 6
    assert spool_files() == []
    assert not any(p.name.endswith(".json") or ".claim." in p.name for p in _listing(spool))  # no claim left


async def test_a_claim_left_by_a_dead_process_goes_back_to_the_queue(spool: Path) -> None:
    import socket

    dead_pid = _dead_pid()
    path = _entry(spool, "00-odds.json")
    path.rename(spool / f"00-odds.json.claim.{socket.gethostname()}.{dead_pid}")
    assert spool_files() == []
    result = await drain_spool()
    assert result.stored == 1
    assert await _scalar("SELECT count(*) FROM odds_snapshots") == 1


async def test_a_missing_spool_file_is_not_a_database_error(spool: Path) -> None:
    gone = spool / "20300110T120000000000-odds-deadbeef.json"
    assert await store_spool_file(gone) == {"claimed_elsewhere": 1}
    error = FileNotFoundError(2, "No such file or directory", str(gone))
    assert not is_db_connection_error(error)
    assert not is_transient_db_error(error)
    # a database on a Unix socket that is gone is one (ENOENT naming no file)
    assert is_db_connection_error(FileNotFoundError(2, "No such file or directory"))


def test_a_spooled_response_reads_back_value_for_value(tmp_path: Path) -> None:
    """What the spool writes (one `json.dumps`, the C encoder) reads back exactly: NaN, 20-digit integers,
    non-ASCII names, nested lists, and times given as objects (written as text)."""
    from tasks.spool import read_spool_entry

    data = [{"id": "é" * 3, "price": float("nan"), "big": 12345678901234567890, "nested": [[1.5, None, True]],
             "when": T0}]  # fmt: skip
    path = spool_response(kind="odds", endpoint=ODDS, data=data, snapshot_time=T0, odds_format="decimal",
                          fetch_logs=[_log()], directory=tmp_path)  # fmt: skip
    entry = read_spool_entry(path)
    expected = [{**data[0], "when": str(T0)}]
    assert json.dumps(entry.data) == json.dumps(expected)  # NaN != NaN: compare the texts
    assert entry.data[0]["big"] == 12345678901234567890
    assert entry.snapshot_time == T0
    assert entry.fetch_logs == [_log()]
