"""Every recorded The Odds API response in ../shared/fixtures parses; every error body maps to its error."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from odds_analytics.oddsapi import (
    detect_payload_kind,
    parse_events_payload,
    parse_odds_payload,
    parse_scores_payload,
)
from odds_analytics.validation import validate_event_odds
from odds_models.errors import AuthRejected, BadRequest, NotFound, QuotaExhausted
from tasks.odds_api import OddsApiClient

pytestmark = pytest.mark.shared


def _load(fixtures_dir: Path, name: str) -> object:
    return json.loads((fixtures_dir / name).read_text())


def _odds_files(fixtures_dir: Path) -> list[Path]:
    return sorted(p for p in fixtures_dir.glob("oddsapi_*odds_*.json"))


def test_every_oddsapi_fixture_is_covered(fixtures_dir: Path) -> None:
    names = {p.name for p in fixtures_dir.glob("oddsapi_*.json")}
    covered = {p.name for p in _odds_files(fixtures_dir)}
    covered |= {n for n in names if n.startswith(("oddsapi_error_", "oddsapi_scores_", "oddsapi_sports_"))}
    assert names == covered
    assert len(names) >= 15


def test_odds_and_event_odds_files_parse(fixtures_dir: Path) -> None:
    for path in _odds_files(fixtures_dir):
        data = json.loads(path.read_text())
        parsed = parse_odds_payload(data, endpoint=path.name)
        raw_outcomes = [
            o for e in (data if isinstance(data, list) else [data]) for b in e["bookmakers"]
            for m in b["markets"] for o in m["outcomes"]
        ]  # fmt: skip
        rows = [r for e in parsed.events for r in e.rows]
        dups = [r for e in parsed.events for r in e.duplicates]
        assert len(rows) + len(dups) == len(raw_outcomes), path.name
        for row in rows:
            assert row.price_decimal > 1.0 or not row.price_valid
        # validation runs on everything without crashing
        for ev in parsed.events:
            validate_event_odds(ev, snapshot_time=parsed.latest_update)


def test_eu_2021_file_keeps_h2h_lay_and_decimal_prices(fixtures_dir: Path) -> None:
    parsed = parse_odds_payload(_load(fixtures_dir, "oddsapi_odds_basketball_nba_2021-11-13_edgebet.json"))
    markets = {r.market for e in parsed.events for r in e.rows}
    assert {"h2h", "h2h_lay"} <= markets
    assert len(parsed.events) == 11
    first = parsed.events[0].rows[0]
    assert first.bookmaker == "unibet"
    assert first.outcome == "Miami Heat"
    assert first.price_decimal == 3.4
    assert first.price_american == 240
    assert first.market_last_update is None  # 2021 responses have no market-level last_update


def test_player_props_keep_description(fixtures_dir: Path) -> None:
    parsed = parse_odds_payload(
        _load(fixtures_dir, "oddsapi_event_odds_basketball_nba_playerprops_2024-02-22_orl-cle_bethelper.json")
    )
    assert parsed.kind == "event_odds"
    rows = parsed.events[0].rows
    assert rows
    levert = [r for r in rows if r.description == "Caris LeVert" and r.bookmaker == "draftkings"]
    assert {r.outcome for r in levert} == {"Over", "Under"}
    over = next(r for r in levert if r.outcome == "Over")
    assert over.price_american == -130
    assert over.price_decimal == pytest.approx(1 + 100 / 130)
    assert over.bookmaker_last_update is None
    assert over.market_last_update is not None


@pytest.mark.parametrize("name", [
    "oddsapi_event_odds_basketball_nba_empty-bookmakers_2026-05-02_phi-bos_scoutnote.json",
    "oddsapi_event_odds_basketball_nba_empty-bookmakers_2026-05-03_orl-det_scoutnote.json",
])  # fmt: skip
def test_empty_bookmakers(fixtures_dir: Path, name: str) -> None:
    parsed = parse_odds_payload(_load(fixtures_dir, name))
    assert len(parsed.events) == 1
    assert parsed.events[0].rows == []
    assert parsed.events[0].bookmakers == []


def test_scores_docs_example_string_and_null_scores(fixtures_dir: Path) -> None:
    data = _load(fixtures_dir, "oddsapi_scores_basketball_nba_docs-example.json")
    updates = parse_scores_payload(data)
    assert len(updates) == len(data) == 13
    statuses = {u.status for u in updates}
    assert statuses == {"final", "live", "scheduled"}
    for raw, update in zip(data, updates, strict=True):
        if raw["scores"] is None:
            assert (update.home_score, update.away_score) == (None, None)
        else:
            by_name = {s["name"]: int(s["score"]) for s in raw["scores"]}
            assert update.home_score == by_name[raw["home_team"]]
            assert update.away_score == by_name[raw["away_team"]]


def test_nfl_scores_without_days_from(fixtures_dir: Path) -> None:
    updates = parse_scores_payload(
        _load(fixtures_dir, "oddsapi_scores_americanfootball_nfl_2023-12_mansfield_NONNBA.json")
    )
    assert len(updates) == 31
    assert all(u.status == "scheduled" and u.home_score is None for u in updates)


def test_sports_docs_example_lists_nba(fixtures_dir: Path) -> None:
    sports = _load(fixtures_dir, "oddsapi_sports_docs-example.json")
    nba = [s for s in sports if s["key"] == "basketball_nba"]
    assert nba
    assert nba[0]["active"] is True


def test_events_shape_parses_from_odds_file(fixtures_dir: Path) -> None:
    data = _load(fixtures_dir, "oddsapi_odds_basketball_nba_2023-12-11_bigdataproject.json")
    events = [{k: v for k, v in e.items() if k != "bookmakers"} for e in data]
    assert detect_payload_kind(events) == "events"
    assert [e.id for e in parse_events_payload(events)] == [e["id"] for e in data]


@pytest.mark.parametrize(("name", "status", "error", "code"), [
    ("oddsapi_error_INVALID_KEY_pasted.json", 401, AuthRejected, "INVALID_KEY"),
    ("oddsapi_error_OUT_OF_USAGE_CREDITS_pasted.json", 401, QuotaExhausted, "OUT_OF_USAGE_CREDITS"),
    ("oddsapi_error_MISSING_REGION_422_pasted.json", 422, BadRequest, "MISSING_REGION"),
    ("oddsapi_error_INVALID_MARKET_422_pasted.json", 422, BadRequest, "INVALID_MARKET"),
    ("oddsapi_error_UNKNOWN_SPORT_pasted.json", 404, NotFound, "UNKNOWN_SPORT"),
])  # fmt: skip
async def test_error_bodies_map_to_typed_errors(
    fixtures_dir: Path, name: str, status: int, error: type[Exception], code: str
) -> None:
    body = (fixtures_dir / name).read_bytes()
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        api = OddsApiClient(api_key="k-contract", client=http)
        with pytest.raises(error) as info:
            await api.odds()
    assert info.value.error_code == code  # type: ignore[attr-defined]
    assert len(calls) == 1  # 4xx are never retried
    assert "k-contract" not in str(info.value)
