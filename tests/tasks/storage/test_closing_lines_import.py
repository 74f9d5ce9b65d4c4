"""Closing-line import into the DB: matched, created, scores final; a second import adds nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from odds_models.db import async_session_maker
from tasks.storage.closing_lines import load_closing_line_file, match_closing_line_games, store_imported_games
from tests.support.backtest_seed import Seed

pytestmark = pytest.mark.db

CSV = """season,date,regular,playoffs,away,home,score_away,score_home,q1_away,q2_away,q3_away,q4_away,ot_away,q1_home,q2_home,q3_home,q4_home,ot_home,whos_favored,spread,total,moneyline_away,moneyline_home,h2_spread,h2_total,id_spread,id_total
2024,1/9/24,TRUE,FALSE,mia,bos,98,110,0,0,0,0,0,0,0,0,0,0,home,7.5,221.5,260,-320,3,110,0,1
2024,1/9/24,TRUE,FALSE,gs,no,120,118,0,0,0,0,0,0,0,0,0,0,away,2,230,,,1,115,0,1
2024,1/9/24,TRUE,FALSE,zzz,no,120,118,0,0,0,0,0,0,0,0,0,0,away,2,230,,,1,115,0,1
"""


async def _import(path: Path) -> dict:
    parsed = load_closing_line_file(str(path), "kaggle")
    match = await match_closing_line_games(parsed.games, "kaggle")
    counts = await store_imported_games(match, "kaggle")
    return {"matched": counts.matched, "created": counts.created, "lines": counts.lines_added,
            "unmatched": counts.unmatched + len(parsed.unresolved)}  # fmt: skip


async def test_import_twice(seed: Seed, tmp_path: Path) -> None:
    path = tmp_path / "closing.csv"
    path.write_text(CSV)
    tip = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
    await seed(
        [{"id": "ev_bos", "home_team": "Boston Celtics", "away_team": "Miami Heat", "commence_time": tip}], []
    )

    first = await _import(path)
    assert first == {"matched": 1, "created": 1, "lines": 6 + 4, "unmatched": 1}
    second = await _import(path)
    assert second == {"matched": 2, "created": 0, "lines": 0, "unmatched": 1}

    async with async_session_maker() as session:
        rows = (await session.execute(text("SELECT id, status, home_score, away_score, origin, commence_time "
                                           "FROM events ORDER BY id"))).all()  # fmt: skip
        n_lines = (await session.execute(text("SELECT count(*) FROM closing_lines"))).scalar_one()
    by_id = {r[0]: r for r in rows}
    assert by_id["ev_bos"][1:5] == ("final", 110, 98, "oddsapi")
    assert by_id["ev_bos"][5] == tip  # an existing event keeps its own tip-off
    (created,) = [r for r in rows if r[0].startswith("imp_")]
    assert created[1:5] == ("final", 118, 120, "import:kaggle")
    assert n_lines == 10


@pytest.mark.shared
async def test_import_real_kaggle_subset(db: str, data_dir: Path) -> None:
    path = data_dir / "closing_lines" / "nba_closing_lines_2008_2024.csv"
    parsed = load_closing_line_file(str(path), "kaggle", date(2024, 1, 1), date(2024, 1, 14))
    assert 80 < len(parsed.games) < 120
    match = await match_closing_line_games(parsed.games, "kaggle")
    counts = await store_imported_games(match, "kaggle")
    assert counts.created == len(parsed.games)
    assert counts.lines_added == 4 * len(parsed.games)  # 2023-24 has spreads and totals, no moneylines
