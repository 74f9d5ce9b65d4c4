"""Historical open→close drift by situation: a prior fitted on earlier seasons only (pure, no I/O).

Fifteen seasons of open and close lines (`../shared/data/sbr_open_close`, imported with
`odds import closing-lines --format sbr`) show systematic drift from the open to the close: the spread moves
away from a team on the second night of a back-to-back (rest decisions are announced late), small home
favourites drift, and so on. `fit_drift_prior` estimates that drift per market from a ridge regression on
situation indicators; `add_prior_features` scores each dataset row with the prior fitted on the seasons
**before the row's own season** (an NBA season runs August to July and is named by its start year), so a
row never sees a line from its own season or later.

Situations (the same columns for history games and dataset rows; see `situation_matrix`):
- favourite size: the home spread in buckets (history: the open; rows: the current consensus);
- rest: back-to-back home, away, both, and the rest difference capped at ±3 days (from the schedule);
- calendar: month of the US/Eastern game date (October…April; later months are the base level) and a
  `series` flag (April or later, and the same two teams met within the previous 4 days: a playoff series).
Totals use the same situations without the favourite size. Team effects were measured and left out: fitted on seasons before S they
made the out-of-sample fit on S worse (docs/MODELING.md).

Example:
    >>> history = line_history(rows)                        # long rows -> one row per game and market
    >>> data = add_prior_features(data, history, market="spreads")   # adds `prior_drift`
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

__all__ = [
    "HISTORY_COLUMNS",
    "PRIOR_FEATURES",
    "PRIOR_MARKETS",
    "DriftPrior",
    "add_prior_features",
    "clean_history",
    "fit_drift_prior",
    "history_skill",
    "line_history",
    "schedule_context",
    "season_of",
    "situation_matrix",
]

_EASTERN = ZoneInfo("America/New_York")
PRIOR_MARKETS = ("spreads", "totals")
PRIOR_FEATURES = ["prior_drift"]
HISTORY_COLUMNS = ["day", "home_team", "away_team", "market", "open", "close"]
# a history game whose line moved more than this from open to close is a typo in the source
MAX_MOVE = {"spreads": 8.0, "totals": 15.0}
# ridge penalty (sum of squares scale): chosen by leave-future-season-out fits on the history itself
DEFAULT_PENALTY = {"spreads": 100.0, "totals": 300.0}
_SPREAD_EDGES = [-np.inf, -10, -6, -3, -0.1, 0.1, 3, 6, 10, np.inf]
_MONTHS = (10, 11, 12, 1, 2, 3, 4)
SERIES_DAYS = 4


def season_of(day: date | datetime | pd.Timestamp) -> int:
    """The NBA season of a game date, by its start year (2023 = 2023-24; August starts a new season)."""
    return day.year if day.month >= 8 else day.year - 1


def _seasons(days: pd.Series) -> pd.Series:
    d = pd.to_datetime(days)
    return pd.Series(np.where(d.dt.month >= 8, d.dt.year, d.dt.year - 1), index=days.index, dtype=int)


# ------------------------------------------------------------------------------------------------------
# History: one row per game and market with the open and the close
# ------------------------------------------------------------------------------------------------------


def line_history(rows: pd.DataFrame) -> pd.DataFrame:
    """Open and close per game and market from long rows of imported lines.

    `rows` has day (US/Eastern game date) or commence_time, home_team, away_team, source, kind (open or
    close), market, outcome, point: what `closing_lines` joined with `events` holds. A game counts when one
    source gives both its open and its close; spreads are in the home orientation (an away row's point is
    negated), totals are the Over's point. Returns `HISTORY_COLUMNS`, sorted by day.
    """
    if rows.empty:
        return pd.DataFrame(columns=HISTORY_COLUMNS)
    df = rows[rows["market"].isin(PRIOR_MARKETS) & rows["point"].notna()].copy()
    if "day" not in df.columns:
        df["day"] = pd.to_datetime(df["commence_time"], utc=True).dt.tz_convert(_EASTERN).dt.date
    home = (df["market"] == "spreads") & (df["outcome"] == df["home_team"])
    away = (df["market"] == "spreads") & (df["outcome"] == df["away_team"])
    over = (df["market"] == "totals") & (df["outcome"].str.lower() == "over")
    df["value"] = np.where(home | over, df["point"], np.where(away, -df["point"], np.nan))
    df = df.dropna(subset=["value"])
    key = ["day", "home_team", "away_team", "market", "source"]
    wide = df.groupby([*key, "kind"])["value"].first().unstack("kind")
    for kind in ("open", "close"):
        if kind not in wide.columns:
            wide[kind] = np.nan
    wide = wide.dropna(subset=["open", "close"]).reset_index()
    # one row per game and market (a second source for the same game adds nothing)
    wide = wide.sort_values("source").drop_duplicates(subset=key[:-1])
    wide["day"] = pd.to_datetime(wide["day"])
    return wide[HISTORY_COLUMNS].sort_values(["day", "home_team"], ignore_index=True)


def clean_history(history: pd.DataFrame) -> pd.DataFrame:
    """Drop typos: moves beyond `MAX_MOVE`, spreads beyond ±25 and totals outside 150-280 points."""
    if history.empty:
        return history
    move = (history["close"] - history["open"]).abs()
    limit = history["market"].map(MAX_MOVE).astype(float)
    sane = np.where(
        history["market"] == "spreads",
        history["open"].abs() <= 25,
        history["open"].between(150, 280),
    )
    return history[(move <= limit) & sane].reset_index(drop=True)


def schedule_context(games: pd.DataFrame, *, cap: float = 7.0) -> pd.DataFrame:
    """Rest days of both teams and the playoff-series flag, from a list of games (day, home, away).

    rest = days since the team's previous game (1 = back-to-back), capped at `cap`, NaN for its first
    game; series = 1 when the game is in April or later and the same two teams met in the previous
    `SERIES_DAYS` days. Both use only games on earlier days. Returns rest_home, rest_away, series, aligned
    with `games`' index.
    """
    day = pd.to_datetime(games["day"])
    # sorted on every key, so the result does not depend on the order of `games` (a team listed twice on
    # one day, a data error, counts its games in team-name order)
    home, away = games["home_team"].astype(str), games["away_team"].astype(str)
    long = pd.concat(
        [
            pd.DataFrame({"row": games.index, "team": home, "day": day, "role": "home", "other": away}),
            pd.DataFrame({"row": games.index, "team": away, "day": day, "role": "away", "other": home}),
        ],
        ignore_index=True,
    ).sort_values(["team", "day", "role", "other"], kind="stable")
    long["rest"] = (long["day"] - long.groupby("team")["day"].shift(1)).dt.days.clip(upper=cap)
    rest = long.pivot_table(index="row", columns="role", values="rest", aggfunc="first")
    pair = pd.Series(
        [
            "|".join(sorted((h, a)))
            for h, a in zip(games["home_team"].astype(str), games["away_team"].astype(str), strict=True)
        ],
        index=games.index,
    )
    order = pd.DataFrame({"pair": pair, "day": day}).sort_values(["day", "pair"], kind="stable")
    gap = (order["day"] - order.groupby("pair")["day"].shift(1)).dt.days
    series = ((gap >= 1) & (gap <= SERIES_DAYS) & (order["day"].dt.month.between(4, 7))).astype(float)
    return pd.DataFrame(
        {
            "rest_home": rest.reindex(games.index).get("home", pd.Series(np.nan, index=games.index)),
            "rest_away": rest.reindex(games.index).get("away", pd.Series(np.nan, index=games.index)),
            "series": series.reindex(games.index),
        },
        index=games.index,
    )


# ------------------------------------------------------------------------------------------------------
# Situations and the fit
# ------------------------------------------------------------------------------------------------------


def situation_matrix(market: str, games: pd.DataFrame) -> pd.DataFrame:
    """The situation indicators of games: favourite size (spreads only), rest, month and series.

    `games` has line (the home spread the favourite size is judged on; unused for totals), day,
    rest_home, rest_away and series. Missing rest counts as rested (3 days).
    """
    cols: dict[str, Any] = {}
    if market == "spreads":
        bucket = pd.cut(games["line"].astype(float), _SPREAD_EDGES, labels=False)
        for k in range(len(_SPREAD_EDGES) - 1):
            cols[f"fav_{k}"] = (bucket == k).astype(float)
    rh = games["rest_home"].astype(float).fillna(3.0)
    ra = games["rest_away"].astype(float).fillna(3.0)
    cols["b2b_home"] = (rh == 1).astype(float)
    cols["b2b_away"] = (ra == 1).astype(float)
    cols["b2b_both"] = cols["b2b_home"] * cols["b2b_away"]
    cols["rest_diff"] = (rh - ra).clip(-3, 3)
    month = pd.to_datetime(games["day"]).dt.month
    for m in _MONTHS:
        cols[f"month_{m}"] = (month == m).astype(float)
    cols["series"] = games["series"].astype(float).fillna(0.0)
    return pd.DataFrame(cols, index=games.index)


@dataclass
class DriftPrior:
    """A fitted drift prior: predicted close − open for a situation, from seasons before `season`."""

    market: str
    season: int  # the season it is for: fitted on history seasons < season
    coef: dict[str, float] = field(default_factory=dict)  # "const" + situation columns
    penalty: float = 0.0
    n_games: int = 0
    seasons: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def predict(self, situations: pd.DataFrame) -> np.ndarray:
        names = [k for k in self.coef if k != "const"]
        x = situations.reindex(columns=names).fillna(0.0).to_numpy(dtype=float)
        return self.coef["const"] + x @ np.array([self.coef[k] for k in names], dtype=float)


def _history_situations(history: pd.DataFrame, market: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The situations of the history games of `market` and their drift (close - open)."""
    keys = ["day", "home_team", "away_team"]
    games = history[keys].drop_duplicates().reset_index(drop=True)
    games = pd.concat([games, schedule_context(games)], axis=1)
    part = history[history["market"] == market].merge(games, on=keys, how="left")
    x = situation_matrix(market, part.rename(columns={"open": "line"}))
    return x, (part["close"] - part["open"]).to_numpy(dtype=float)


def fit_drift_prior(
    history: pd.DataFrame, market: str, season: int, *, penalty: float | None = None
) -> DriftPrior | None:
    """Ridge fit of close − open on the situations of history games of seasons before `season`.

    None when no earlier season has games. The intercept is not penalised.
    """
    if market not in PRIOR_MARKETS:
        raise ValueError(f"the drift prior covers {PRIOR_MARKETS}, not {market!r}")
    lam = DEFAULT_PENALTY[market] if penalty is None else float(penalty)
    hist = clean_history(history)
    if hist.empty:
        return None
    hist = hist[_seasons(hist["day"]) < season]
    if hist.empty or not (hist["market"] == market).any():
        return None
    x_df, y = _history_situations(hist.reset_index(drop=True), market)
    x = np.column_stack([np.ones(len(y)), x_df.to_numpy(dtype=float)])
    reg = lam * np.eye(x.shape[1])
    reg[0, 0] = 0.0
    beta = np.linalg.solve(x.T @ x + reg, x.T @ y)
    names = ["const", *x_df.columns]
    return DriftPrior(
        market=market,
        season=int(season),
        coef={n: float(b) for n, b in zip(names, beta, strict=True)},
        penalty=lam,
        n_games=len(y),
        seasons=sorted(int(s) for s in _seasons(hist.loc[hist["market"] == market, "day"]).unique()),
    )


def history_skill(history: pd.DataFrame, market: str, season: int, *, penalty: float | None = None) -> float:
    """The prior's skill on one history season: fitted on the seasons before it, scored on its open→close
    moves (1 − MSE / mean squared move). NaN when either side has no games."""
    prior = fit_drift_prior(history, market, season, penalty=penalty)
    clean = clean_history(history)
    part = clean[_seasons(clean["day"]) == season].reset_index(drop=True)
    if prior is None or not (part["market"] == market).any():
        return float("nan")
    x, y = _history_situations(part, market)
    return 1.0 - float(np.mean((y - prior.predict(x)) ** 2) / np.mean(y**2))


def add_prior_features(
    data: pd.DataFrame,
    history: pd.DataFrame | None,
    *,
    market: str,
    events: pd.DataFrame | None = None,
    penalty: float | None = None,
) -> pd.DataFrame:
    """`data` with `prior_drift`: each row scored by the prior fitted on seasons before the row's season.

    Rows need commence_time, home_team, away_team, current (the consensus now) and the rest columns
    (rest_days_home/away); `events` (the schedule: event_id, home_team, away_team, commence_time) gives the
    series flag. h2h rows, and rows of a season with no earlier history, get NaN.
    """
    out = data.copy()
    out["prior_drift"] = np.nan
    if market not in PRIOR_MARKETS or history is None or history.empty or out.empty:
        return out
    day = _utc_days(out["commence_time"])
    seasons = _seasons(day)
    series = _row_series(out, events)
    games = pd.DataFrame(
        {
            "line": out["current"],
            "day": day,
            "rest_home": out["rest_days_home"],
            "rest_away": out["rest_days_away"],
            "series": series,
        }
    )
    situations = situation_matrix(market, games)
    for season in sorted(seasons.unique()):
        prior = fit_drift_prior(history, market, int(season), penalty=penalty)
        if prior is None:
            continue
        mask = (seasons == season).to_numpy()
        out.loc[mask, "prior_drift"] = prior.predict(situations[mask])
    return out


def _utc_days(commence: pd.Series) -> pd.Series:
    return pd.to_datetime(commence, utc=True).dt.tz_convert(_EASTERN).dt.tz_localize(None).dt.normalize()


def _row_series(data: pd.DataFrame, events: pd.DataFrame | None) -> pd.Series:
    """The series flag of each row from the schedule of `events` (or of the rows themselves)."""
    source = events if events is not None and not events.empty else data
    games = source[["home_team", "away_team"]].copy()
    games["day"] = _utc_days(source["commence_time"]).to_numpy()
    games["event_id"] = source["event_id"].to_numpy()
    games = games.drop_duplicates(subset="event_id").reset_index(drop=True)
    flags = schedule_context(games)["series"]
    by_event = pd.Series(flags.to_numpy(), index=games["event_id"].to_numpy())
    return data["event_id"].map(by_event).fillna(0.0).astype(float)
