"""Decision samples, closing values and the schedule of the CLV dataset (pure, no I/O).

A sample is one (event, market, decision time); decision times follow the latest snapshot of each
hours-before-tip bin by `DECISION_LAG`. A book's closing value is its last snapshot before tip-off taken within
`CLOSE_WINDOW` of it. The conventions (orientation, UTC, as-of rule) are those of `odds_analytics.features`,
which builds the features on these samples.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from odds_analytics.prices import american_to_decimal

__all__ = [
    "CLOSE_WINDOW",
    "DECISION_LAG",
    "DEFAULT_BINS_HOURS",
    "EASTERN",
    "MARKETS",
    "check_market",
    "closing_values",
    "decision_samples",
    "rest_days",
    "utc_times",
]

MARKETS = ("h2h", "spreads", "totals")
DECISION_LAG = timedelta(minutes=1)
# hours-before-tip bins (the fetch tiers): a decision is taken after the latest snapshot in each bin
DEFAULT_BINS_HOURS: tuple[float, ...] = (72.0, 24.0, 12.0, 3.0, 0.0)
EASTERN = ZoneInfo("America/New_York")
# a book's last snapshot counts as its closing price only when taken this close to tip-off
CLOSE_WINDOW = timedelta(minutes=60)


def check_market(market: str) -> None:
    """ValueError unless `market` is one of `MARKETS`."""
    if market not in MARKETS:
        raise ValueError(f"market must be one of {MARKETS}, not {market!r}")


def utc_times(series: pd.Series) -> pd.Series:
    """A column of times as aware UTC timestamps."""
    return pd.to_datetime(series, utc=True)


# ------------------------------------------------------------------------------------------------------
# Decision samples, closes and the schedule
# ------------------------------------------------------------------------------------------------------


def decision_samples(
    odds: pd.DataFrame,
    events: pd.DataFrame,
    *,
    bins_hours: Sequence[float] = DEFAULT_BINS_HOURS,
    lag: timedelta = DECISION_LAG,
) -> pd.DataFrame:
    """One decision per event and hours-before-tip bin: `lag` after the latest snapshot in the bin.

    `bins_hours` are descending edges, e.g. (72, 24, 12, 3, 0): bins (24, 72], (12, 24], (3, 12], (0, 3].
    Snapshots outside every bin (in-play, or further ahead than the first edge) make no decision.
    Returns event_id, decision_time, hours_bin (the bin's upper edge).
    """
    edges = sorted((float(h) for h in bins_hours), reverse=True)
    if len(edges) < 2:
        raise ValueError("bins_hours needs at least two edges")
    snaps = odds[["event_id", "snapshot_time"]].drop_duplicates()
    snaps = snaps.assign(snapshot_time=utc_times(snaps["snapshot_time"])).merge(
        events[["event_id", "commence_time"]].assign(commence_time=utc_times(events["commence_time"])),
        on="event_id",
    )
    decision = snaps["snapshot_time"] + lag
    hours = (snaps["commence_time"] - decision).dt.total_seconds() / 3600.0
    snaps = snaps.assign(decision_time=decision, hours=hours)
    parts = []
    for hi, lo in itertools.pairwise(edges):
        in_bin = snaps[(snaps["hours"] > lo) & (snaps["hours"] <= hi)]
        if in_bin.empty:
            continue
        latest = in_bin.sort_values("decision_time").groupby("event_id", as_index=False).tail(1)
        parts.append(latest.assign(hours_bin=hi)[["event_id", "decision_time", "hours_bin"]])
    if not parts:
        return pd.DataFrame(columns=["event_id", "decision_time", "hours_bin"])
    return pd.concat(parts, ignore_index=True).sort_values(["event_id", "decision_time"], ignore_index=True)


def closing_values(
    closing: pd.DataFrame | None,
    events: pd.DataFrame,
    market: str,
    *,
    close_window: timedelta = CLOSE_WINDOW,
) -> pd.Series:
    """The closing value per event_id for `market`, in the target's orientation.

    h2h: home fair probability (both closing prices devigged); spreads: the home spread (an away row's
    point is negated); totals: the total. Rows are grouped per `bookmaker` (a book's last snapshot before
    tip-off, or `import:<source>` for an imported closing line, as `tasks.storage.reads` returns them).
    Imported lines win when an event has any (one consensus close, as the feasibility probe used);
    otherwise the median of the books' last snapshots is the close, but only snapshots taken within
    `close_window` of tip-off count: a book last seen hours before the game has no closing price (with one
    snapshot a day, its "last" price would be the decision's own price and the target a false zero).
    """
    check_market(market)
    if closing is None or closing.empty:
        return pd.Series(dtype=float, name="close")
    df = closing[closing["market"] == market]
    if "kind" in df.columns:
        df = df[df["kind"].fillna("close") == "close"]
    df = df.merge(events[["event_id", "home_team", "away_team"]], on="event_id")
    if df.empty:
        return pd.Series(dtype=float, name="close")
    if "bookmaker" in df.columns:
        book = df["bookmaker"].fillna("")
    elif "source" in df.columns:
        book = "import:" + df["source"].fillna("")
    else:
        book = pd.Series("import:", index=df.index)
    df = df.assign(book=book.astype(str))
    if {"snapshot_time", "commence_time"} <= set(df.columns):
        snap = utc_times(df["snapshot_time"])
        near_tip = (utc_times(df["commence_time"]) - snap) <= close_window
        df = df[df["book"].str.startswith("import:") | (snap.notna() & near_tip)]
    key = ["event_id", "book"]
    if market == "totals":
        values = df.dropna(subset=["point"]).groupby(key)["point"].first()
    elif market == "spreads":
        sign = np.where(
            df["outcome"] == df["home_team"], 1.0, np.where(df["outcome"] == df["away_team"], -1.0, np.nan)
        )
        df = df.assign(home_point=df["point"] * sign).dropna(subset=["home_point"])
        values = df.groupby(key)["home_point"].first()
    else:
        dec = df["price_decimal"] if "price_decimal" in df.columns else pd.Series(np.nan, index=df.index)
        if "price_american" in df.columns:
            from_american = df["price_american"].map(
                lambda v: american_to_decimal(float(v)) if pd.notna(v) else np.nan
            )
            dec = dec.astype(float).fillna(from_american)
        df = df.assign(dec=dec.astype(float))
        home = df[df["outcome"] == df["home_team"]].groupby(key)["dec"].first()
        away = df[df["outcome"] == df["away_team"]].groupby(key)["dec"].first()
        both = pd.concat([home.rename("h"), away.rename("a")], axis=1).dropna()
        both = both[(both["h"] > 1) & (both["a"] > 1)]
        values = (1 / both["h"]) / (1 / both["h"] + 1 / both["a"])
    if values.empty:
        return pd.Series(dtype=float, name="close")
    frame = values.rename("value").reset_index()
    frame["imported"] = frame["book"].str.startswith("import:")
    has_import = frame.groupby("event_id")["imported"].transform("any")
    frame = frame[frame["imported"] | ~has_import]
    out = frame.groupby("event_id")["value"].agg(lambda v: float(np.median(v)))
    out.name = "close"
    return out.astype(float)


def rest_days(events: pd.DataFrame, *, cap: float = 7.0) -> pd.DataFrame:
    """Rest days before each game for both teams, from the schedule (US/Eastern dates).

    rest = days since the team's previous game (1 = back-to-back), capped at `cap`; NaN when the schedule
    shows no earlier game. The schedule is published in advance, so this uses nothing from after the
    decision time. Returns event_id, rest_days_home, rest_days_away.
    """
    ev = events[["event_id", "home_team", "away_team", "commence_time"]].copy()
    ev["day"] = utc_times(ev["commence_time"]).dt.tz_convert(EASTERN).dt.normalize().dt.tz_localize(None)
    long = pd.concat(
        [
            ev[["event_id", "home_team", "day"]].rename(columns={"home_team": "team"}).assign(role="home"),
            ev[["event_id", "away_team", "day"]].rename(columns={"away_team": "team"}).assign(role="away"),
        ],
        ignore_index=True,
    ).sort_values(["team", "day"])
    long["rest"] = (long["day"] - long.groupby("team")["day"].shift(1)).dt.days.clip(upper=cap)
    wide = long.pivot_table(index="event_id", columns="role", values="rest", aggfunc="first")
    wide = wide.reindex(index=ev["event_id"].unique(), columns=["home", "away"])
    return pd.DataFrame(
        {
            "event_id": wide.index.to_numpy(),
            "rest_days_home": wide["home"].to_numpy(dtype=float),
            "rest_days_away": wide["away"].to_numpy(dtype=float),
        }
    )
