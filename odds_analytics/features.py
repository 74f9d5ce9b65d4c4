"""CLV dataset: decision samples, targets and features, each computed as of the decision time (pure, no I/O).

Conventions
- Inputs are DataFrames shaped like the tables: `odds` rows (event_id, snapshot_time, bookmaker, market,
  outcome, point, price_decimal), events (event_id, home_team, away_team, commence_time), closing lines
  (event_id, market, outcome, point, price_decimal and/or price_american) and, optionally, Polymarket
  moneyline quotes (event_id, outcome, snapshot_time, mid, best_bid, best_ask, spread, bid_depth,
  ask_depth, imbalance). Every time is an aware UTC timestamp.
- One sample per (event, market, decision time), oriented on the home side for h2h and spreads and on the
  Over for totals. The other side is the mirror (its move is the negative), so the dataset holds no mirror
  duplicates while both sides' prices feed every feature, and `recommend.py` scores both sides.
- Targets: h2h, close fair probability minus current consensus fair probability (home); spreads, closing
  home spread minus the current consensus home spread (points); totals, closing total minus the current
  consensus total (points).
- As-of rule: a feature at decision time `t` uses only quotes with `snapshot_time < t` (strictly earlier,
  so a snapshot stamped at the decision instant can never leak in) and no older than `max_staleness`.
  Decision times taken from snapshots are placed `DECISION_LAG` after the snapshot they follow.
- Polymarket features are NaN when there is no linked market: rows are kept, never dropped.

The samples, closing values and schedule (`decision_samples`, `closing_values`, `rest_days`) are built in
`odds_analytics.samples` and re-exported here.

Example:
    >>> samples = decision_samples(odds_rows, events)             # (event_id, decision_time)
    >>> data = build_dataset(odds_rows, events, samples, market="spreads", closing=closing_rows)
    >>> data[["event_id", "current", "target", *feature_columns("spreads")]]
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import pandas as pd
from scipy.stats import norm

from odds_analytics.devig import devig_two_way
from odds_analytics.fair import MARGIN_SD
from odds_analytics.samples import (
    CLOSE_WINDOW,
    DECISION_LAG,
    DEFAULT_BINS_HOURS,
    EASTERN,
    MARKETS,
    check_market,
    closing_values,
    decision_samples,
    rest_days,
    utc_times,
)

__all__ = [
    "BOOK_DEVIATION_PREFIX",
    "CLOSE_WINDOW",
    "DECISION_LAG",
    "DEFAULT_BINS_HOURS",
    "LEGACY_FEATURES",
    "MARGIN_SD_POINTS",
    "MARKETS",
    "POLYMARKET_FEATURES",
    "TOTAL_SD_POINTS",
    "book_deviation_columns",
    "book_quotes",
    "build_dataset",
    "closing_values",
    "decision_samples",
    "fair_lines",
    "feature_columns",
    "rest_days",
]

# standard deviation of the NBA final margin around the spread and of the total around the line, in points
MARGIN_SD_POINTS = MARGIN_SD["spreads"]
TOTAL_SD_POINTS = MARGIN_SD["totals"]

_BOOK_FEATURES = [
    "consensus",
    "mean_minus_median",
    "book_std",
    "book_range",
    "n_books",
    "sharp",
    "retail_minus_sharp",
    "price_skew",
    "overround",
    "best_home_edge",
    "best_away_edge",
    "cross_market_gap",
    "open_to_now",
    "velocity_per_hour",
]
# added for issue 18 (docs/MODELING.md, "Pre-registration"): appended after the original columns so the
# original model kinds keep their exact feature lists (`LEGACY_FEATURES`)
_BOOK_FEATURES_V2 = [
    "fair_line_gap",
    "sharp_fair_gap",
    "open_to_now_per_hour",
    "path_missing",
]
_CONTEXT_FEATURES = [
    "hours_to_tip",
    "day_of_week",
    "rest_days_home",
    "rest_days_away",
    "rest_diff",
    "b2b_home",
    "b2b_away",
]
POLYMARKET_FEATURES = [
    "pm_mid",
    "pm_spread",
    "pm_depth",
    "pm_imbalance",
    "pm_velocity_per_hour",
    "pm_divergence",
]
# the feature list of the first model version (the `xgboost` kind keeps it)
LEGACY_FEATURES = [*_BOOK_FEATURES, *_CONTEXT_FEATURES, *POLYMARKET_FEATURES]
# one column per bookmaker: its fair line (h2h: fair probability) minus the consensus, NaN when it does
# not quote; the per-book lead models weigh them (re-estimated on every training window)
BOOK_DEVIATION_PREFIX = "dev__"


def feature_columns(market: str) -> list[str]:
    """The model's feature names for `market` (the same list for every market; NaN where not defined).

    The per-book deviation columns (`book_deviation_columns`) come on top: their set depends on the books.
    """
    check_market(market)
    return [*LEGACY_FEATURES, *_BOOK_FEATURES_V2, "prior_drift"]


def book_deviation_columns(data: pd.DataFrame) -> list[str]:
    """The per-book deviation columns of a dataset, sorted."""
    return sorted(c for c in data.columns if str(c).startswith(BOOK_DEVIATION_PREFIX))


# ------------------------------------------------------------------------------------------------------
# Per-book quotes: one row per (event, market, bookmaker, snapshot_time) with both sides devigged
# ------------------------------------------------------------------------------------------------------


def book_quotes(
    odds: pd.DataFrame, events: pd.DataFrame, *, devig_method: str = "multiplicative"
) -> pd.DataFrame:
    """Pair both sides of each book's two-way market and devig them (`odds_analytics.devig`).

    Returns columns event_id, market, bookmaker, snapshot_time, value (h2h: home fair probability;
    spreads: home point; totals: total points), home_price, away_price (Over/Under for totals) and
    home_fair (fair probability of the home side / the Over at the quoted point), overround. Quotes missing a
    side, or whose spread points disagree, are left out: a one-sided price can't be devigged.
    """
    cols = [
        "event_id",
        "market",
        "bookmaker",
        "snapshot_time",
        "value",
        "home_price",
        "away_price",
        "home_fair",
        "overround",
    ]
    if odds.empty:
        return pd.DataFrame(columns=cols)
    df = odds[odds["market"].isin(MARKETS)].merge(
        events[["event_id", "home_team", "away_team"]], on="event_id", how="inner"
    )
    if "description" in df.columns:
        df = df[df["description"].fillna("") == ""]
    df = df.assign(snapshot_time=utc_times(df["snapshot_time"]))
    side = np.select(
        [
            (df["market"] != "totals") & (df["outcome"] == df["home_team"]),
            (df["market"] != "totals") & (df["outcome"] == df["away_team"]),
            (df["market"] == "totals") & (df["outcome"].str.lower() == "over"),
            (df["market"] == "totals") & (df["outcome"].str.lower() == "under"),
        ],
        ["home", "away", "home", "away"],
        default="",
    )
    df = df.assign(side=side)
    df = df[df["side"] != ""]
    key = ["event_id", "market", "bookmaker", "snapshot_time"]
    # groupby + unstack keeps only the observed (event, market, book, time) keys (a pivot_table with
    # dropna=False would build their full cartesian product)
    wide = df.groupby([*key, "side"], sort=False)[["price_decimal", "point"]].first().unstack("side")
    if wide.empty:
        return pd.DataFrame(columns=cols)
    wide.columns = [f"{a}_{b}" for a, b in wide.columns]
    wide = wide.reset_index()
    for name in ("price_decimal_home", "price_decimal_away", "point_home", "point_away"):
        if name not in wide.columns:
            wide[name] = np.nan
    wide = wide.dropna(subset=["price_decimal_home", "price_decimal_away"])
    wide = wide[(wide["price_decimal_home"] > 1.0) & (wide["price_decimal_away"] > 1.0)]
    inv_h = 1.0 / wide["price_decimal_home"].to_numpy(dtype=float)
    inv_a = 1.0 / wide["price_decimal_away"].to_numpy(dtype=float)
    fair_home, _ = devig_two_way(inv_h, inv_a, devig_method)
    wide = wide.assign(home_fair=fair_home, overround=inv_h + inv_a - 1.0).dropna(subset=["home_fair"])
    is_h2h = wide["market"] == "h2h"
    is_spread = wide["market"] == "spreads"
    is_total = wide["market"] == "totals"
    consistent = (
        is_h2h
        | (is_spread & ((wide["point_home"] + wide["point_away"]).abs() < 1e-9))
        | (is_total & ((wide["point_home"] - wide["point_away"]).abs() < 1e-9))
    )
    wide = wide[consistent]
    value = np.where(wide["market"] == "h2h", wide["home_fair"], wide["point_home"])
    out = pd.DataFrame(
        {
            "event_id": wide["event_id"].to_numpy(),
            "market": wide["market"].to_numpy(),
            "bookmaker": wide["bookmaker"].to_numpy(),
            "snapshot_time": wide["snapshot_time"].to_numpy(),
            "value": value.astype(float),
            "home_price": wide["price_decimal_home"].to_numpy(dtype=float),
            "away_price": wide["price_decimal_away"].to_numpy(dtype=float),
            "home_fair": wide["home_fair"].to_numpy(dtype=float),
            "overround": wide["overround"].to_numpy(dtype=float),
        }
    )
    out["snapshot_time"] = utc_times(out["snapshot_time"])
    return out.sort_values(["event_id", "market", "snapshot_time", "bookmaker"], ignore_index=True)


# ------------------------------------------------------------------------------------------------------
# Features as of a decision time
# ------------------------------------------------------------------------------------------------------


def fair_lines(latest: pd.DataFrame, market: str) -> np.ndarray:
    """Each quote's line moved to an even price: the point at which its devigged side would be 50 %.

    spreads: home point − (home fair − ½) / slope (a home side priced above ½ at +3 is worth less than
    +3); totals: total + (Over fair − ½) / slope; slope = the normal margin's density at 0 per point
    (sd `MARGIN_SD_POINTS` / `TOTAL_SD_POINTS`). h2h: the fair probability itself.
    """
    value = latest["value"].to_numpy(dtype=float)
    if market == "h2h":
        return value
    fair = latest["home_fair"].to_numpy(dtype=float) - 0.5
    if market == "spreads":
        return value - fair / float(norm.pdf(0.0) / MARGIN_SD_POINTS)
    return value + fair / float(norm.pdf(0.0) / TOTAL_SD_POINTS)


def _latest_per_book(quotes: pd.DataFrame, t: pd.Timestamp, staleness: timedelta) -> pd.DataFrame:
    """Each book's latest quote strictly before `t` and not older than `staleness`."""
    known = quotes[(quotes["snapshot_time"] < t) & (quotes["snapshot_time"] >= t - staleness)]
    if known.empty:
        return known
    return known.sort_values("snapshot_time").groupby("bookmaker", as_index=False).tail(1)


def _consensus_path(quotes: pd.DataFrame, staleness: timedelta) -> pd.Series:
    """Consensus (median over books' latest quotes at or before it) at every snapshot time of `quotes`.

    The value at snapshot time s uses only quotes stamped <= s, so the part of the path before a decision
    time t (index < t) never sees a quote from t or later.
    """
    times = np.sort(quotes["snapshot_time"].unique())
    # what `_latest_per_book(quotes, s + 1 µs, staleness)` would pick at each s, for all s at once: per book,
    # its rows in time order (stable), the last one before s + 1 µs, kept if not older than the staleness
    # (issue 17: one pandas filter, sort and groupby per snapshot time was most of the dataset's build)
    at = pd.DatetimeIndex(quotes["snapshot_time"]).as_unit("ns").asi8
    book, _ = pd.factorize(quotes["bookmaker"])
    value = quotes["value"].to_numpy(dtype=float)
    bounds = pd.DatetimeIndex(times).as_unit("ns").asi8 + 1_000  # s + 1 µs, in ns
    stale = int(pd.Timedelta(staleness).value)
    picked = np.full((len(times), int(book.max()) + 1 if len(book) else 0), -1)
    for b in range(picked.shape[1]):
        rows = np.flatnonzero(book == b)
        rows = rows[np.argsort(at[rows], kind="stable")]
        last = np.searchsorted(at[rows], bounds, side="left") - 1
        fresh = (last >= 0) & (at[rows[np.maximum(last, 0)]] >= bounds - stale)
        picked[fresh, b] = rows[last[fresh]]
    values = {}
    for s, row in zip(times, picked, strict=True):
        chosen = row[row >= 0]
        if len(chosen):
            known = value[chosen]
            known = known[~np.isnan(known)]
            values[pd.Timestamp(s)] = float(np.median(known)) if len(known) else np.nan
    return pd.Series(values, dtype=float)


def _book_features(
    quotes: pd.DataFrame,
    market: str,
    t: pd.Timestamp,
    *,
    staleness: timedelta,
    sharp_books: Iterable[str],
    full_path: pd.Series | None = None,
) -> dict[str, float]:
    latest = _latest_per_book(quotes, t, staleness)
    if latest.empty:
        return {}
    values = latest["value"].to_numpy(dtype=float)
    consensus = float(np.median(values))
    sharp_mask = latest["bookmaker"].isin(list(sharp_books)).to_numpy()
    sharp = float(np.median(values[sharp_mask])) if sharp_mask.any() else np.nan
    retail = float(np.median(values[~sharp_mask])) if (~sharp_mask).any() else np.nan
    fair = latest["home_fair"].to_numpy(dtype=float)
    if market == "h2h":
        best_home = float(np.max(latest["home_price"].to_numpy() * consensus) - 1.0)
        best_away = float(np.max(latest["away_price"].to_numpy() * (1.0 - consensus)) - 1.0)
        skew = np.nan
    elif market == "spreads":
        # more points for the home side (a larger home spread) is better for home, fewer for away
        best_home = float(np.max(values) - consensus)
        best_away = float(consensus - np.min(values))
        skew = float(np.median(fair) - 0.5)
    else:  # totals: home side = Over, which wants a lower total
        best_home = float(consensus - np.min(values))
        best_away = float(np.max(values) - consensus)
        skew = float(np.median(fair) - 0.5)
    if full_path is None:
        full_path = _consensus_path(quotes, staleness)
    path = full_path[full_path.index < t]
    open_to_now = float(consensus - path.iloc[0]) if len(path) > 1 else np.nan
    open_rate = np.nan
    if len(path) > 1:
        hours = (path.index[-1] - path.index[-2]).total_seconds() / 3600.0
        velocity = float((path.iloc[-1] - path.iloc[-2]) / hours) if hours > 0 else np.nan
        span = (path.index[-1] - path.index[0]).total_seconds() / 3600.0
        open_rate = open_to_now / span if span > 0 else np.nan
    else:
        velocity = np.nan
    fair = fair_lines(latest, market)
    fair_consensus = float(np.median(fair))
    sharp_fair = float(np.median(fair[sharp_mask])) if sharp_mask.any() else np.nan
    deviations = {
        f"{BOOK_DEVIATION_PREFIX}{book}": float(v - consensus)
        for book, v in zip(latest["bookmaker"].astype(str), fair, strict=True)
    }
    return deviations | {
        "consensus": consensus,
        "mean_minus_median": float(np.mean(values) - consensus),
        "book_std": float(np.std(values, ddof=0)),
        "book_range": float(np.max(values) - np.min(values)),
        "n_books": float(len(values)),
        "sharp": sharp,
        "retail_minus_sharp": retail - sharp if not np.isnan(sharp) else np.nan,
        "price_skew": skew,
        "overround": float(np.median(latest["overround"].to_numpy(dtype=float))),
        "best_home_edge": best_home,
        "best_away_edge": best_away,
        "open_to_now": open_to_now,
        "velocity_per_hour": velocity,
        "fair_line_gap": fair_consensus - consensus,
        "sharp_fair_gap": sharp_fair - consensus,
        "open_to_now_per_hour": open_rate,
        "path_missing": 0.0 if len(path) > 1 else 1.0,
    }


def _pm_features(
    pm: pd.DataFrame | None, home_team: str, t: pd.Timestamp, staleness: timedelta
) -> dict[str, float]:
    """Polymarket moneyline features for the home token, as of `t`; NaN when there is no quote."""
    empty = dict.fromkeys(POLYMARKET_FEATURES[:-1], np.nan)
    if pm is None or pm.empty:
        return empty
    rows = pm[(pm["outcome"] == home_team) & (pm["snapshot_time"] < t)]
    if rows.empty:
        return empty
    rows = rows.sort_values("snapshot_time")
    last = rows.iloc[-1]
    if last["snapshot_time"] < t - staleness:  # the latest quote is too old to be "now"
        return empty

    def num(name: str) -> float:
        value = last.get(name, np.nan)
        return float(value) if value is not None and pd.notna(value) else np.nan

    mid = num("mid")
    if np.isnan(mid) and not np.isnan(num("best_bid")) and not np.isnan(num("best_ask")):
        mid = (num("best_bid") + num("best_ask")) / 2
    if np.isnan(mid):
        mid = num("price")
    spread = num("spread")
    if np.isnan(spread):
        spread = num("best_ask") - num("best_bid")
    depth = num("bid_depth") + num("ask_depth")
    velocity = np.nan
    mids = rows["mid"] if "mid" in rows.columns else rows.get("price")
    if mids is not None and mids.notna().sum() > 1:
        valid = rows[mids.notna()]
        valid_mids = mids[mids.notna()]
        hours = (valid["snapshot_time"].iloc[-1] - valid["snapshot_time"].iloc[-2]).total_seconds() / 3600.0
        if hours > 0:
            velocity = float((valid_mids.iloc[-1] - valid_mids.iloc[-2]) / hours)
    return {
        "pm_mid": mid,
        "pm_spread": spread,
        "pm_depth": depth,
        "pm_imbalance": num("imbalance"),
        "pm_velocity_per_hour": velocity,
    }


def build_dataset(
    odds: pd.DataFrame,
    events: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    market: str,
    closing: pd.DataFrame | None = None,
    polymarket: pd.DataFrame | None = None,
    sharp_books: Iterable[str] = ("pinnacle", "circasports", "lowvig", "betonlineag"),
    max_staleness: timedelta = timedelta(hours=24),
    devig_method: str = "multiplicative",
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features (as of each decision time) and target for every decision sample of `market`.

    `samples` has event_id and decision_time (see `decision_samples`, or "now" for live scoring).
    Returns one row per sample that has at least one book quoting `market` before the decision, with
    event_id, market, decision_time, commence_time, home_team, away_team, current (the consensus),
    close and target (NaN when no closing line is known), plus `feature_columns(market)` and one
    `dev__<bookmaker>` column per book seen. Rows without Polymarket data keep NaN Polymarket features.
    `history` (open and close of earlier games, `odds_analytics.prior.line_history`) gives `prior_drift`,
    each row's from the seasons before its own; without it the column is NaN.
    """
    check_market(market)
    sharp_books = tuple(sharp_books)
    ev = events.assign(commence_time=utc_times(events["commence_time"])).set_index("event_id", drop=False)
    quotes = book_quotes(odds, ev.reset_index(drop=True), devig_method=devig_method)
    by_event = {key: grp for key, grp in quotes.groupby(["event_id", "market"], sort=False)}  # noqa: C416 - GroupBy has .keys
    pm = None
    if polymarket is not None and not polymarket.empty:
        pm = polymarket.assign(snapshot_time=utc_times(polymarket["snapshot_time"]))
        pm_by_event = {key: grp for key, grp in pm.groupby("event_id", sort=False)}  # noqa: C416
    else:
        pm_by_event = {}
    rest = rest_days(ev.reset_index(drop=True)).set_index("event_id")
    close = closing_values(closing, ev.reset_index(drop=True), market) if closing is not None else None
    rows = []
    empty = pd.DataFrame(columns=quotes.columns)
    paths: dict[tuple[str, str], pd.Series] = {}
    for sample in samples.itertuples(index=False):
        event_id = sample.event_id
        if event_id not in ev.index:
            continue
        t = pd.Timestamp(sample.decision_time)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        event = ev.loc[event_id]
        key = (event_id, market)
        event_quotes = by_event.get(key, empty)
        if key not in paths and not event_quotes.empty:
            paths[key] = _consensus_path(event_quotes, max_staleness)
        feats = _book_features(
            event_quotes,
            market,
            t,
            staleness=max_staleness,
            sharp_books=sharp_books,
            full_path=paths.get(key),
        )
        if not feats:
            continue
        # cross-market: the spread implied by the moneyline against the quoted spread (and the reverse)
        gap = np.nan
        if market == "spreads":
            h2h = _latest_per_book(by_event.get((event_id, "h2h"), empty), t, max_staleness)
            if not h2h.empty:
                p = float(np.clip(h2h["value"].median(), 1e-4, 1 - 1e-4))
                gap = float(-MARGIN_SD_POINTS * norm.ppf(p) - feats["consensus"])
        elif market == "h2h":
            spreads = _latest_per_book(by_event.get((event_id, "spreads"), empty), t, max_staleness)
            if not spreads.empty:
                gap = float(norm.cdf(-spreads["value"].median() / MARGIN_SD_POINTS) - feats["consensus"])
        feats["cross_market_gap"] = gap
        h2h_now = _latest_per_book(by_event.get((event_id, "h2h"), empty), t, max_staleness)
        pm_feats = _pm_features(pm_by_event.get(event_id), event["home_team"], t, max_staleness)
        pm_feats["pm_divergence"] = (
            pm_feats["pm_mid"] - float(h2h_now["value"].median()) if not h2h_now.empty else np.nan
        )
        commence = event["commence_time"]
        rest_home = rest.at[event_id, "rest_days_home"] if event_id in rest.index else np.nan
        rest_away = rest.at[event_id, "rest_days_away"] if event_id in rest.index else np.nan
        context = {
            "hours_to_tip": (commence - t).total_seconds() / 3600.0,
            "day_of_week": float(commence.tz_convert(EASTERN).dayofweek),
            "rest_days_home": rest_home,
            "rest_days_away": rest_away,
            "rest_diff": rest_home - rest_away,
            "b2b_home": float(rest_home == 1) if pd.notna(rest_home) else np.nan,
            "b2b_away": float(rest_away == 1) if pd.notna(rest_away) else np.nan,
        }
        close_value = float(close.get(event_id, np.nan)) if close is not None else np.nan
        rows.append(
            {
                "event_id": event_id,
                "market": market,
                "decision_time": t,
                "commence_time": commence,
                "home_team": event["home_team"],
                "away_team": event["away_team"],
                "current": feats["consensus"],
                "close": close_value,
                "target": close_value - feats["consensus"],
                **feats,
                **context,
                **pm_feats,
            }
        )
    columns = [
        "event_id",
        "market",
        "decision_time",
        "commence_time",
        "home_team",
        "away_team",
        "current",
        "close",
        "target",
        *feature_columns(market),
    ]
    deviations = sorted({k for row in rows for k in row if k.startswith(BOOK_DEVIATION_PREFIX)})
    out = pd.DataFrame(rows, columns=[*columns, *deviations])
    for name in ["current", "close", "target", *feature_columns(market), *deviations]:
        out[name] = out[name].astype(float)
    from odds_analytics.prior import add_prior_features

    out = add_prior_features(out, history, market=market, events=ev.reset_index(drop=True))
    return out.sort_values(["decision_time", "event_id"], ignore_index=True)
