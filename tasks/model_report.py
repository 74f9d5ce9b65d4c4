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

from odds_analytics.clv_model import ClvModel
from odds_analytics.model_report import calibration_rows, importance_rows, report_markdown
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

    fig, ax = plt.subplots(figsize=(5.5, 5))
    if not cal.empty:
        ax.plot(cal["mean_predicted"], cal["mean_realised"], "o-", color="tab:blue", label="by decile")
        lo = float(min(cal["mean_predicted"].min(), cal["mean_realised"].min()))
        hi = float(max(cal["mean_predicted"].max(), cal["mean_realised"].max()))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--", label="perfect calibration")
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlabel("mean predicted move")
    ax.set_ylabel("mean realised move")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(paths["calibration.png"], dpi=110)
    plt.close(fig)

    panels = []
    if "coef" in imp.columns:
        column = "per_sd" if "per_sd" in imp.columns and imp["per_sd"].notna().any() else "coef"
        label = (
            "move per +1 sd of the feature (target units)"
            if column == "per_sd"
            else "coefficient (raw units)"
        )
        panels.append((column, label, "tab:green"))
    if "gain" in imp.columns and imp["gain"].notna().any():
        panels.append(("gain", "XGBoost gain", "tab:orange"))
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(6.5 * max(1, len(panels)), 5), squeeze=False)
    for ax, (column, label, color) in zip(axes[0], panels, strict=False):
        top = imp[(imp["feature"] != "const") & imp[column].notna()]
        top = top.reindex(top[column].abs().sort_values(ascending=False).index).head(_TOP_FEATURES).iloc[::-1]
        ax.barh(top["feature"], top[column], color=color)
        ax.axvline(0, color="black", lw=0.5)
        ax.set_xlabel(label)
    axes[0][0].set_title(f"{title}: coefficients / importance", fontsize=9)
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
        ),
        key=f"clv-model-{model.market}-{stage}",
        description=title,
    )
    return paths


publish_model_report_task = task(
    publish_model_report, cache_policy=NONE, task_run_name="model-report-{stage}"
)
