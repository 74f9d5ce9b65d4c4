"""The demo report on disk: `report.md`, `line_movement.png`, `spread_movement.png`, `cumulative_clv.png` (the
bet ledger) and `run.json`.

The text comes from `odds_analytics.demo_report`; this module draws the charts (matplotlib, no display)
and writes the files, like `tasks.storage.backtests` does for a backtest.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from odds_analytics.demo_report import fair_home_probabilities, polymarket_home, report_markdown
from odds_models.settings import get_settings
from tasks.storage.bet_report import CHART_NAME, render_cumulative_clv

__all__ = ["render_charts", "render_report", "write_run_json"]


def render_charts(chart: dict[str, Any], folder: Path, sharp_books: list[str]) -> list[Path]:
    """Write `line_movement.png` (devigged home probability per book and Polymarket) and `spread_movement.png`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    home, away, commence = chart["home"], chart["away"], chart["commence"]
    series = fair_home_probabilities(chart["h2h"], home)
    written = []

    def hours(moment: datetime) -> float:
        return (moment - commence).total_seconds() / 3600

    fig, ax = plt.subplots(figsize=(10, 5.5))
    for book, points in sorted(series.items()):
        sharp = book in sharp_books
        ax.step([hours(m) for m, _ in points], [p for _, p in points], where="post",
                linewidth=2.4 if sharp else 0.9, alpha=1.0 if sharp else 0.55,
                label=f"{book} (sharp)" if sharp else book)  # fmt: skip
    pm = polymarket_home(chart["polymarket"], home)
    if pm:
        ax.plot([hours(m) for m, _ in pm], [p for _, p in pm], color="black", linestyle="--", linewidth=1.8,
                marker="o", markersize=2.5, label="Polymarket mid")  # fmt: skip
    closing = [pts[-1][1] for pts in series.values() if pts]
    if closing:
        close = sorted(closing)[len(closing) // 2]
        ax.axhline(close, color="grey", linestyle=":", linewidth=1.2, label=f"closing consensus {close:.3f}")
    title = f"Line movement: {away} @ {home} (simulated replay data)"
    written.append(
        _finish(fig, ax, folder / "line_movement.png", ylabel=f"fair P({home} wins), vig removed", title=title,
                ncol=3, loc="best")
    )  # fmt: skip

    spreads: dict[str, list[tuple[float, float]]] = {}
    for moment, book, point in chart["spreads"]:
        if point is not None:
            spreads.setdefault(book, []).append((hours(moment), point))
    if spreads:
        fig, ax = plt.subplots(figsize=(10, 4.5))
        for book, points in sorted(spreads.items()):
            sharp = book in sharp_books
            ax.step([h for h, _ in points], [p for _, p in points], where="post",
                    linewidth=2.4 if sharp else 0.9, alpha=1.0 if sharp else 0.55, label=book)  # fmt: skip
        title = f"Spread by book: {away} @ {home} (simulated replay data)"
        written.append(
            _finish(
                fig, ax, folder / "spread_movement.png", ylabel=f"{home} spread (points)", title=title, ncol=4
            )
        )
    return written


def _finish(fig: Any, ax: Any, path: Path, *, ylabel: str, title: str, **legend: Any) -> Path:
    """Mark the tip (x = 0 hours), label and save a chart of the demo report; returns its path."""
    import matplotlib.pyplot as plt

    ax.axvline(0, color="red", linewidth=0.8)
    ax.set_xlabel("hours to tip-off")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, **legend)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render_report(
    *,
    figures: dict[str, Any],
    steps: dict[str, Any],
    replay: dict[str, Any],
    meta: dict[str, Any],
    folder: Path,
) -> Path:
    """Write `report.md` (and the charts) to `folder`; return the Markdown path."""
    folder.mkdir(parents=True, exist_ok=True)
    sharp_books = get_settings().sharp_books
    charts = render_charts(figures["chart"], folder, sharp_books) if figures.get("chart") else []
    ledger = figures.get("ledger")
    if ledger and ledger["bets"]:
        bets = pd.DataFrame(ledger["bets"])
        chart = render_cumulative_clv(bets, folder / CHART_NAME, title_note=" (simulated replay data)")
        charts += [chart] if chart else []
    text = report_markdown(
        figures=figures, steps=steps, replay=replay, meta=meta, charts=[p.name for p in charts]
    )
    path = folder / "report.md"
    path.write_text(text)
    return path


def write_run_json(folder: Path, summary: dict[str, Any]) -> Path:
    """Write the run's summary (options, span, steps, counts, replay ledger) as `run.json` in `folder`."""
    path = folder / "run.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    return path
