"""`odds polymarket …` and `odds import polymarket` end to end (CliRunner, test database, fake CLOB)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from odds_cli.main import app
from odds_models.clock import FrozenClock, use_clock
from odds_models.progress import Step, listening
from tasks.http import use_client_factory
from tests.support.pm_fakes import (
    FakeClob,
    gamma_event,
    insert_sportsbook_event,
    now_floor,
    run_sync,
    spread_market,
    token,
)

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

NOW = now_floor()
runner = CliRunner()


class _Counted:
    """A progress listener that records (label, done, total) of every advance."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, int, int | None]] = []

    def started(self, step: Step) -> None:
        pass

    def advanced(self, step: Step, detail: str | None) -> None:
        self.lines.append((step.label, step.done, step.total))

    def finished(self, step: Step) -> None:
        pass


def _invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    # JSON is on stdout; the flows' Prefect log lines go to stderr (`output` holds both)
    return json.loads(result.stdout) if "--json" in args else result.output


@pytest.fixture
def seeded(db: str, tmp_path: Path) -> Path:
    slug = "nba-bos-nyk-2026-03-01"
    event = gamma_event(
        "980",
        slug,
        game_start=NOW + timedelta(hours=8),
        market_start=NOW - timedelta(days=25),
        tokens=(token(31), token(32)),
        extra_markets=[spread_market("9805", slug, (token(33), token(34)))],
    )
    path = tmp_path / "events.json"
    path.write_text(json.dumps([event]))
    run_sync(insert_sportsbook_event("sb-cli", "New York Knicks", "Boston Celtics", NOW + timedelta(hours=8)))
    return path


def test_import_markets_link_status_and_book(seeded: Path) -> None:
    with use_clock(FrozenClock(NOW)):
        counts = _invoke("import", "polymarket", str(seeded), "--json")
        assert (counts["events"], counts["markets"]) == (1, 2)
        assert _invoke("import", "polymarket", str(seeded), "--json")["events"] == 1  # idempotent

        dry = _invoke("polymarket", "link", "--dry-run", "--json")
        assert dry["linked"] == 1
        assert dry["written"] == 0
        assert dry["matched"][0]["event_id"] == "sb-cli"
        assert "matched: 1" in _invoke("polymarket", "link")

        rows = _invoke("polymarket", "markets", "--json")
        spread = next(r for r in rows if r["id"] == "9805")
        assert (spread["market_type"], spread["team"], spread["line"]) == ("spread", "New York Knicks", -4.5)
        assert all(r["event_id"] == "sb-cli" for r in rows)
        assert len(_invoke("polymarket", "markets", "--type", "moneyline", "--json")) == 1

        status = _invoke("polymarket", "status", "--json")
        assert status["backfill_staleness"] == "never"
        assert status["linked"] == 1
        # 25-day-old markets with nothing fetched: their history expires within a week
        assert {e["market_id"] for e in status["expiring_within_week"]} == {"9801"}

        fake = FakeClob()
        with use_client_factory("clob", fake.client):
            book = _invoke("polymarket", "book", "nba-bos-nyk-2026-03-01", "--json")
            assert [lvl["price"] for lvl in book["books"][token(31)]["bids"]] == [0.45, 0.44, 0.01]
            assert "Celtics: bid 0.45 / ask 0.47" in _invoke("polymarket", "book", "sb-cli")


def test_bad_arguments_exit_2(db: str) -> None:
    assert runner.invoke(app, ["polymarket", "markets", "--type", "nope"]).exit_code == 2


def test_backfill_command_with_progress_then_nothing_left(seeded: Path) -> None:
    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", fake.client):
        _invoke("import", "polymarket", str(seeded))
        counted = _Counted()
        with listening(counted):
            output = _invoke("polymarket", "backfill", "--days", "30")
        assert "tokens=4" in output
        assert "errors=0" in output
        assert "backfill" not in output  # progress goes to stderr (odds_models.progress), never stdout
        assert counted.lines == [("backfill polymarket", n, 4) for n in range(1, 5)]
        assert _invoke("polymarket", "backfill", "--json")["tokens"] == 0
        status = _invoke("polymarket", "status", "--json")
    assert status["backfill_staleness"] == "ok"
    assert status["expiring_within_week"] == []


async def _last_success(token_id: str, market_id: str, at: object) -> None:
    from sqlalchemy import text

    from odds_models.db import async_session_maker

    async with async_session_maker() as session:
        await session.execute(
            text("INSERT INTO polymarket_backfill_watermarks (token_id, market_id, points, last_success_at, "
                 "updated_at) VALUES (:t, :m, 0, :at, :at)"),
            {"t": token_id, "m": market_id, "at": at},
        )  # fmt: skip
        await session.commit()


def test_a_late_backfill_saves_then_exits_1_in_one_line(seeded: Path, odds: Any) -> None:
    """The flow fails after saving (previous success 6 days ago): exit 1, one `error:` line, no traceback."""
    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", fake.client):
        _invoke("import", "polymarket", str(seeded))
        run_sync(_last_success(token(31), "9801", NOW - timedelta(days=6)))
        code, _, err = odds("polymarket", "backfill", "--days", "30")
        status = _invoke("polymarket", "status", "--json")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert "Traceback" not in err
    # the flow's warning when it starts late, then the failure in one line
    assert [line.split(":")[0] for line in lines] == ["WARNING prefect.flow_runs", "error"], err
    assert re.search(r"^error: BackfillOverdue: .*more than 5 days.*This run saved [1-9]\d* points", lines[1])
    assert fake.history_calls  # it fetched before failing
    assert status["backfill_staleness"] == "ok"  # and saved: the last success is now
