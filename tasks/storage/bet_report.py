"""The bet ledger's report on disk: `report.md` and `cumulative_clv.png` (matplotlib, no display).

The figures and the text come from `odds_analytics.ledger` (`ledger_report`, `report_markdown`,
`cumulative_clv`); this module draws the chart and writes the files (`odds bets report`, the `settle-bets`
flow, the demo).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE

from odds_analytics.ledger import cumulative_clv, report_markdown

__all__ = [
    "CHART_NAME",
    "chart_data_uri",
    "render_cumulative_clv",
    "write_ledger_report",
    "write_ledger_report_task",
]

CHART_NAME = "cumulative_clv.png"
_COLOURS = {"manual": "tab:blue", "paper": "tab:orange"}


def render_cumulative_clv(bets: pd.DataFrame, path: Path, *, title_note: str = "") -> Path | None:
    """Draw the running sum of CLV (probability points) of the bets with a close, in tip-off order: all bets,
    and each source when there are both. None (and no file) when no bet has a close yet."""
    series = cumulative_clv(bets)
    if series.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    x = list(range(len(series) + 1))
    sources = sorted(series["source"].unique())
    name = "all" if len(sources) > 1 else f"{sources[0]} bets"
    ax.plot(x, [0.0, *series["cumulative_pp"]], color="black", linewidth=2.2, marker="o", markersize=3.5,
            label=f"{name} ({len(series)} bets, sum {series['cumulative_pp'].iloc[-1]:+.2f} pp, "
                  f"mean {series['clv_pp'].mean():+.2f} pp)")  # fmt: skip
    if len(sources) > 1:
        for source, part in series.groupby("source", sort=True):
            positions = [0, *(i + 1 for i in part.index)]
            ax.plot(positions, [0.0, *part["source_cumulative_pp"]], linewidth=1.2, marker="o", markersize=3,
                    color=_COLOURS.get(str(source)), alpha=0.85,
                    label=f"{source} ({len(part)} bets, sum {part['source_cumulative_pp'].iloc[-1]:+.2f} pp)")  # fmt: skip
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("bets with a close, in tip-off order")
    ax.set_ylabel("cumulative CLV: sum over bets (pp)")
    n_all = len(bets)
    ax.set_title(f"Cumulative closing-line value: {len(series)}/{n_all} bets have a close{title_note}")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_ledger_report(
    report: dict[str, Any], bets: pd.DataFrame, folder: Path, *, title_note: str = ""
) -> dict[str, Path | None]:
    """Write `report.md` and `cumulative_clv.png` to `folder`; returns their paths (chart None without closes)."""
    folder.mkdir(parents=True, exist_ok=True)
    chart = render_cumulative_clv(bets, folder / CHART_NAME, title_note=title_note)
    lines = report_markdown(report)
    if chart is not None:
        lines += [f"![cumulative CLV]({chart.name})", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines))
    return {"report": path, "chart": chart}


@task(cache_policy=NONE, task_run_name="write-ledger-report")
async def write_ledger_report_task(
    report: dict[str, Any], bets: pd.DataFrame, folder: str
) -> dict[str, Path | None]:
    """`write_ledger_report` as a task (the `settle-bets` flow)."""
    return write_ledger_report(report, bets, Path(folder))


def chart_data_uri(path: Path) -> str:
    """The chart as a `data:` URI (what the Prefect image artifact shows: it needs no web server)."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()
