"""Nothing silently dropped: snapshots of one event and moment with different markets (a featured file and a
player-props file) are both stored in full, and migration 0002 gives existing snapshots the same key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from odds_analytics.oddsapi import markets_key
from odds_models.db import async_session_maker
from tasks.import_oddsapi import import_oddsapi_paths

pytestmark = pytest.mark.db

MOMENT = "2024-02-22T23:55:50Z"
DAY = datetime(2029, 12, 31, tzinfo=UTC)
PROPS = "oddsapi_event_odds_basketball_nba_playerprops_2024-02-22_orl-cle_bethelper.json"


def _featured(event: dict[str, Any]) -> dict[str, Any]:
    home, away = event["home_team"], event["away_team"]
    book = {"key": "draftkings", "title": "DraftKings", "last_update": MOMENT, "markets": [
        {"key": "h2h", "last_update": MOMENT, "outcomes": [{"name": home, "price": 1.4}, {"name": away, "price": 3.0}]},
        {"key": "spreads", "last_update": MOMENT, "outcomes": [{"name": home, "price": 1.91, "point": -7.5},
                                                               {"name": away, "price": 1.91, "point": 7.5}]},
    ]}  # fmt: skip
    return {k: v for k, v in event.items() if k != "bookmakers"} | {"bookmakers": [book]}


async def _snapshots() -> list[tuple[str, int]]:
    async with async_session_maker() as session:
        rows = await session.execute(
            text("SELECT s.markets, count(o.id) FROM odds_snapshots s LEFT JOIN odds o ON o.snapshot_id = s.id "
                 "GROUP BY s.id, s.markets ORDER BY s.markets")
        )  # fmt: skip
        return [(r[0], int(r[1])) for r in rows]


@pytest.mark.shared
@pytest.mark.parametrize("together", [False, True], ids=["one-file-per-import", "one-import"])
async def test_a_featured_and_a_props_file_of_the_same_moment_both_land_in_full(
    db: str, fixtures_dir: Path, tmp_path: Path, together: bool
) -> None:
    props_event = json.loads((fixtures_dir / PROPS).read_text())
    featured = tmp_path / "featured.json"
    featured.write_text(json.dumps({"timestamp": MOMENT, "data": [_featured(props_event)]}))
    props = tmp_path / "props.json"
    props.write_text(json.dumps({"timestamp": MOMENT, "data": props_event}))

    if together:
        first = await import_oddsapi_paths([featured, props])
        assert (first.snapshots, first.odds_rows) == (2, 4 + 482)
    else:
        first = await import_oddsapi_paths([featured])
        second = await import_oddsapi_paths([props])
        assert (first.odds_rows, second.snapshots, second.odds_rows) == (4, 1, 482)
    stored = await _snapshots()
    assert [rows for _, rows in stored] == [4, 482]
    assert stored[0][0] == "h2h,spreads"
    assert stored[1][0] == markets_key(props_event["bookmakers"])
    again = await import_oddsapi_paths([featured, props])  # idempotent: the same two files add nothing
    assert (again.snapshots, again.odds_rows) == (0, 0)


# --------------------------------------------------------------------------------------------------------
# migration 0002 on existing data
# --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_migration_url(pg_url: str) -> str:
    from odds_models.db import create_database_if_missing
    from odds_models.testing import assert_test_database

    url = urlunsplit(urlsplit(pg_url)._replace(path="/odds_migration_key_test"))
    assert_test_database(url)
    create_database_if_missing(url)
    return url


def _run(url: str, sql: str, **params: Any) -> list[Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from odds_models.db import run_coro_blocking

    async def go() -> list[Any]:
        engine = create_async_engine(url)
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            rows = list(result.all()) if result.returns_rows else []
        await engine.dispose()
        return rows

    return run_coro_blocking(go())


def test_migration_0002_keys_existing_snapshots_by_their_markets(key_migration_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parents[2]
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    cfg.attributes["database_url"] = key_migration_url
    url = key_migration_url
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "0001")
    long_market_names = [{"key": f"player_stat_number_{i:03d}", "outcomes": []} for i in range(40)]
    raws = {
        "featured": [{"key": "fanduel", "markets": [{"key": "totals"}, {"key": "h2h"}]},
                     {"key": "draftkings", "markets": [{"key": "h2h"}, {"key": "spreads"}]}],
        "empty": [],
        "long": [{"key": "fanduel", "markets": long_market_names}],
    }  # fmt: skip
    _run(url, "INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, origin, created_at, "
              "updated_at) VALUES ('e1', 'basketball_nba', 'A', 'B', '2030-01-01T00:00Z', 'scheduled', 'oddsapi', "
              "now(), now())")  # fmt: skip
    for i, raw in enumerate(raws.values()):
        _run(url, "INSERT INTO odds_snapshots (event_id, source, snapshot_time, bookmaker_count, raw, created_at) "
                  "VALUES ('e1', 'live', :t, 1, CAST(:raw AS jsonb), now())",
             t=DAY + timedelta(hours=i), raw=json.dumps(raw))  # fmt: skip
    command.upgrade(cfg, "head")
    stored = [r[0] for r in _run(url, "SELECT markets FROM odds_snapshots ORDER BY snapshot_time")]
    assert stored == [markets_key(raw) for raw in raws.values()]
    assert stored[0] == "h2h,spreads,totals"
    assert len(stored[2]) == 512
    assert "+md5:" in stored[2]
    # the new key: the same moment with other markets is a second snapshot; the downgrade keeps the oldest
    _run(url, "INSERT INTO odds_snapshots (event_id, source, snapshot_time, markets, bookmaker_count, raw, created_at) "
              "VALUES ('e1', 'live', :t, 'player_points', 1, CAST(:raw AS jsonb), now())", t=DAY,
         raw=json.dumps([{"key": "fanduel", "markets": [{"key": "player_points"}]}]))  # fmt: skip
    command.downgrade(cfg, "0001")
    assert _run(url, "SELECT count(*) FROM odds_snapshots")[0][0] == 3
    command.upgrade(cfg, "head")
    assert [r[0] for r in _run(url, "SELECT markets FROM odds_snapshots ORDER BY snapshot_time")] == stored
