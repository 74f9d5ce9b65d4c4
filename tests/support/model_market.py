"""Model tests' database, and seeding it with a simulated market (events, snapshots, odds, closing lines).

The model tests use their own database (`odds_model_test`) on the same embedded server: other areas' DB
tests truncate `odds_test` while they run, which would empty our seeded market mid-test.
`TEST_DATABASE_URL`, when set, is used unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pandas as pd
import pytest

from odds_analytics.prices import decimal_to_american


async def _seed(odds: pd.DataFrame, events: pd.DataFrame, closing: pd.DataFrame) -> None:
    from odds_models.db import async_session_maker
    from odds_models.tables import ClosingLine, Event, Odds, OddsSnapshot

    async with async_session_maker() as session:
        for ev in events.itertuples(index=False):
            session.add(
                Event(
                    id=ev.event_id,
                    home_team=ev.home_team,
                    away_team=ev.away_team,
                    commence_time=ev.commence_time.to_pydatetime(),
                )
            )
        await session.flush()
        for (event_id, snap_time), rows in odds.groupby(["event_id", "snapshot_time"]):
            snapshot = OddsSnapshot(
                event_id=event_id,
                source="historical",
                snapshot_time=snap_time.to_pydatetime(),
                raw={},
                bookmaker_count=int(rows["bookmaker"].nunique()),
            )
            session.add(snapshot)
            await session.flush()
            for r in rows.itertuples(index=False):
                session.add(
                    Odds(
                        snapshot_id=snapshot.id,
                        event_id=event_id,
                        snapshot_time=snap_time.to_pydatetime(),
                        bookmaker=r.bookmaker,
                        market=r.market,
                        outcome=r.outcome,
                        point=None if pd.isna(r.point) else float(r.point),
                        price_decimal=float(r.price_decimal),
                        price_american=decimal_to_american(float(r.price_decimal)),
                    )
                )
        for c in closing.itertuples(index=False):
            session.add(
                ClosingLine(
                    event_id=c.event_id,
                    source="sim",
                    kind="close",
                    market=c.market,
                    outcome=c.outcome,
                    point=None if pd.isna(c.point) else float(c.point),
                    price_decimal=None if pd.isna(c.price_decimal) else float(c.price_decimal),
                )
            )
        await session.commit()


@pytest.fixture
def seed_market() -> Callable[[pd.DataFrame, pd.DataFrame, pd.DataFrame], Awaitable[None]]:
    """`await seed_market(odds, events, closing)` writes the frames into the (empty) test database."""
    return _seed
