"""Dev-only: the issue-18 model variants, time-ordered CV inside the training seasons (never the test season).

Reads the Odds API files of the training seasons (2021-22, 2022-23) and the closing-line file directly (the
product path goes through the DB: `odds model train` / `odds model evaluate`), the SportsbookReview
open/close file for the drift prior, builds the dataset with `odds_analytics.features`, and prints:

1. the drift prior on the history itself: fitted on seasons < S, skill on season S's open→close move;
2. the expanding walk-forward (5 folds, as `odds model train`) of every model kind per market, with the
   game-level 95 % interval and the skill on the 2022-23 part alone;
3. ablations: `ridge_books` with one direction removed at a time (the column set to NaN).

h2h uses 2021-22 only (the only season with closing moneylines and snapshots). Usage:

    uv run python benchmarks/model_variants.py [--markets spreads,totals,h2h] [--cache /tmp/variants]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.model_real_data import DATA, load_closing, load_oddsapi
from odds_analytics.closing_lines import parse_closing_lines
from odds_analytics.clv_model import MODEL_KINDS, skill_interval, walk_forward
from odds_analytics.features import build_dataset, decision_samples
from odds_analytics.prior import history_skill, line_history

TRAIN_SEASONS = ("2021-2022", "2022-2023")
H2H_UNTIL = pd.Timestamp("2022-07-01", tz="UTC")
ABLATIONS = {
    "prior": ["prior_drift"],
    "book deviations": ["dev__*"],
    "fair-line gaps": ["fair_line_gap", "sharp_fair_gap"],
    "velocity": ["open_to_now", "open_to_now_per_hour", "velocity_per_hour", "path_missing"],
    "cross-market gap": ["cross_market_gap"],
}


def load_history() -> pd.DataFrame:
    parsed = parse_closing_lines(DATA / "sbr_open_close" / "sbr_nba_games_2007_2022.csv", "sbr")
    rows = [
        (g.game_date, g.home_team, g.away_team, "sbr", line.kind, line.market, line.outcome, line.point)
        for g in parsed.games
        for line in g.lines
    ]
    return line_history(
        pd.DataFrame(
            rows, columns=["day", "home_team", "away_team", "source", "kind", "market", "outcome", "point"]
        )
    )


def prior_on_history(history: pd.DataFrame) -> dict[str, dict[int, float]]:
    """Skill of the prior fitted on seasons < S on season S's open→close moves, per market and season."""
    return {m: {s: history_skill(history, m, s) for s in range(2012, 2021)} for m in ("spreads", "totals")}


def datasets(markets: list[str], cache: Path | None) -> dict[str, pd.DataFrame]:
    if cache is not None and all((cache / f"{m}.pkl").exists() for m in markets):
        return {m: pd.read_pickle(cache / f"{m}.pkl") for m in markets}
    odds, events = load_oddsapi(list(TRAIN_SEASONS))
    closing = load_closing(events)
    history = load_history()
    samples = decision_samples(odds, events)
    out = {}
    for market in markets:
        t0 = time.perf_counter()
        data = build_dataset(
            odds,
            events,
            samples,
            market=market,
            closing=closing,
            max_staleness=timedelta(hours=24),
            history=history,
        )
        data = data[data["target"].notna()]
        if market == "h2h":
            data = data[data["commence_time"] < H2H_UNTIL]
        print(
            f"{market}: {len(data):,} samples, {data['event_id'].nunique():,} events ({time.perf_counter() - t0:.0f} s)"
        )
        out[market] = data
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            data.to_pickle(cache / f"{market}.pkl")
    return out


def _blank(data: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    names = [
        c for c in data.columns if any(c == p or (p.endswith("*") and c.startswith(p[:-1])) for p in columns)
    ]
    return data.assign(**dict.fromkeys(names, np.nan))


def cv_table(data: pd.DataFrame, market: str, kinds: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    result = walk_forward(data, market=market, n_folds=5, kinds=kinds)
    table = result.summary()[["n", "rmse", "skill_vs_no_change", "directional_accuracy", "spearman"]].copy()
    preds = result.predictions.merge(data[["event_id", "decision_time", "commence_time"]])
    y, groups = preds["target"].to_numpy(float), preds["event_id"].to_numpy()
    late = preds["commence_time"] >= pd.Timestamp("2022-08-01", tz="UTC")
    for kind in kinds:
        p = preds[f"pred_{kind}"].to_numpy(float)
        table.loc[kind, ["ci_low", "ci_high"]] = skill_interval(y, p, groups)
        if late.any():
            yl, pl = y[late.to_numpy()], p[late.to_numpy()]
            table.loc[kind, "skill_2022_23"] = 1.0 - float(np.mean((yl - pl) ** 2) / np.mean(yl**2))
    return table, preds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", default="spreads,totals,h2h")
    parser.add_argument("--cache", default=None, help="folder for the built datasets (outside the repo)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    report: dict[str, object] = {"generated": datetime.now(UTC).isoformat(), "seasons": TRAIN_SEASONS}
    history = load_history()
    prior_skill = prior_on_history(history)
    report["prior_on_history"] = prior_skill
    print("drift prior, fitted on seasons < S, skill on season S's open->close move:")
    for market, by_season in prior_skill.items():
        mean = float(np.mean(list(by_season.values())))
        print(f"  {market}: mean {mean:+.4f}; " + ", ".join(f"{s}: {v:+.3f}" for s, v in by_season.items()))
    markets = args.markets.split(",")
    data = datasets(markets, Path(args.cache) if args.cache else None)
    for market in markets:
        t1 = time.perf_counter()
        table, _ = cv_table(data[market], market, MODEL_KINDS)
        print(f"\n== {market}: expanding walk-forward, 5 folds ({time.perf_counter() - t1:.0f} s)")
        print(table.to_string(float_format=lambda v: f"{v:.4f}"))
        report[market] = table.to_dict(orient="index")
        ablation = {}
        base = table.loc["ridge_books", "skill_vs_no_change"]
        for name, columns in ABLATIONS.items():
            cut, _ = cv_table(_blank(data[market], columns), market, ("no_change", "ridge_books"))
            ablation[name] = float(cut.loc["ridge_books", "skill_vs_no_change"])
        print(
            f"ridge_books {base:+.4f}; without: "
            + ", ".join(f"{name} {value:+.4f} ({value - base:+.4f})" for name, value in ablation.items())
        )
        report[f"{market}/ablation"] = ablation
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
