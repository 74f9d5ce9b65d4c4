"""The `settle-bets` flow through the Prefect engine: closes and results filled, the report and the cumulative
CLV chart written and published as artifacts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from odds_analytics.ledger import draft_from_fields
from odds_models.clock import FrozenClock, use_clock
from odds_models.settings import get_settings
from tasks.storage.bets import record_bets
from tests.support.bets_ledger import TIP, Ledger, finish

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]


async def test_settle_bets_publishes_the_report(ledger: Ledger) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.bets import settle_bets

    placed = (TIP - timedelta(hours=3)).isoformat()
    drafts = [
        draft_from_fields({"event": ledger.game, "market": "h2h", "side": side, "venue": "draftkings",
                           "price": price, "stake": "10", "placed_at": placed})
        for side, price in (("home", "1.55"), ("away", "2.75"))
    ]  # fmt: skip
    await record_bets(list(enumerate(drafts, start=1)), now=TIP - timedelta(hours=2))
    await finish(ledger.game, 110, 100)

    with use_clock(FrozenClock(TIP + timedelta(hours=4))):
        result = await settle_bets()
        quiet = await settle_bets()  # nothing left to fill: no new artifact
    assert result["settled"]["closes"] == 2
    assert result["settled"]["results"] == 2
    assert quiet == {"settled": {"checked": 0, "closes": 0, "results": 0, "without_close": 0}}
    folder = get_settings().reports_dir / "bets"
    assert "(2/2)" in (folder / "report.md").read_text()
    assert (folder / "cumulative_clv.png").stat().st_size > 5_000

    async with get_client() as client:
        found = {
            key: await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            for key in ("bets-report", "bets-cumulative-clv")
        }
    report = found["bets-report"][0].data
    report = report if isinstance(report, str) else json.dumps(report)
    assert "CLV mean (n/N)" in report
    assert "(2/2)" in report
    assert len(found["bets-report"]) == 1  # the quiet run published nothing
    image = found["bets-cumulative-clv"][0]
    assert image.type == "image"
    assert str(image.data).startswith("data:image/png;base64,")
