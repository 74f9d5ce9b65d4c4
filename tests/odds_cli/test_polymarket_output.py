"""Piped output keeps a 200-character market slug whole; the read-only table commands print valid JSON with
tz-aware times (CliRunner: stdout is not a terminal, as with `| cat`)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from odds_cli.main import app
from odds_models.clock import FrozenClock, use_clock
from tests.support.pm_fakes import gamma_event, insert_sportsbook_event, now_floor, run_sync, token

pytestmark = [
    pytest.mark.db,
    pytest.mark.engine,
    pytest.mark.usefixtures("prefect_harness"),
]  # `polymarket link` runs a flow

NOW = now_floor()
SLUG = "nba-bos-nyk-2026-03-01-" + "s" * 177  # 200 characters
runner = CliRunner()
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@pytest.fixture
def long_slug(db: str, tmp_path: Path) -> None:
    event = gamma_event(
        "990", SLUG, game_start=NOW + timedelta(hours=8), market_start=NOW - timedelta(days=25),
        tokens=(token(41), token(42)),
    )  # fmt: skip
    path = tmp_path / "events.json"
    path.write_text(json.dumps([event]))
    run_sync(
        insert_sportsbook_event("sb-long", "New York Knicks", "Boston Celtics", NOW + timedelta(hours=8))
    )
    with use_clock(FrozenClock(NOW)):
        assert runner.invoke(app, ["import", "polymarket", str(path)]).exit_code == 0
        assert runner.invoke(app, ["polymarket", "link"]).exit_code == 0


def test_markets_table_piped_keeps_the_slug_whole(long_slug: None) -> None:
    result = runner.invoke(app, ["polymarket", "markets"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "9901" in line)
    assert SLUG in row  # whole, on the market's own line
    assert "sb-long" in row
    assert "…" not in result.output


def _times_are_aware(value: object) -> list[str]:
    """Every string that looks like a time but has no zone."""
    if isinstance(value, dict):
        return [bad for item in value.values() for bad in _times_are_aware(item)]
    if isinstance(value, list):
        return [bad for item in value for bad in _times_are_aware(item)]
    if isinstance(value, str) and ISO.match(value) and not re.search(r"(\+00:00|Z)$", value):
        return [value]
    return []


@pytest.mark.parametrize(
    "argv",
    [
        ["polymarket", "markets", "--json"],
        ["polymarket", "status", "--json"],
        ["polymarket", "link", "--dry-run", "--json"],
        ["status", "quota", "--json"],
        ["bets", "list", "--json"],
        ["db", "url", "--json"],
    ],
    ids=lambda argv: " ".join(argv[:-1]),
)
def test_table_commands_print_valid_json(long_slug: None, argv: list[str]) -> None:
    with use_clock(FrozenClock(NOW)):
        result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # one document, nothing else on stdout
    assert payload is not None
    assert not _times_are_aware(payload)
    if argv[:2] == ["polymarket", "markets"]:
        assert any(r["event_slug"] == SLUG for r in payload)
