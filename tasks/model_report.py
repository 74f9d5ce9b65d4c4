"""A CLV model's report as files (PNG charts, CSV tables) and as a Prefect markdown artifact.

`write_model_report` draws the calibration chart (mean predicted vs mean realised move by prediction
decile, with the diagonal) and the coefficient/importance chart into a folder; `publish_model_report` (a
task, called by the training and evaluation flows) writes them under
`<reports_dir>/models/<name>-<version>-<stage>/` and publishes the markdown artifact
`clv-model-<market>-<stage>` with the tables and the file paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.artifacts import acreate_markdown_artifact
from prefect.cache_policies import NONE

from odds_analytics.clv_model import ClvModel, model_from_dict
from odds_analytics.model_report import (
    calibration_rows,
    importance_rows,
    member_note,
    report_markdown,
    target_units,
)
from odds_models.settings import get_settings

__all__ = ["publish_model_report", "publish_model_report_task", "write_model_report"]

_TOP_FEATURES = 20


def write_model_report(
    model: ClvModel,
    calibration: pd.DataFrame | Mapping[str, Any],
    directory: Path,
    title: str,
    data: pd.DataFrame | None = None,
) -> dict[str, str]:
    """Write calibration.png, importance.png, calibration.csv and importance.csv; returns their paths.

    The coefficient panel shows each linear coefficient times the feature's standard deviation in `data`
    (when given; the raw coefficient otherwise); a second panel shows XGBoost gain when the model has trees.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    cal = pd.DataFrame(calibration_rows(calibration))
    rows = importance_rows(model, data)
    imp = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["feature"])  # no_change has no parameters
    paths = {
        "calibration.png": directory / "calibration.png",
        "importance.png": directory / "importance.png",
        "calibration.csv": directory / "calibration.csv",
        "importance.csv": directory / "importance.csv",
    }
    cal.to_csv(paths["calibration.csv"], index=False)
    imp.to_csv(paths["importance.csv"], index=False)

    units = target_units(model.market)
    n_rows = int(cal["n"].sum()) if not cal.empty else 0
    fig, ax = plt.subplots(figsize=(6, 5.5))
    if not cal.empty:
        low, high = int(cal["n"].min()), int(cal["n"].max())
        each = f"{low}" if low == high else f"{low}-{high}"
        ax.plot(cal["mean_predicted"], cal["mean_realised"], "o-", color="tab:blue",
                label=f"by prediction decile ({each} decisions each)")  # fmt: skip
        lo = float(min(cal["mean_predicted"].min(), cal["mean_realised"].min()))
        hi = float(max(cal["mean_predicted"].max(), cal["mean_realised"].max()))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--", label="perfect calibration")
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel(f"mean predicted move, close − now ({units})")
    ax.set_ylabel(f"mean realised move, close − now ({units})")
    ax.set_title(f"{title}\ncalibration, n = {n_rows:,} decisions", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)  # the deciles run from lower left to upper right
    fig.tight_layout()
    fig.savefig(paths["calibration.png"], dpi=110)
    plt.close(fig)

    members = [model_from_dict(m).kind for m in model.state.get("members", [])]
    linear_name = f"linear member {members[0]}" if members else f"{model.kind}: linear coefficients"
    tree_name = f"tree member {members[-1]}" if members else "XGBoost"
    n_data = len(data) if data is not None else None
    panels = []
    if "coef" in imp.columns:
        column = "per_sd" if "per_sd" in imp.columns and imp["per_sd"].notna().any() else "coef"
        label = (
            f"predicted move per +1 sd of the feature ({units})"
            if column == "per_sd"
            else "coefficient (raw feature units)"
        )
        panels.append((column, label, "tab:green", linear_name))
    if "gain" in imp.columns and imp["gain"].notna().any():
        panels.append(("gain", "XGBoost gain (mean loss reduction per split; 0 = never split on)", "tab:orange",
                       f"{tree_name}: gain"))  # fmt: skip
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(6.5 * max(1, len(panels)), 5.5), squeeze=False)
    for ax, (column, label, color, name) in zip(axes[0], panels, strict=False):
        top = imp[(imp["feature"] != "const") & imp[column].notna()]
        top = top.reindex(top[column].abs().sort_values(ascending=False).index).head(_TOP_FEATURES).iloc[::-1]
        ax.barh(top["feature"], top[column], color=color)
        ax.axvline(0, color="black", lw=0.5)
        ax.set_xlabel(label, fontsize=9)
        ax.set_title(name, fontsize=9)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no parameters (the no-change baseline)", ha="center", va="center")
        axes[0][0].set_axis_off()
    scale = (
        f"; sd over the window's {n_data:,} decisions"
        if n_data is not None and "per_sd" in imp.columns
        else ""
    )
    weights = " (ensemble: the mean of its members)" if members else ""
    fig.suptitle(f"{title}\ncoefficients / importance{weights}{scale}", fontsize=10)
    fig.tight_layout()
    fig.savefig(paths["importance.png"], dpi=110)
    plt.close(fig)
    return {name: str(path) for name, path in paths.items()}


async def publish_model_report(
    model: ClvModel,
    calibration: pd.DataFrame | Mapping[str, Any],
    figures: Mapping[str, Any],
    *,
    stage: str,
    title: str,
    data: pd.DataFrame | None = None,
) -> dict[str, str]:
    """Write the report files and publish the markdown artifact; returns the file paths.

    `data`: the rows the report is about (the training window or the scored window), for the per-sd scale.
    """
    name = f"clv-{model.market}-{model.kind}"
    directory = get_settings().reports_dir / "models" / f"{name}-{model.fingerprint()}-{stage}"
    paths = write_model_report(model, calibration, directory, title, data)
    await acreate_markdown_artifact(
        markdown=report_markdown(
            title,
            figures,
            calibration_rows(calibration),
            importance_rows(model, data),
            {k: v for k, v in paths.items() if k.endswith(".png")},
            units=target_units(model.market),
            note=member_note(model),
            scale_rows=None if data is None else len(data),
        ),
        key=f"clv-model-{model.market}-{stage}",
        description=title,
    )
    return paths


publish_model_report_task = task(
    publish_model_report, cache_policy=NONE, task_run_name="model-report-{stage}"
)
