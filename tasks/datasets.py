"""Load the CLV dataset from the database through the look-ahead-free reads, then build it (pure code).

Steps (`load_model_frames`):
1. events of the window (plus 10 days before it, so rest days see the previous game);
2. decision times: for training, after the latest snapshot in each hours-to-tip bin
   (`features.decision_samples`); for live scoring, one decision at `decision_at`;
3. the odds history each decision may see: `read_odds_at_times` at every snapshot time of the event up to
   the last decision (each book's latest price at or before it), so the open-to-now and velocity features
   have the path; `build_dataset` then keeps, per decision, only quotes strictly before it;
4. closing lines (`read_closing_lines`: imported closes, else each book's last snapshot before tip-off);
5. Polymarket moneyline quotes of linked games, with each book's depth and imbalance carried forward from
   the latest order book at or before the quote (a backward as-of merge: never a later book);
6. the imported open/close history of earlier games (`tasks.storage.line_history`) for the drift prior,
   which `odds_analytics.prior` fits per row on the seasons before the row's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import DateTime, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.features import DEFAULT_BINS_HOURS, build_dataset, decision_samples
from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from odds_models.teams import resolve_team
from tasks.storage.event_reads import read_events_between
from tasks.storage.line_history import read_line_history
from tasks.storage.reads import read_closing_lines, read_odds_at_times

__all__ = [
    "ModelFrames",
    "build_model_dataset",
    "load_model_dataset",
    "load_model_dataset_task",
    "load_model_frames",
    "read_snapshot_times",
]

_PAIR_CHUNK = 5000
_FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)
_FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass
class ModelFrames:
    """What `build_dataset` needs, read as of the decisions: events, odds, closing, polymarket, samples,
    and the open/close history of earlier games (the drift prior's data)."""

    events: pd.DataFrame
    odds: pd.DataFrame
    closing: pd.DataFrame
    polymarket: pd.DataFrame
    samples: pd.DataFrame
    history: pd.DataFrame = field(default_factory=pd.DataFrame)


_SNAPSHOT_SQL = """
SELECT DISTINCT o.event_id, o.snapshot_time
FROM odds_snapshots AS o
WHERE o.event_id = ANY(:event_ids) AND o.snapshot_time < :before
ORDER BY o.event_id, o.snapshot_time
"""

_PM_HISTORY_SQL = """
SELECT pe.event_id, m.id AS market_id, s.token_id, s.outcome, s.snapshot_time, s.price, s.best_bid,
       s.best_ask, s.mid, s.spread
FROM polymarket_events AS pe
JOIN polymarket_markets AS m ON m.polymarket_event_id = pe.id
JOIN polymarket_price_snapshots AS s ON s.market_id = m.id
WHERE pe.event_id = ANY(:event_ids) AND m.market_type = 'moneyline' AND m.period = 'game'
  AND s.snapshot_time < :before
ORDER BY s.snapshot_time
"""

_PM_BOOK_SQL = """
SELECT b.token_id, b.snapshot_time, b.bid_depth, b.ask_depth, b.imbalance
FROM polymarket_orderbook_snapshots AS b
WHERE b.token_id = ANY(:token_ids) AND b.snapshot_time < :before
ORDER BY b.snapshot_time
"""


async def read_snapshot_times(
    event_ids: Sequence[str], before: datetime, *, session: AsyncSession
) -> pd.DataFrame:
    """Every (event_id, snapshot_time) with a stored snapshot strictly before `before`."""
    if not event_ids:
        return pd.DataFrame(columns=["event_id", "snapshot_time"])
    stmt = text(_SNAPSHOT_SQL).bindparams(
        bindparam("event_ids", type_=ARRAY(Text)), bindparam("before", type_=DateTime(timezone=True))
    )
    result = await session.execute(stmt, {"event_ids": list(event_ids), "before": before})
    frame = pd.DataFrame(result.all(), columns=["event_id", "snapshot_time"])
    frame["snapshot_time"] = pd.to_datetime(frame["snapshot_time"], utc=True)
    return frame


async def _read_polymarket(event_ids: list[str], before: datetime, *, session: AsyncSession) -> pd.DataFrame:
    stmt = text(_PM_HISTORY_SQL).bindparams(
        bindparam("event_ids", type_=ARRAY(Text)), bindparam("before", type_=DateTime(timezone=True))
    )
    result = await session.execute(stmt, {"event_ids": event_ids, "before": before})
    cols = [
        "event_id",
        "market_id",
        "token_id",
        "outcome",
        "snapshot_time",
        "price",
        "best_bid",
        "best_ask",
        "mid",
        "spread",
    ]
    prices = pd.DataFrame(result.all(), columns=cols)
    if prices.empty:
        return prices
    prices["snapshot_time"] = pd.to_datetime(prices["snapshot_time"], utc=True)
    for col in ("price", "best_bid", "best_ask", "mid", "spread"):
        prices[col] = prices[col].astype(float)
    # outcome labels are nicknames ("Celtics"): map to the full names the features use
    prices["outcome"] = prices["outcome"].map(lambda v: team.name if (team := resolve_team(str(v))) else v)
    stmt = text(_PM_BOOK_SQL).bindparams(
        bindparam("token_ids", type_=ARRAY(Text)), bindparam("before", type_=DateTime(timezone=True))
    )
    result = await session.execute(
        stmt, {"token_ids": prices["token_id"].unique().tolist(), "before": before}
    )
    books = pd.DataFrame(
        result.all(), columns=["token_id", "book_time", "bid_depth", "ask_depth", "imbalance"]
    )
    if books.empty:
        return prices.assign(bid_depth=float("nan"), ask_depth=float("nan"), imbalance=float("nan"))
    books["book_time"] = pd.to_datetime(books["book_time"], utc=True)
    for col in ("bid_depth", "ask_depth", "imbalance"):
        books[col] = books[col].astype(float)
    merged = pd.merge_asof(
        prices.sort_values("snapshot_time"),
        books.sort_values("book_time"),
        left_on="snapshot_time",
        right_on="book_time",
        by="token_id",
        direction="backward",
    )
    return merged.drop(columns=["book_time"])


async def load_model_frames(
    *,
    session: AsyncSession,
    start: datetime | date | None,
    end: datetime | date | None,
    markets: Sequence[str] = ("h2h", "spreads", "totals"),
    decision_at: datetime | None = None,
    bins_hours: Sequence[float] = DEFAULT_BINS_HOURS,
) -> ModelFrames:
    """Read everything the dataset of events with tip-off in [start, end) needs, as of its decisions.

    With `decision_at`, one decision per event at that instant (live scoring); otherwise the binned
    decisions after stored snapshots (training and evaluation).
    """
    lo = start if start is not None else _FAR_PAST
    hi = end if end is not None else _FAR_FUTURE
    lo_dt = datetime(lo.year, lo.month, lo.day, tzinfo=UTC) if not isinstance(lo, datetime) else lo
    hi_dt = datetime(hi.year, hi.month, hi.day, tzinfo=UTC) if not isinstance(hi, datetime) else hi
    all_events = await read_events_between(lo_dt - timedelta(days=10), hi, session=session)
    all_events["commence_time"] = pd.to_datetime(all_events["commence_time"], utc=True)
    events = all_events[all_events["commence_time"] >= pd.Timestamp(lo_dt)]
    event_ids = events["event_id"].tolist()
    empty = pd.DataFrame()
    if not event_ids:
        return ModelFrames(
            all_events, empty, empty, empty, pd.DataFrame(columns=["event_id", "decision_time"])
        )
    before = decision_at if decision_at is not None else _FAR_FUTURE
    snaps = await read_snapshot_times(event_ids, before, session=session)
    snaps = snaps.merge(events[["event_id", "commence_time"]], on="event_id")
    snaps = snaps[snaps["snapshot_time"] < snaps["commence_time"]]
    if decision_at is not None:
        samples = pd.DataFrame({"event_id": snaps["event_id"].unique()})
        samples["decision_time"] = pd.Timestamp(decision_at)
    else:
        samples = decision_samples(snaps, events, bins_hours=bins_hours)
    if samples.empty:  # events without any snapshot before tip-off (e.g. imported games): nothing to build
        return ModelFrames(all_events, empty, empty, empty, samples)
    last_decision = samples.groupby("event_id")["decision_time"].max()
    snaps = snaps[snaps["snapshot_time"] < snaps["event_id"].map(last_decision)]
    pairs = [(r.event_id, r.snapshot_time.to_pydatetime()) for r in snaps.itertuples(index=False)]
    staleness = timedelta(minutes=get_settings().max_staleness_minutes)
    parts = []
    for i in range(0, len(pairs), _PAIR_CHUNK):
        part = await read_odds_at_times(
            pairs[i : i + _PAIR_CHUNK], session=session, markets=list(markets), max_staleness=staleness
        )
        parts.append(part)
    odds = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if not odds.empty:
        odds = odds.drop_duplicates(
            subset=["event_id", "bookmaker", "market", "outcome", "description", "point", "snapshot_time"]
        ).drop(columns=["request_index", "decision_time"])
    sample_ids = samples["event_id"].unique().tolist()
    closing = await read_closing_lines(sample_ids, session=session, markets=list(markets))
    polymarket = await _read_polymarket(sample_ids, before, session=session)
    history = await read_line_history(session=session, before=hi_dt)
    return ModelFrames(all_events, odds, closing, polymarket, samples, history)


def build_model_dataset(frames: ModelFrames, market: str) -> pd.DataFrame:
    """The dataset of one market from loaded frames (settings: sharp books, staleness, devig method)."""
    settings = get_settings()
    if frames.odds.empty or frames.samples.empty:
        return build_dataset(
            pd.DataFrame(
                columns=[
                    "event_id",
                    "snapshot_time",
                    "bookmaker",
                    "market",
                    "outcome",
                    "point",
                    "price_decimal",
                ]
            ),
            frames.events,
            frames.samples,
            market=market,
        )
    return build_dataset(
        frames.odds,
        frames.events,
        frames.samples,
        market=market,
        closing=frames.closing,
        polymarket=frames.polymarket,
        sharp_books=settings.sharp_books,
        max_staleness=timedelta(minutes=settings.max_staleness_minutes),
        devig_method=settings.devig_method,
        history=frames.history,
    )


async def load_model_dataset(
    market: str,
    start: datetime | date | None = None,
    end: datetime | date | None = None,
    decision_at: datetime | None = None,
) -> pd.DataFrame:
    """The CLV dataset of one market for events with tip-off in [start, end), read look-ahead-free."""
    async with async_session_maker() as session:
        frames = await load_model_frames(
            session=session, start=start, end=end, markets=_markets_for(market), decision_at=decision_at
        )
    return build_model_dataset(frames, market)


load_model_dataset_task = task(load_model_dataset, cache_policy=NONE, task_run_name="load-dataset-{market}")


def _markets_for(market: str) -> list[str]:
    # the cross-market features need the other main market (moneyline <-> spread)
    return {"h2h": ["h2h", "spreads"], "spreads": ["spreads", "h2h"], "totals": ["totals", "h2h"]}[market]
