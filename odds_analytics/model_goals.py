"""Issue 18's goals and its frozen design, applied to any test season (pure).

The design was pre-registered in docs/MODELING.md ("Issue 18: a stronger model — pre-registration", commit
d48b9a5) before any 2023-24 figure of it: the eleven model kinds, trained on every event before 1 July of
the test season's start year, the kind to judge chosen by the **lowest expanding walk-forward RMSE** of
that training run (5 folds), each kind then scored once on the test season (1 July → 30 June). The goals:

- spreads: skill vs no change ≥ 4 % of the squared error, the lower end of its 95 % game-level interval
  above 0, and directional accuracy ≥ 58 % on the decisions that moved ≥ 0.5 point;
- totals: skill above 0 with the interval's lower end above −1 %; otherwise the registry keeps no change.

`odds model next-season --season 2024-25` (flow `next-season-check`) runs it; this module holds what needs
no database: the season's dates, the pre-registered selection and the verdicts.

    >>> season_window("2023-24").train_until
    datetime.date(2023, 7, 1)
    >>> preregistered_choice({"ols": {"rmse": 1.80}, "ridge": {"rmse": 1.79}})
    'ridge'

The selection rule here is the pre-registered one, not the promotion gate's (`model_gate.choose_candidate`,
added later by issue 14): the gate decides what may publish picks; this check judges the design that was
frozen before the test, so it must choose the way that design said it would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from odds_analytics.model_report import target_units
from odds_models.errors import BadArgument

__all__ = [
    "GOAL_MARKETS",
    "PREREGISTERED_KINDS",
    "SeasonWindow",
    "goal_verdict",
    "market_report",
    "next_season_markdown",
    "preregistered_choice",
    "require_test_rows",
    "season_window",
]

# the eleven kinds of the pre-registration (d48b9a5), in the order the registry lists them
PREREGISTERED_KINDS = (
    "no_change",
    "consensus_ols",
    "ols",
    "xgboost",
    "ols_ext",
    "ols_shrunk",
    "ridge",
    "ridge_books",
    "enet_books",
    "xgb_mono",
    "ols_xgb",
)
GOAL_MARKETS = ("spreads", "totals")
SPREADS_MIN_SKILL = 0.04
SPREADS_MIN_DIRECTION = 0.58
TOTALS_MIN_LOW = -0.01

_SEASON = re.compile(r"^(\d{4})(?:[-/](\d{2}|\d{4}))?$")


@dataclass(frozen=True)
class SeasonWindow:
    """A test season's dates: train on events before `train_until`, test on `test_from` … `test_to`."""

    label: str  # "2023-24"
    start_year: int
    train_until: date  # exclusive (as `odds model train --until`)
    test_from: date
    test_to: date  # inclusive (as `odds model evaluate --to`)


def season_window(text: str) -> SeasonWindow:
    """ "2023-24", "2023-2024" or "2023" as the pre-registered dates; anything else: BadArgument (exit 2)."""
    match = _SEASON.match(text.strip())
    if match is None:
        raise BadArgument(f"--season {text!r}: expected a season like 2024-25")
    year = int(match.group(1))
    second = match.group(2)
    if second is not None and int(second) != ((year + 1) if len(second) == 4 else (year + 1) % 100):
        raise BadArgument(
            f"--season {text!r}: the second year must follow the first ({year}-{(year + 1) % 100:02d})"
        )
    if not 2000 <= year <= 2100:
        raise BadArgument(f"--season {text!r}: year out of range")
    return SeasonWindow(
        label=f"{year}-{(year + 1) % 100:02d}",
        start_year=year,
        train_until=date(year, 7, 1),
        test_from=date(year, 7, 1),
        test_to=date(year + 1, 6, 30),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def preregistered_choice(walk_forward: Mapping[str, Mapping[str, Any]]) -> str:
    """The kind with the lowest walk-forward RMSE (ties: the earlier kind in `PREREGISTERED_KINDS`).

    `no_change` can win. With no RMSE at all (no fold), `no_change`.
    """
    order = {k: i for i, k in enumerate(PREREGISTERED_KINDS)}
    scored = [
        (rmse, order.get(kind, len(order)), kind)
        for kind, figures in walk_forward.items()
        if (rmse := _number(figures.get("rmse"))) is not None
    ]
    return min(scored)[2] if scored else "no_change"


def goal_verdict(market: str, figures: Mapping[str, Any]) -> dict[str, Any]:
    """Issue 18's goal for `market` judged on one model's test-season figures (`score_model`'s output).

    Returns {"goal": text, "reached": bool | None, "checks": [{"name", "value", "target", "passed"}]};
    `reached` is None for a market without a goal (h2h).
    """
    skill = _number(figures.get("skill_vs_no_change"))
    ci = figures.get("skill_ci95") or [None, None]
    low = _number(ci[0]) if len(ci) == 2 else None
    direction = _number(figures.get("directional_accuracy"))
    if market == "spreads":
        checks = [
            _check(
                "skill vs no change",
                skill,
                f">= {SPREADS_MIN_SKILL:.0%}",
                skill is not None and skill >= SPREADS_MIN_SKILL,
            ),
            _check("95 % interval lower end", low, "> 0", low is not None and low > 0),
            _check(
                "directional accuracy (moves >= 0.5 pt)",
                direction,
                f">= {SPREADS_MIN_DIRECTION:.0%}",
                direction is not None and direction >= SPREADS_MIN_DIRECTION,
            ),
        ]
        goal = "skill >= 4 %, 95 % interval lower end > 0, directional accuracy >= 58 % on moves >= 0.5 pt"
    elif market == "totals":
        checks = [
            _check("skill vs no change", skill, "> 0", skill is not None and skill > 0),
            _check("95 % interval lower end", low, "> -1 %", low is not None and low > TOTALS_MIN_LOW),
        ]
        goal = "skill > 0 with the 95 % interval's lower end > -1 % (else the registry keeps no change)"
    else:
        return {"goal": "none (issue 18 sets no goal for this market)", "reached": None, "checks": []}
    return {"goal": goal, "reached": all(c["passed"] for c in checks), "checks": checks}


def _check(name: str, value: float | None, target: str, passed: bool) -> dict[str, Any]:
    return {"name": name, "value": value, "target": target, "passed": bool(passed)}


def market_report(
    market: str,
    walk_forward: Mapping[str, Mapping[str, Any]],
    scores: Mapping[str, Mapping[str, Any]],
    *,
    gate_candidate: str | None = None,
) -> dict[str, Any]:
    """One market's result: the pre-registered choice, its verdict, and every kind's test figures.

    `walk_forward`: the training run's figures per kind (what the choice rests on); `scores`: each kind's
    test-season figures (`score_model`). The choice is judged; the others are reported, never chosen after
    the fact.
    """
    chosen = preregistered_choice(walk_forward)
    figures = scores.get(chosen, {})
    kinds = [k for k in PREREGISTERED_KINDS if k in scores] + sorted(set(scores) - set(PREREGISTERED_KINDS))
    return {
        "market": market,
        "selected": chosen,
        "selection_rule": "lowest expanding walk-forward RMSE of the training run (pre-registered)",
        "gate_candidate": gate_candidate,
        "n": figures.get("n"),
        "n_moves": figures.get("n_moves"),
        "verdict": goal_verdict(market, figures),
        "kinds": {
            kind: {
                "walk_forward_rmse": _number((walk_forward.get(kind) or {}).get("rmse")),
                "walk_forward_skill": _number((walk_forward.get(kind) or {}).get("skill_vs_no_change")),
                **{k: v for k, v in scores[kind].items() if k not in ("calibration", "baseline")},
            }
            for kind in kinds
        },
    }


def require_test_rows(test: pd.DataFrame, market: str, window: SeasonWindow) -> int:
    """The number of test decisions with a close; none: BadArgument (one line, exit 2) naming what to import."""
    n = 0 if test.empty or "target" not in test.columns else int(test["target"].notna().sum())
    if n == 0:
        raise BadArgument(
            f"season {window.label}: no {market} decisions with a closing line between {window.test_from} and "
            f"{window.test_to} in the database; import the season's Odds API snapshots and closing lines first "
            "(`odds import oddsapi DIR`, `odds import closing-lines FILE`; docs/MODELING.md)"
        )
    return n


def _pct(value: Any, pattern: str = "{:+.2%}") -> str:
    number = _number(value)
    return "–" if number is None else pattern.format(number)


def next_season_markdown(result: Mapping[str, Any]) -> str:
    """The check as markdown: each market's verdict, then every kind's test-season figures."""
    lines = [
        f"# Issue 18's frozen design on {result['season']}",
        "",
        f"Trained on events before {result['train_until']}; tested on {result['test_from']} to "
        f"{result['test_to']}. The judged kind is the pre-registered choice (lowest walk-forward RMSE).",
    ]
    for market, report in result["markets"].items():
        verdict = report["verdict"]
        state = {True: "REACHED", False: "MISSED", None: "no goal"}[verdict["reached"]]
        lines += [
            "",
            f"## {market}: {state} ({report['selected']}, n = {report['n']})",
            "",
            verdict["goal"],
            "",
        ]
        lines += ["| check | value | target | passed |", "|---|---|---|---|"]
        for check in verdict["checks"]:
            pattern = "{:.1%}" if "directional" in check["name"] else "{:+.2%}"
            lines.append(
                f"| {check['name']} | {_pct(check['value'], pattern)} | {check['target']} | "
                f"{'yes' if check['passed'] else 'no'} |"
            )
        lines += [
            "",
            "| kind | walk-forward RMSE | n | skill | 95 % CI | dir. acc. (n moves) | "
            f"CLV captured, {target_units(market)} (n acted) |",
            "|---|---|---|---|---|---|---|",
        ]
        for kind, row in report["kinds"].items():
            ci = row.get("skill_ci95") or [None, None]
            mark = " (judged)" if kind == report["selected"] else ""
            lines.append(
                f"| {kind}{mark} | {_pct(row.get('walk_forward_rmse'), '{:.4f}')} | {row.get('n')} | "
                f"{_pct(row.get('skill_vs_no_change'))} | [{_pct(ci[0])}, {_pct(ci[1])}] | "
                f"{_pct(row.get('directional_accuracy'), '{:.1%}')} ({row.get('n_moves')}) | "
                f"{_pct(row.get('clv_captured'), '{:+.3f}')} ({row.get('n_acted')}) |"
            )
    return "\n".join(lines) + "\n"
