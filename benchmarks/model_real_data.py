"""Dev-only: the CLV models on the real seasons in ../shared/data, walk-forward out of sample.

Reads the historical Odds API files and the Kaggle closing lines directly (the product path goes through
the DB: `odds import oddsapi`, `odds import closing-lines`, then `odds model train`), builds the same
dataset with `odds_analytics.features`, and prints every model's out-of-sample figures per market and
scheme, plus timings. Usage:

    uv run python benchmarks/model_real_data.py [--seasons 2022-2023,2023-2024] [--json out.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from odds_analytics.clv_model import MODEL_KINDS, skill_interval, walk_forward
from odds_analytics.clv_training import SCORE_KEYS
from odds_analytics.features import build_dataset, decision_samples
from odds_analytics.prices import american_to_decimal
from odds_models.teams import resolve_team

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EASTERN = ZoneInfo("America/New_York")


def load_oddsapi(seasons: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    events = {}
    for season in seasons:
        for path in sorted((DATA / "oddsapi_historical" / "odds" / season).glob("odds_*.json.gz")):
            body = json.loads(gzip.decompress(path.read_bytes()))
            snap = datetime.fromisoformat(body["timestamp"])
            for ev in body["data"]:
                commence = datetime.fromisoformat(ev["commence_time"])
                events[ev["id"]] = (ev["home_team"], ev["away_team"], commence)
                for book in ev.get("bookmakers", []):
                    for market in book.get("markets", []):
                        if market["key"] not in ("h2h", "spreads", "totals"):
                            continue
                        for o in market["outcomes"]:
                            price = float(o["price"])
                            rows.append(
                                (
                                    ev["id"],
                                    snap,
                                    book["key"],
                                    market["key"],
                                    o["name"],
                                    o.get("point"),
                                    american_to_decimal(price) if abs(price) >= 100 else price,
                                )
                            )
    odds = pd.DataFrame(
        rows,
        columns=["event_id", "snapshot_time", "bookmaker", "market", "outcome", "point", "price_decimal"],
    )
    ev = pd.DataFrame(
        [(k, h, a, c) for k, (h, a, c) in events.items()],
        columns=["event_id", "home_team", "away_team", "commence_time"],
    )
    ev["commence_time"] = pd.to_datetime(ev["commence_time"], utc=True)
    odds["snapshot_time"] = pd.to_datetime(odds["snapshot_time"], utc=True)
    return odds, ev


def load_closing(events: pd.DataFrame) -> pd.DataFrame:
    raw = pd.read_csv(DATA / "closing_lines" / "nba_closing_lines_2008_2024.csv")
    raw = raw[raw["season"] >= 2022]
    raw["day"] = pd.to_datetime(raw["date"], format="%m/%d/%y").dt.date
    raw["home_name"] = raw["home"].map(lambda c: resolve_team(c).name)
    raw["away_name"] = raw["away"].map(lambda c: resolve_team(c).name)
    ev = events.assign(day=events["commence_time"].dt.tz_convert(EASTERN).dt.date)
    joined = raw.merge(
        ev, left_on=["day", "home_name", "away_name"], right_on=["day", "home_team", "away_team"]
    )
    out = []
    for r in joined.itertuples(index=False):
        home_spread = -float(r.spread) if r.whos_favored == "home" else float(r.spread)
        out.append((r.event_id, "spreads", r.home_team, home_spread, None))
        out.append((r.event_id, "spreads", r.away_team, -home_spread, None))
        out.append((r.event_id, "totals", "Over", float(r.total), None))
        out.append((r.event_id, "totals", "Under", float(r.total), None))
        if pd.notna(r.moneyline_home) and pd.notna(r.moneyline_away):
            out.append((r.event_id, "h2h", r.home_team, None, float(r.moneyline_home)))
            out.append((r.event_id, "h2h", r.away_team, None, float(r.moneyline_away)))
    return pd.DataFrame(out, columns=["event_id", "market", "outcome", "point", "price_american"]).assign(
        source="kaggle", kind="close"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seasons", default="2021-2022,2022-2023,2023-2024")
    parser.add_argument("--json", default=None)
    parser.add_argument("--bins", default="72,24,12,3,0.5")
    args = parser.parse_args()
    if not DATA.is_dir():
        parser.exit(2, f"error: {DATA}: no such folder (the real data, ../shared/data beside the project)\n")
    t0 = time.perf_counter()
    odds, events = load_oddsapi(args.seasons.split(","))
    closing = load_closing(events)
    print(
        f"loaded {len(odds):,} odds rows, {len(events):,} events, {closing['event_id'].nunique():,} closes "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    bins = tuple(float(b) for b in args.bins.split(","))
    samples = decision_samples(odds, events, bins_hours=bins)
    report: dict[str, object] = {"generated": datetime.now(UTC).isoformat(), "seasons": args.seasons}
    for market in ("spreads", "totals", "h2h"):
        t1 = time.perf_counter()
        data = build_dataset(
            odds, events, samples, market=market, closing=closing, max_staleness=timedelta(hours=24)
        )
        data = data[data["target"].notna()]
        build_s = time.perf_counter() - t1
        if data["event_id"].nunique() < 100:
            print(f"\n== {market}: only {len(data)} samples with a closing line: skipped")
            continue
        print(
            f"\n== {market}: {len(data):,} samples, {data['event_id'].nunique():,} events "
            f"(features in {build_s:.1f} s); mean |target| {data['target'].abs().mean():.4f}"
        )
        for scheme in ("expanding", "sliding"):
            t2 = time.perf_counter()
            result = walk_forward(data, market=market, scheme=scheme, n_folds=6, window_days=90)
            table = result.summary()[list(SCORE_KEYS)]
            print(
                f"-- {scheme} ({result.metrics['no_change']['folds']} folds, {time.perf_counter() - t2:.1f} s)"
            )
            print(table.to_string(float_format=lambda v: f"{v:.4f}"))
            report[f"{market}/{scheme}"] = {k: result.metrics[k] for k in MODEL_KINDS}
            preds = result.predictions
            for kind in MODEL_KINDS[1:]:
                low, high = skill_interval(
                    preds["target"].to_numpy(float),
                    preds[f"pred_{kind}"].to_numpy(float),
                    preds["event_id"].to_numpy(),
                )
                report[f"{market}/{scheme}"][kind]["skill_ci95"] = [low, high]
                print(f"   {kind} skill 95% CI (games resampled): [{low:+.4f}, {high:+.4f}]")
            if scheme == "expanding":
                top = list(result.importance.items())[:8]
                print("xgboost gain importance:", ", ".join(f"{k} {v:.3g}" for k, v in top))
                print(
                    "ols mean coefficients:",
                    {k: round(v["mean_coef"], 4) for k, v in result.coefficients.items()},
                )
                report[f"{market}/importance"] = dict(top)
                report[f"{market}/ols_coefficients"] = result.coefficients
                # by bin of hours to tip
                preds = result.predictions.merge(data[["event_id", "decision_time", "hours_to_tip"]])
                for lo, hi in [(0, 3), (3, 12), (12, 24), (24, 72)]:
                    part = preds[(preds["hours_to_tip"] > lo) & (preds["hours_to_tip"] <= hi)]
                    if len(part) < 30:
                        continue
                    mse0 = float(np.mean(part["target"] ** 2))
                    skill = {
                        k: 1 - float(np.mean((part["target"] - part[f"pred_{k}"]) ** 2)) / mse0
                        for k in ("consensus_ols", "ols", "xgboost")
                    }
                    print(
                        f"   {lo}-{hi} h: n={len(part)} skill vs no change "
                        + ", ".join(f"{k} {v:+.4f}" for k, v in skill.items())
                    )
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
