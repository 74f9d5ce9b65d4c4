"""The bet ledger's scheduled flow: settle open bets at the close and after the game, publish the report.

- `settle_bets()` (deployment `settle-bets`, every 15 minutes): fills each bet's closing fair probability and
  CLV once its game has started (the last snapshot before tip-off, devigged; see
  `odds_analytics.ledger`) and its result and profit once the game is final (void if cancelled). Bets with
  no close stay open and are counted. When anything changed it writes the report (`report.md`,
  `cumulative_clv.png` under `$ODDS_HOME/reports/bets/`) and publishes both as Prefect artifacts
  (`bets-report`, `bets-cumulative-clv`).

Paper bets are recorded by the `predict` flow (`flows/model.py`) for every pick it publishes; manual bets by
`odds bets add` and `odds bets import`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_image_artifact, acreate_markdown_artifact

from flows.run_names import stamped
from odds_analytics.ledger import ledger_report, report_markdown
from odds_models.clock import now
from odds_models.runtime import freeze_startup_objects
from odds_models.settings import get_settings
from tasks.storage.bet_report import chart_data_uri, write_ledger_report_task
from tasks.storage.bets import read_ledger_task, settle_bets_task

__all__ = ["settle_bets"]


@flow(name="settle-bets", log_prints=False, flow_run_name=stamped("settle-bets"), timeout_seconds=600)
async def settle_bets(always_publish: bool = False) -> dict[str, Any]:
    """Fill closes (after tip-off) and results (after the game) of open bets; publish the ledger report."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    # 1. closes and results
    counts = await settle_bets_task()
    logger.info("bets: %d closes and %d results filled; %d started without a close",
                counts["closes"], counts["results"], counts["without_close"])  # fmt: skip
    if not (always_publish or counts["closes"] or counts["results"]):
        return {"settled": counts}
    # 2. the report: figures, the cumulative CLV chart, both as artifacts
    ledger = await read_ledger_task()
    report = ledger_report(ledger, now=now())
    paths = await write_ledger_report_task(report, ledger, str(get_settings().reports_dir / "bets"))
    await acreate_markdown_artifact(markdown="\n".join(report_markdown(report)), key="bets-report",
                                    description="The bet ledger: CLV, beat-the-close share and ROI with their counts")  # fmt: skip
    if paths["chart"] is not None:
        await acreate_image_artifact(image_url=chart_data_uri(paths["chart"]), key="bets-cumulative-clv",
                                     description=f"Cumulative CLV of the ledger ({paths['chart']})")  # fmt: skip
    return {
        "settled": counts,
        "report": report,
        "paths": {k: str(v) if v else None for k, v in paths.items()},
    }
