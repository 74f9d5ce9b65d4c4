"""`odds import oddsapi` on a subset of the three historical seasons: counts equal those of the files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from odds_models.db import async_session_maker
from tasks.import_oddsapi import import_oddsapi_paths

pytestmark = [pytest.mark.db, pytest.mark.shared]


def _subset(data_dir: Path) -> list[Path]:
    files: list[Path] = []
    for season in ("2021-2022", "2022-2023", "2023-2024"):
        files += sorted((data_dir / "oddsapi_historical" / "odds" / season).glob("*.json.gz"))[:8]
    return files


def _expected(files: list[Path]) -> tuple[int, int, int]:
    events, snapshots, rows = set(), set(), set()
    for path in files:
        body = json.loads(gzip.decompress(path.read_bytes()))
        for ev in body["data"]:
            events.add(ev["id"])
            snapshots.add((ev["id"], body["timestamp"]))
            for b in ev["bookmakers"]:
                for m in b["markets"]:
                    for o in m["outcomes"]:
                        rows.add((ev["id"], body["timestamp"], b["key"], m["key"], o["name"],
                                  o.get("description", ""), o.get("point")))  # fmt: skip
    return len(events), len(snapshots), len(rows)


async def test_import_counts_match_files_and_repeat_adds_nothing(db: str, data_dir: Path) -> None:
    files = _subset(data_dir)
    events, snapshots, rows = _expected(files)
    first = await import_oddsapi_paths(files)
    assert (first.files, first.files_failed) == (24, 0)
    assert (first.events, first.events_new, first.snapshots, first.odds_rows) == (
        events,
        events,
        snapshots,
        rows,
    )
    async with async_session_maker() as session:
        stored = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM odds_snapshots), (SELECT count(*) FROM odds), "
                    "(SELECT count(*) FROM odds WHERE price_american IS NULL)"
                )
            )
        ).one()
        sources = {r[0] for r in await session.execute(text("SELECT DISTINCT source FROM odds_snapshots"))}
    assert tuple(stored) == (events, snapshots, rows, 0)
    assert sources == {"historical"}
    second = await import_oddsapi_paths(files)
    assert (second.events_new, second.snapshots, second.odds_rows, second.quality_issues) == (0, 0, 0, 0)


def test_cli_import_json_and_bad_file(db: str, data_dir: Path, tmp_path: Path) -> None:
    from odds_cli.main import app

    bad = tmp_path / "broken.json.gz"
    bad.write_bytes(gzip.compress(b'{"timestamp": "2023-01-01T00:00:00Z", "data": [{"id": 1'))
    good = min((data_dir / "oddsapi_historical" / "odds" / "2023-2024").glob("*.json.gz"))
    result = CliRunner().invoke(app, ["import", "oddsapi", str(good), str(tmp_path), "--json"])
    assert result.exit_code == 1, result.output  # one file failed
    payload = json.loads(result.output[: result.output.rindex("}") + 1])
    assert (payload["files"], payload["files_failed"]) == (2, 1)
    assert payload["odds_rows"] > 0
    assert "broken.json.gz" in payload["errors"][0]


async def _stored_keys() -> tuple[list[tuple], list[tuple], int]:
    async with async_session_maker() as session:
        odds = [tuple(r) for r in await session.execute(text(
            "SELECT event_id, snapshot_time, bookmaker, market, outcome, description, point, price_decimal, "
            "price_american, is_valid, notes FROM odds ORDER BY 1, 2, 3, 4, 5, 6, 7"
        ))]  # fmt: skip
        states = [tuple(r) for r in await session.execute(text(
            "SELECT event_id, snapshot_time, markets, bookmakers, outcomes, prices, snapshot_times "
            "FROM odds_states ORDER BY 1, 2"
        ))]  # fmt: skip
        raw = (
            await session.execute(text("SELECT count(DISTINCT md5(raw::text)) FROM odds_snapshots"))
        ).scalar_one()
    return odds, states, raw


async def test_overlapped_small_batches_store_what_one_batch_stores(
    db: str, data_dir: Path, tmp_path: Path
) -> None:
    """Parsing overlaps writing batch by batch: many small batches (and a bad file among them) give the same
    rows, states and raw snapshots as one big batch, and the bad file is reported, not fatal."""
    files = _subset(data_dir)[:12]
    bad = tmp_path / "0-broken.json"
    bad.write_text('{"timestamp": "2023-01-01T00:00:00Z", "data": [{"id": 1')
    one = await import_oddsapi_paths(files, batch_rows=10**9)
    expected = await _stored_keys()
    async with async_session_maker() as session:
        await session.execute(
            text("TRUNCATE odds, odds_states, odds_snapshots, events, data_quality_logs CASCADE")
        )
        await session.commit()
    many = await import_oddsapi_paths([*files[:6], bad, *files[6:]], batch_rows=50)
    assert (many.files, many.files_failed) == (13, 1)
    assert "0-broken.json" in many.errors[0]
    assert (many.snapshots, many.odds_rows, many.events_new) == (one.snapshots, one.odds_rows, one.events_new)
    assert one.odds_rows > 1000
    assert await _stored_keys() == expected
