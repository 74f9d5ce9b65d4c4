"""Dev-only: the issue-18 model variants, time-ordered CV inside the training seasons (never the test season).

Reads the Odds API files of the training seasons (2021-22, 2022-23) and the closing-line file directly (the
product path goes through the DB: `odds model train` / `odds model evaluate`), the SportsbookReview
open/close file for the drift prior, builds the dataset with `odds_analytics.features`, and prints:

1. the drift prior on the history itself: fitted on seasons < S, skill on season S's open→close move;
2. the expanding walk-forward (5 folds, as `odds model train`) of every model kind per market, with the
   game-level 95 % interval and the skill on the 2022-23 part alone;
3. ablations: `ridge_books` with one direction removed at a time (the column set to NaN);
4. with `--tried`, the variants tried in CV and not kept (never scored on 2023-24): ridge on every original
   feature, XGBoost depth 1, the mean of `ridge_books` and `xgb_mono`, target winsorising in the linear
   fits, and the moneyline gap minus its mean by spread level (a calibrated moneyline -> spread mapping).
   They patch `odds_analytics.model_variants` for the run (restored afterwards).

h2h uses 2021-22 only (the only season with closing moneylines and snapshots). Usage:

    uv run python benchmarks/model_variants.py [--markets spreads,totals,h2h] [--cache /tmp/variants]
        [--tried] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.model_real_data import DATA, load_closing, load_oddsapi
from odds_analytics import model_variants
from odds_analytics.closing_lines import parse_closing_lines
from odds_analytics.clv_model import MODEL_KINDS, skill_interval, walk_forward
from odds_analytics.features import LEGACY_FEATURES, POLYMARKET_FEATURES, build_dataset, decision_samples
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


@contextlib.contextmanager
def patched(**values: object) -> Iterator[None]:
    """Set attributes of `odds_analytics.model_variants` for the duration of a run."""
    saved = {name: getattr(model_variants, name) for name in values}
    try:
        for name, value in values.items():
            setattr(model_variants, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(model_variants, name, value)


def _winsorised_solve(quantile: float):  # noqa: ANN202 - a patched solver
    solve = model_variants._solve

    def inner(x: np.ndarray, y: np.ndarray, method: str, alpha: float) -> tuple[float, np.ndarray]:
        lo, hi = np.quantile(y, [quantile, 1 - quantile])
        return solve(x, np.clip(y, lo, hi), method, alpha)

    return inner


def tried_variants(data: pd.DataFrame, market: str) -> dict[str, float]:
    """Walk-forward skill of the variants tried and not kept (see the module docstring)."""
    out: dict[str, float] = {}

    def skill(kinds: tuple[str, ...], frame: pd.DataFrame = data) -> dict[str, float]:
        result = walk_forward(frame, market=market, n_folds=5, kinds=("no_change", *kinds))
        return {k: float(result.metrics[k]["skill_vs_no_change"]) for k in kinds}

    every = [f for f in LEGACY_FEATURES if f not in POLYMARKET_FEATURES]
    every += [f for f in model_variants.FULL_FEATURES if f not in every]
    with patched(FULL_FEATURES=every):
        got = skill(("ridge", "ridge_books"))
    out["ridge, every original feature"] = got["ridge"]
    out["ridge_books, every original feature"] = got["ridge_books"]
    with patched(XGB_MONO_PARAMS={**model_variants.XGB_MONO_PARAMS, "max_depth": 1}):
        out["xgb_mono, depth 1"] = skill(("xgb_mono",))["xgb_mono"]
    result = walk_forward(data, market=market, n_folds=5, kinds=("no_change", "ridge_books", "xgb_mono"))
    preds = result.predictions
    y = preds["target"].to_numpy(float)
    mean = (preds["pred_ridge_books"] + preds["pred_xgb_mono"]).to_numpy(float) / 2
    out["mean of ridge_books and xgb_mono"] = 1.0 - float(np.mean((y - mean) ** 2) / np.mean(y**2))
    for quantile in (0.02, 0.05):
        with patched(_solve=_winsorised_solve(quantile)):
            got = skill(("ols_ext", "ridge", "ridge_books"))
        for kind, value in got.items():
            out[f"{kind}, target winsorised at {quantile:.0%}"] = value
    if market == "spreads":
        edges = [-40, -12, -10, -8, -6, -4.5, -3, -1.5, 0, 1.5, 3, 4.5, 6, 8, 10, 12, 40]
        level = pd.cut(data["consensus"], edges)
        # the gap minus its mean at the same spread level (the level means use features only, no target)
        resid = data["cross_market_gap"] - data.groupby(level, observed=True)["cross_market_gap"].transform(
            "mean"
        )
        frame = data.assign(gap_resid=resid)
        calibrated = [f if f != "cross_market_gap" else "gap_resid" for f in model_variants.FULL_FEATURES]
        with patched(FULL_FEATURES=calibrated):
            got = skill(("ridge", "ridge_books"), frame)
        out["ridge, gap calibrated by spread level"] = got["ridge"]
        out["ridge_books, gap calibrated by spread level"] = got["ridge_books"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--markets", default="spreads,totals,h2h")
    parser.add_argument("--cache", default=None, help="folder for the built datasets (outside the repo)")
    parser.add_argument("--tried", action="store_true", help="also the variants tried and not kept")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if not DATA.is_dir():
        parser.exit(2, f"error: {DATA}: no such folder (the real data, ../shared/data beside the project)\n")
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
        if args.tried:
            tried = tried_variants(data[market], market)
            print("tried, not kept: " + ", ".join(f"{name} {value:+.4f}" for name, value in tried.items()))
            report[f"{market}/tried"] = tried
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
