"""Import closing lines (kaggle / sbr CSV) and final scores into `closing_lines` and `events`."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from flows.run_names import with_params
from odds_models import progress
from odds_models.runtime import freeze_startup_objects
from tasks.storage.closing_lines import (
    load_closing_line_file_task,
    match_closing_line_games_task,
    store_imported_games_task,
)

__all__ = ["import_closing_lines"]


@flow(
    name="import-closing-lines",
    flow_run_name=with_params("import-closing-lines", "fmt", "since", "until"),
    timeout_seconds=1800,
)
async def import_closing_lines(
    path: str, fmt: str = "kaggle", since: date | None = None, until: date | None = None
) -> dict[str, Any]:
    """Load a closing-line CSV: match games to events (creating missing ones), store lines and scores."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    stages = progress.begin(f"import closing-lines {fmt}", total=3, unit="stages")
    # 1. parse the file (pure), keeping the requested dates
    parsed = load_closing_line_file_task(path, fmt, since, until)
    stages.advance(f"{len(parsed.games)} games read")
    # 2. match games to events by US/Eastern date and teams
    match = await match_closing_line_games_task(parsed.games, fmt)
    stages.advance("matched")
    # 3. create missing events, set final scores, insert lines (idempotent)
    counts = await store_imported_games_task(match, fmt)
    stages.advance("stored")
    counts.games = len(parsed.games)
    counts.unmatched += len(parsed.unresolved)
    counts.skipped = parsed.skipped
    logger.info(
        "closing lines %s: %d games, %d matched, %d created, %d unmatched, %d lines added",
        fmt, counts.games, counts.matched, counts.created, counts.unmatched, counts.lines_added,
    )  # fmt: skip
    summary = asdict(counts)
    summary["unmatched_examples"] = (parsed.unresolved + match.unmatched)[:10]
    return summary
