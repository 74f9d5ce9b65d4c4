"""What a CLV model report shows: calibration by prediction decile, and coefficients or importance (pure).

`tasks.model_report` draws these as PNG and publishes them as a Prefect markdown artifact from the
training flow (the selected model, walk-forward calibration) and the evaluation flow (the evaluated model
on the window it is scored on).

    >>> rows = importance_rows(model)           # linear: coef (+ std err, t, p); trees: gain; ensemble: both
    >>> cal = calibration_rows(calibration)     # bin, n, mean_predicted, mean_realised
    >>> text = report_markdown("spreads ridge_books, 2023-24", figures, cal, rows, {"calibration": "..."})
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from odds_analytics.clv_model import ClvModel, model_from_dict

__all__ = ["calibration_rows", "importance_rows", "member_note", "report_markdown", "target_units"]

# what the target (close − now, `docs/MODELING.md` "Target") is measured in, per market
_UNITS = {"h2h": "probability, home", "spreads": "points, home spread", "totals": "points, total"}

_FIGURES = (
    ("n", "n", "{:.0f}"),
    ("skill_vs_no_change", "skill vs no change", "{:+.2%}"),
    ("r2", "R²", "{:.4f}"),
    ("rmse", "RMSE", "{:.4f}"),
    ("directional_accuracy", "directional accuracy", "{:.3f}"),
    ("spearman", "Spearman", "{:.3f}"),
    ("clv_captured", "CLV captured", "{:+.4f}"),
)


def importance_rows(model: ClvModel, data: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """One row per feature: `coef` (and std_err, t, p_value for OLS) and/or `gain`, largest first.

    With `data`, linear rows also get `per_sd`: the coefficient times the feature's standard deviation in
    `data`, winsorised at the model's training bounds as the model sees it (the move one typical swing of
    the feature predicts, in target units), which compares features of different units. An ensemble merges its members' rows (the linear member's coefficients, the trees'
    gain).
    """
    if "members" in model.state:
        merged: dict[str, dict[str, Any]] = {}
        for member in model.state["members"]:
            for row in importance_rows(model_from_dict(member), data):
                merged.setdefault(row["feature"], {"feature": row["feature"]}).update(
                    {k: v for k, v in row.items() if k != "feature"}
                )
        rows = list(merged.values())
    else:
        rows = [
            {"feature": name, **{k: float(v) for k, v in values.items()}}
            for name, values in model.info.get("coefficients", {}).items()
        ]
        for name, gain in model.info.get("importance_gain", {}).items():
            rows.append({"feature": name, "gain": float(gain)})
    if data is not None and "members" not in model.state:  # an ensemble's rows are its members'
        clip = model.state.get("clip", {})
        for row in rows:
            if "coef" in row and row["feature"] in data.columns:
                values = pd.to_numeric(data[row["feature"]], errors="coerce")
                if row["feature"] in clip:  # the model sees its inputs winsorised at the training bounds
                    values = values.clip(*clip[row["feature"]])
                sd = float(values.std(ddof=0))
                row["per_sd"] = row["coef"] * sd if math.isfinite(sd) else None
    return sorted(
        rows,
        key=lambda r: (
            r["feature"] != "const",
            -abs(r.get("coef", 0.0) or 0.0),
            -(r.get("gain", 0.0) or 0.0),
        ),
    )


def target_units(market: str) -> str:
    """The unit of the predicted and realised move (close − now) of `market`, for axis labels and tables."""
    return _UNITS.get(market, "target units")


def member_note(model: ClvModel) -> str | None:
    """For an ensemble, which member the coefficients and the gain come from and its weight; else None."""
    members = model.state.get("members")
    if not members:
        return None
    weights = model.state.get("weights") or [1 / len(members)] * len(members)
    parts = [f"{model_from_dict(m).kind} (weight {w:g})" for m, w in zip(members, weights, strict=True)]
    return (
        "an ensemble: the mean of "
        + " and ".join(parts)
        + ("; the coefficients are its linear member's, the gain its trees'")
    )


def calibration_rows(calibration: pd.DataFrame | Mapping[str, Any]) -> list[dict[str, Any]]:
    """Calibration (as `clv_model.calibration_table` returns it, or its `to_dict(orient="list")`) as rows."""
    frame = calibration if isinstance(calibration, pd.DataFrame) else pd.DataFrame(dict(calibration))
    frame = frame.apply(pd.to_numeric, errors="coerce")  # None (an empty window's JSON) becomes NaN
    return [
        {
            "bin": int(r["bin"]) if math.isfinite(r["bin"]) else 0,
            "n": int(r["n"]) if math.isfinite(r["n"]) else 0,
            "mean_predicted": float(r["mean_predicted"]),
            "mean_realised": float(r["mean_realised"]),
        }
        for r in frame.to_dict(orient="records")
    ]


def _fmt(value: Any, pattern: str = "{:.4f}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return pattern.format(value)


def report_markdown(
    title: str,
    figures: Mapping[str, Any],
    calibration: list[dict[str, Any]],
    importance: list[dict[str, Any]],
    images: Mapping[str, str] | None = None,
    *,
    units: str = "target units",
    note: str | None = None,
    scale_rows: int | None = None,
) -> str:
    """A markdown report: headline figures, the calibration table, the coefficient/importance table.

    `units`: what the moves are measured in (`target_units`); `note`: a line about the model (an ensemble's
    members, `member_note`); `scale_rows`: how many rows the per-sd scale was measured on. Every figure carries its count: directional accuracy its moves, CLV captured the
    decisions acted on, each decile its decisions.
    """
    lines = [f"# {title}", ""]
    shown = [(label, _fmt(figures.get(key), pattern)) for key, label, pattern in _FIGURES if key in figures]
    counts = {"directional accuracy": "n_moves", "CLV captured": "n_acted"}
    shown = [
        (
            label,
            f"{value} (n = {figures[counts[label]]})"
            if figures.get(counts.get(label, "")) is not None
            else value,
        )
        for label, value in shown
    ]
    shown = [(f"{label} ({units})", value) if label in ("RMSE", "CLV captured") else (label, value)
             for label, value in shown]  # fmt: skip
    interval = figures.get("skill_ci95")
    if interval and len(interval) == 2:
        shown.append(
            ("skill 95 % CI (games)", f"[{_fmt(interval[0], '{:+.2%}')}, {_fmt(interval[1], '{:+.2%}')}]")
        )
    if shown:
        lines += [
            "| figure | value |",
            "|---|---|",
            *(f"| {label} | {value} |" for label, value in shown),
            "",
        ]
    lines += [
        "## Calibration (by prediction decile)",
        "",
        f"Mean predicted and mean realised move (close − now), in {units}; decile 1 = the lowest predictions.",
        "",
        "| decile | n | mean predicted | mean realised |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['bin'] + 1} | {r['n']} | {_fmt(r['mean_predicted'])} | {_fmt(r['mean_realised'])} |"
        for r in calibration
    ]
    lines += ["", "## Coefficients / importance", ""]
    if note:
        lines += [f"The model is {note}.", ""]
    if importance:
        lines += [
            "coef: raw units; per sd: the coefficient times the feature's standard deviation over the window's "
            f"rows (n = {scale_rows if scale_rows is not None else '–'}), winsorised as the model sees it: the "
            f"move, in {units}, "
            "that a one-sd swing predicts; gain: XGBoost's mean loss reduction per split on the feature (0: "
            "never split on). Sorted by |per sd| (linear), then gain.",
            "",
            "| feature | coef | per sd | std err | t | p | gain |",
            "|---|---|---|---|---|---|---|",
        ]
        ordered = sorted(
            importance,
            key=lambda r: (
                r["feature"] != "const",
                r.get("per_sd") is None and r.get("coef") is None,
                -abs(r.get("per_sd") if r.get("per_sd") is not None else (r.get("coef") or 0.0)),
                -(r.get("gain") or 0.0),
            ),
        )
        lines += [
            f"| {r['feature']} | {_fmt(r.get('coef'))} | {_fmt(r.get('per_sd'))} | {_fmt(r.get('std_err'))} "
            f"| {_fmt(r.get('t'), '{:.2f}')} | {_fmt(r.get('p_value'), '{:.3f}')} | {_fmt(r.get('gain'), '{:.3g}')} |"
            for r in ordered
        ]
    else:
        lines.append("(none: the no-change baseline has no parameters)")
    if images:
        lines += ["", "## Charts", "", *(f"- {name}: `{path}`" for name, path in images.items())]
    return "\n".join(lines) + "\n"
