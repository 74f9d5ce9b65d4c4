"""`odds polymarket …` and `odds import polymarket` end to end (CliRunner, test database, fake CLOB)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from pm_fakes import FakeClob, gamma_event, insert_sportsbook_event, now_floor, run_sync, spread_market, token
from typer.testing import CliRunner

from odds_cli.main import app
from odds_models.clock import FrozenClock, use_clock
from tasks.http import use_client_factory

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

NOW = now_floor()
runner = CliRunner()


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


def test_backfill_command_with_progress_bar_then_nothing_left(seeded: Path) -> None:
    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", fake.client):
        _invoke("import", "polymarket", str(seeded))
        output = _invoke("polymarket", "backfill", "--days", "30")
        assert "tokens=4" in output
        assert "errors=0" in output
        assert "backfill" in output
        assert _invoke("polymarket", "backfill", "--json")["tokens"] == 0
        status = _invoke("polymarket", "status", "--json")
    assert status["backfill_staleness"] == "ok"
    assert status["expiring_within_week"] == []
