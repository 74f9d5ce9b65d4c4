"""Generated seasons for tests and benchmarks: events with final scores and many books' prices over time.

Pure numpy (seeded). The true home-win probability of each game drifts from the open to the close; each
book quotes h2h, spreads and totals around it with its own margin and noise, one snapshot every
`interval_minutes` from `first_hours` before tip-off. Final scores are drawn from the closing truth, so a
strategy that bets the close-vs-now difference has a real (small) edge and the flat baseline loses the vig.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from scipy.stats import norm

from odds_models.teams import TEAMS

__all__ = ["SyntheticSeason", "asof_reference", "generate_season"]

DEFAULT_BOOKS = ("pinnacle", "lowvig", "betonlineag", "draftkings", "fanduel", "betmgm", "caesars", "bovada",
                 "betrivers", "unibet_us", "pointsbetus", "superbook")  # fmt: skip


@dataclass
class SyntheticSeason:
    events: pd.DataFrame  # event_id, home_team, away_team, commence_time, status, home_score, away_score
    odds: pd.DataFrame  # event_id, snapshot_time, bookmaker, market, outcome, point, price_decimal


def generate_season(
    *,
    n_events: int = 1230,
    books: tuple[str, ...] = DEFAULT_BOOKS,
    first_hours: float = 48.0,
    interval_minutes: float = 30.0,
    start: datetime = datetime(2024, 10, 22, tzinfo=UTC),
    games_per_day: int = 8,
    seed: int = 1,
) -> SyntheticSeason:
    """A season of `n_events` games; rows = n_events × snapshots × books × 6."""
    rng = np.random.default_rng(seed)
    n_snap = int(first_hours * 60 / interval_minutes)
    ids = np.array([f"syn{seed:02d}{i:06d}" for i in range(n_events)])
    day = np.arange(n_events) // games_per_day
    minutes = rng.choice([0, 30, 60, 90, 120, 150], n_events)
    tip = np.datetime64(start.replace(tzinfo=None) + timedelta(hours=24), "ns") + (
        day * 86_400 + minutes * 60
    ).astype("timedelta64[s]")
    teams = np.array([t.name for t in TEAMS])
    home_idx = rng.integers(0, 30, n_events)
    away_idx = (home_idx + rng.integers(1, 30, n_events)) % 30

    # Truth: expected home margin at the open, drifting to the close (the move a CLV model would predict).
    mu_open = rng.normal(2.5, 6.0, n_events)
    mu_close = mu_open + rng.normal(0, 1.5, n_events)
    total_open = rng.normal(226, 8, n_events)
    total_close = total_open + rng.normal(0, 2.0, n_events)
    margin = np.rint(rng.normal(mu_close, 12.5))
    margin[margin == 0] = 1
    total = np.rint(rng.normal(total_close, 18.0))
    home_score = np.rint((total + margin) / 2).astype(int)
    away_score = (total - home_score).astype(int)
    events = pd.DataFrame(
        {"event_id": ids, "home_team": teams[home_idx], "away_team": teams[away_idx],
         "commence_time": pd.to_datetime(tip).tz_localize(UTC), "status": "final", "home_score": home_score,
         "away_score": away_score}
    )  # fmt: skip

    # Snapshot grid: (event, snapshot) then (book) then 6 rows.
    frac = (np.arange(n_snap) + 1) / n_snap  # 0 → open, 1 → last snapshot before tip
    mu = mu_open[:, None] + (mu_close - mu_open)[:, None] * frac[None, :]  # events × snaps
    tot = total_open[:, None] + (total_close - total_open)[:, None] * frac[None, :]
    snap_time = (
        tip[:, None]
        - ((n_snap - np.arange(n_snap)) * interval_minutes * 60).astype("timedelta64[s]")[None, :]
    )
    n_books = len(books)
    vig = np.linspace(0.02, 0.05, n_books)
    noise = 0.012
    shape = (n_events, n_snap, n_books)
    mu_b = mu[:, :, None] + rng.normal(0, 0.4, shape)
    p_home = norm.cdf(mu_b / 12.5)
    spread_line = -np.round(mu_b * 2) / 2
    p_cover = norm.cdf((mu_b + spread_line) / 12.5)
    tot_line = np.round((tot[:, :, None] + rng.normal(0, 0.5, shape)) * 2) / 2
    p_over = norm.cdf((tot[:, :, None] - tot_line) / 18.0)

    def price(p: np.ndarray) -> np.ndarray:
        q = np.clip(p * (1 + vig[None, None, :]) + rng.normal(0, noise, p.shape), 0.02, 0.98)
        return np.round(1.0 / q, 3)

    cols = {
        "h2h": (price(p_home), price(1 - p_home), np.full(shape, np.nan), np.full(shape, np.nan)),
        "spreads": (price(p_cover), price(1 - p_cover), spread_line, -spread_line),
        "totals": (price(p_over), price(1 - p_over), tot_line, tot_line),
    }
    ev_i = np.broadcast_to(np.arange(n_events)[:, None, None], shape).ravel()
    sn_i = np.broadcast_to(np.arange(n_snap)[None, :, None], shape).ravel()
    bk_i = np.broadcast_to(np.arange(n_books)[None, None, :], shape).ravel()
    frames = []
    for market, (pa, pb, pt_a, pt_b) in cols.items():
        out_a = teams[home_idx][ev_i] if market != "totals" else np.full(ev_i.shape, "Over")
        out_b = teams[away_idx][ev_i] if market != "totals" else np.full(ev_i.shape, "Under")
        for outcome, px, pt in ((out_a, pa, pt_a), (out_b, pb, pt_b)):
            frames.append(
                pd.DataFrame(
                    {
                        "event_id": ids[ev_i],
                        "snapshot_time": snap_time[ev_i, sn_i],
                        "bookmaker": np.array(books)[bk_i],
                        "market": market,
                        "outcome": outcome,
                        "point": pt.ravel(),
                        "price_decimal": px.ravel(),
                    }
                )
            )
    odds = pd.concat(frames, ignore_index=True)
    odds["snapshot_time"] = pd.to_datetime(odds["snapshot_time"]).dt.tz_localize(UTC)
    return SyntheticSeason(events=events, odds=odds)


def asof_reference(odds: pd.DataFrame, pairs: pd.DataFrame, max_staleness: timedelta) -> pd.DataFrame:
    """In-memory reference of `read_odds_at_times`: per pair and (bookmaker, market), the rows of the latest
    snapshot with `t - max_staleness <= snapshot_time <= t`. Same columns as the SQL reader (small data only).
    """
    keys = odds[["event_id", "bookmaker", "market", "snapshot_time"]].drop_duplicates()
    cand = pairs[["request_index", "event_id", "decision_time"]].merge(keys, on="event_id")
    cand = cand[(cand["snapshot_time"] <= cand["decision_time"])
                & (cand["snapshot_time"] >= cand["decision_time"] - max_staleness)]  # fmt: skip
    latest = cand.groupby(
        ["request_index", "event_id", "decision_time", "bookmaker", "market"], as_index=False
    )["snapshot_time"].max()
    out = latest.merge(odds, on=["event_id", "bookmaker", "market", "snapshot_time"])
    out["description"] = ""
    return out.sort_values(["request_index", "market", "bookmaker", "outcome"]).reset_index(drop=True)
