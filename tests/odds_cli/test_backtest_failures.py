"""`odds backtest run` on an empty window and with unknown venues: one line, no traceback, nothing saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.backtest_seed import Seed, new_event_id

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

TIP = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
HOME, AWAY = "Boston Celtics", "Miami Heat"


@pytest.fixture
async def priced(seed: Seed) -> None:
    """One game on 2024-01-10 (UTC) priced by two books three hours before tip-off."""
    ev = new_event_id()
    at = TIP - timedelta(hours=3)
    await seed(
        [{"id": ev, "home_team": HOME, "away_team": AWAY, "commence_time": TIP}],
        [{"event_id": ev, "snapshot_time": at, "bookmaker": book, "market": "h2h", "outcome": team, "price": p}
         for book in ("fanduel", "pinnacle") for team, p in ((HOME, 1.5), (AWAY, 2.7))],
    )  # fmt: skip


def _runs() -> int:
    from sqlalchemy import text

    from odds_models.db import async_session_maker, dispose_engine, run_coro_blocking

    async def count() -> int:
        try:
            async with async_session_maker() as session:
                return int((await session.execute(text("SELECT count(*) FROM backtest_runs"))).scalar_one())
        finally:
            await dispose_engine()

    return run_coro_blocking(count())


def test_window_without_games(priced: None, odds, tmp_path) -> None:
    odds.fails(1, r"NoDataError: no games between 2030-01-01 and 2030-01-05", "backtest", "run", "--strategy", "flat",
               "--start", "2030-01-01", "--end", "2030-01-05", "--no-report")  # fmt: skip
    assert _runs() == 0


def test_unknown_venue_lists_the_books(priced: None, odds) -> None:
    odds.fails(2, r"venues: 'bogus' not among the books .*: fanduel, pinnacle$", "backtest", "run", "--strategy",
               "flat", "--start", "2024-01-09", "--end", "2024-01-10", "--venues", "fanduel,bogus", "--no-report")  # fmt: skip
    assert _runs() == 0
    code, _, err = odds("backtest", "run", "--strategy", "flat", "--start", "2024-01-09", "--end", "2024-01-10",
                        "--venues", "fanduel", "--no-report")  # fmt: skip
    assert code == 0, err
    assert _runs() == 1
