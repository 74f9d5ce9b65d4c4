"""A small simulated market with a known, learnable line-movement signal (pure; for tests and benchmarks).

Each game has a true home margin mean `mu`. Books quote the spread at `-mu_seen` where `mu_seen` lags the
truth, the moneyline from the truth (so the moneyline-implied spread minus the quoted spread predicts the
move, as on real data), and the close is the truth plus noise. Totals follow the same pattern with a
sharp-book lead. Returns frames shaped like the `odds`, `events` and `closing_lines` tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from scipy.stats import norm

from odds_analytics.features import MARGIN_SD_POINTS

__all__ = ["TEAM_NAMES", "simulate_line_history", "simulate_market"]

TEAM_NAMES = [
    "Boston Celtics",
    "Miami Heat",
    "Denver Nuggets",
    "Phoenix Suns",
    "Golden State Warriors",
    "Los Angeles Lakers",
    "Milwaukee Bucks",
    "Chicago Bulls",
    "Dallas Mavericks",
    "New York Knicks",
]
BOOKS = ["draftkings", "fanduel", "betmgm", "caesars", "lowvig", "betonlineag"]
SHARP = {"lowvig", "betonlineag"}


def _decimal(p: float, margin: float) -> float:
    return 1.0 / (p * (1.0 + margin))


def simulate_market(
    *,
    n_games: int = 120,
    start: datetime = datetime(2024, 1, 1, 0, 0, tzinfo=UTC),
    hours_before: tuple[float, ...] = (30.0, 14.0, 6.0, 1.0),
    seed: int = 1,
    signal: float = 0.6,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(odds, events, closing) for `n_games` games, 3 per day, every book quoting at each snapshot."""
    rng = np.random.default_rng(seed)
    odds_rows = []
    events = []
    closing = []
    for g in range(n_games):
        home, away = rng.choice(TEAM_NAMES, size=2, replace=False)
        commence = start + timedelta(days=g // 3, hours=int(g % 3))
        event_id = f"sim{g:05d}"
        events.append((event_id, str(home), str(away), commence))
        mu = rng.normal(2.0, 6.0)
        lag = rng.normal(0.0, 1.5)  # what the spread market has not priced yet
        total_true = rng.normal(225.0, 8.0)
        total_lag = rng.normal(0.0, 2.0)
        for k, h in enumerate(hours_before):
            snap = commence - timedelta(hours=h)
            # the lag decays as tip-off nears: later snapshots carry less of it
            share = (len(hours_before) - k) / len(hours_before)
            seen = mu - lag * share
            t_seen = total_true - total_lag * share
            for book in BOOKS:
                noise = rng.normal(0, 0.25)
                spread_home = -round((seen + noise) * 2) / 2
                p_home = float(norm.cdf(mu / MARGIN_SD_POINTS))
                margin = 0.03 if book in SHARP else 0.045
                sharp_total = t_seen + (total_lag * share * 0.5 if book in SHARP else 0.0)
                total_line = round((sharp_total + rng.normal(0, 0.3)) * 2) / 2
                odds_rows += [
                    (event_id, snap, book, "h2h", str(home), None, _decimal(p_home, margin)),
                    (event_id, snap, book, "h2h", str(away), None, _decimal(1 - p_home, margin)),
                    (event_id, snap, book, "spreads", str(home), spread_home, 1.91),
                    (event_id, snap, book, "spreads", str(away), -spread_home, 1.91),
                    (event_id, snap, book, "totals", "Over", total_line, 1.91),
                    (event_id, snap, book, "totals", "Under", total_line, 1.91),
                ]
        close_home = -round((mu + rng.normal(0, 0.5 / signal)) * 2) / 2
        close_total = round((total_true + rng.normal(0, 1.0 / signal)) * 2) / 2
        p_close = float(np.clip(norm.cdf(mu / MARGIN_SD_POINTS) + rng.normal(0, 0.01), 0.02, 0.98))
        closing += [
            (event_id, "spreads", str(home), close_home, None),
            (event_id, "spreads", str(away), -close_home, None),
            (event_id, "totals", "Over", close_total, None),
            (event_id, "totals", "Under", close_total, None),
            (event_id, "h2h", str(home), None, 1 / p_close),
            (event_id, "h2h", str(away), None, 1 / (1 - p_close)),
        ]
    odds = pd.DataFrame(
        odds_rows,
        columns=["event_id", "snapshot_time", "bookmaker", "market", "outcome", "point", "price_decimal"],
    )
    odds["snapshot_time"] = pd.to_datetime(odds["snapshot_time"], utc=True)
    ev = pd.DataFrame(events, columns=["event_id", "home_team", "away_team", "commence_time"])
    ev["commence_time"] = pd.to_datetime(ev["commence_time"], utc=True)
    close = pd.DataFrame(closing, columns=["event_id", "market", "outcome", "point", "price_decimal"])
    close = close.assign(bookmaker="import:sim", source="import", kind="close")
    return odds, ev, close


def simulate_line_history(
    *,
    seasons: tuple[int, ...] = (2019, 2020, 2021, 2022),
    games_per_season: int = 240,
    seed: int = 2,
    b2b_away_drift: float = -0.5,
    source: str = "sbr",
) -> pd.DataFrame:
    """Imported open/close lines of past seasons, long form as `closing_lines` joined with `events` holds them.

    Teams play every other day with some back-to-backs; when the away team is on the second night of a
    back-to-back the home spread drifts by `b2b_away_drift` from open to close (rest news comes late),
    otherwise the move is noise. Columns: day, home_team, away_team, source, kind, market, outcome, point.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for season in seasons:
        start = datetime(season, 10, 20, tzinfo=UTC).date()
        for d in range(games_per_season // 2):
            # two games a day between four different teams: some teams play the night after (back-to-back)
            teams = [str(t) for t in rng.choice(TEAM_NAMES, size=4, replace=False)]
            for home, away in ((teams[0], teams[1]), (teams[2], teams[3])):
                spread_open = float(np.round(rng.normal(-2.0, 6.0) * 2) / 2)
                total_open = float(np.round(rng.normal(225.0, 8.0) * 2) / 2)
                rows.append((start + timedelta(days=d), home, away, spread_open, total_open))
    games = pd.DataFrame(rows, columns=["day", "home_team", "away_team", "spread_open", "total_open"])
    from odds_analytics.prior import schedule_context

    rest = schedule_context(games)
    drift = np.where(rest["rest_away"] == 1, b2b_away_drift, 0.0) + rng.normal(0, 1.0, len(games))
    games["spread_close"] = games["spread_open"] + np.round(drift * 2) / 2
    games["total_close"] = games["total_open"] + np.round(rng.normal(0, 1.5, len(games)) * 2) / 2
    out = []
    for g in games.itertuples(index=False):
        for kind in ("open", "close"):
            spread = g.spread_open if kind == "open" else g.spread_close
            total = g.total_open if kind == "open" else g.total_close
            base = (g.day, g.home_team, g.away_team, source, kind)
            out += [
                (*base, "spreads", g.home_team, spread),
                (*base, "spreads", g.away_team, -spread),
                (*base, "totals", "Over", total),
                (*base, "totals", "Under", total),
            ]
    return pd.DataFrame(
        out, columns=["day", "home_team", "away_team", "source", "kind", "market", "outcome", "point"]
    )
