"""Matching Polymarket games to sportsbook events: tickers, the ±24 h window, gameStartTime, uniqueness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from odds_analytics.linking import Candidate, match_event, parse_ticker, polymarket_code_index
from odds_models.teams import TEAMS, team_by_name

KNICKS, CELTICS = "New York Knicks", "Boston Celtics"


def _cand(event_id: str, home: str, away: str, when: datetime) -> Candidate:
    return Candidate(event_id, home, away, when)


@pytest.mark.parametrize("team", TEAMS, ids=[t.abbr for t in TEAMS])
def test_every_team_code_parses_home_and_away(team) -> None:
    other = team_by_name("Utah Jazz") if team.name != "Utah Jazz" else team_by_name("Miami Heat")
    for code in team.polymarket:
        away = parse_ticker(f"nba-{code}-{other.polymarket[0]}-2025-11-09")
        home = parse_ticker(f"nba-{other.polymarket[0]}-{code}-2025-11-09")
        assert away is not None
        assert away.away is team
        assert away.home is other
        assert home is not None
        assert home.home is team
        assert home.away is other


def test_code_index_covers_all_30_teams_without_collisions() -> None:
    index = polymarket_code_index()
    assert {t.name for t in index.values()} == {t.name for t in TEAMS}
    for team in TEAMS:
        for code in team.polymarket:
            assert index[code] is team


def test_ticker_variants_and_suffixes() -> None:
    ticker = parse_ticker("nba-was-lac-2025-11-09")
    assert ticker is not None
    assert ticker.game_date == date(2025, 11, 9)
    assert (ticker.away.name, ticker.home.name) == ("Washington Wizards", "Los Angeles Clippers")
    assert parse_ticker("nba-hou-gs-2023-11-06").home.name == "Golden State Warriors"
    assert parse_ticker("nba-det-phi-2025-11-09-spread-home-4pt5").away.name == "Detroit Pistons"
    assert parse_ticker("NBA-SAS-NYK-2026-01-02").away.name == "San Antonio Spurs"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nba-will-the-mavericks-beat-the-grizzlies-by-more-than-5pt5",
        "nba-xxx-lac-2025-11-09",
        "nba-lac-lac-2025-11-09",
        "nba-was-lac-2025-13-40",
        "nfl-kc-buf-2025-11-09",
    ],
)
def test_bad_tickers_are_none(text: str) -> None:
    assert parse_ticker(text) is None


def test_evening_game_rolls_over_to_the_next_utc_day() -> None:
    # 7:30 pm ET on Nov 9 is 00:30 UTC on Nov 10; the ticker carries the US date.
    ticker = parse_ticker("nba-bos-nyk-2025-11-09")
    game = _cand("ev1", KNICKS, CELTICS, datetime(2025, 11, 10, 0, 30, tzinfo=UTC))
    other_day = _cand("ev0", KNICKS, CELTICS, datetime(2025, 11, 12, 0, 30, tzinfo=UTC))
    result = match_event("pm1", ticker, [other_day, game])
    assert (result.status, result.event_id) == ("linked", "ev1")


def test_window_edges_are_24h_around_noon_utc() -> None:
    ticker = parse_ticker("nba-bos-nyk-2025-11-09")
    inside = _cand("in", KNICKS, CELTICS, datetime(2025, 11, 10, 12, 0, tzinfo=UTC))
    outside = _cand("out", KNICKS, CELTICS, datetime(2025, 11, 10, 12, 1, tzinfo=UTC))
    assert match_event("pm", ticker, [inside]).status == "linked"
    assert match_event("pm", ticker, [outside]).status == "unmatched"


def test_back_to_back_same_matchup_is_ambiguous_not_linked() -> None:
    ticker = parse_ticker("nba-bos-nyk-2025-11-09")
    first = _cand("a", KNICKS, CELTICS, datetime(2025, 11, 9, 0, 30, tzinfo=UTC))
    second = _cand("b", KNICKS, CELTICS, datetime(2025, 11, 10, 0, 30, tzinfo=UTC))
    result = match_event("pm", ticker, [first, second])
    assert result.status == "ambiguous"
    assert result.event_id is None
    assert result.candidate_ids == ["a", "b"]


def test_game_start_time_breaks_the_tie_within_2h() -> None:
    ticker = parse_ticker("nba-bos-nyk-2025-11-09")
    first = _cand("a", KNICKS, CELTICS, datetime(2025, 11, 9, 0, 30, tzinfo=UTC))
    second = _cand("b", KNICKS, CELTICS, datetime(2025, 11, 10, 0, 41, tzinfo=UTC))  # actual tip moved it
    result = match_event(
        "pm", ticker, [first, second], game_start_time=datetime(2025, 11, 10, 0, 30, tzinfo=UTC)
    )
    assert (result.status, result.event_id) == ("linked", "b")


def test_game_start_time_far_from_everything_falls_back_to_the_window() -> None:
    ticker = parse_ticker("nba-bos-nyk-2025-11-09")
    game = _cand("a", KNICKS, CELTICS, datetime(2025, 11, 10, 0, 30, tzinfo=UTC))
    result = match_event("pm", ticker, [game], game_start_time=game.commence_time + timedelta(hours=5))
    assert (result.status, result.event_id) == ("linked", "a")


def test_missing_game_and_other_teams_are_unmatched() -> None:
    ticker = parse_ticker("nba-bos-nyk-2025-11-09")
    wrong_teams = _cand("x", KNICKS, "Miami Heat", datetime(2025, 11, 10, 0, 30, tzinfo=UTC))
    result = match_event("pm", ticker, [wrong_teams])
    assert result.status == "unmatched"
    assert "Celtics @ Knicks" in result.note
    assert match_event("pm", None, []).status == "unmatched"


def test_swapped_home_away_still_links_with_a_note() -> None:
    ticker = parse_ticker("nba-bos-nyk-2025-11-09")
    swapped = _cand("s", CELTICS, KNICKS, datetime(2025, 11, 10, 0, 30, tzinfo=UTC))
    result = match_event("pm", ticker, [swapped])
    assert result.status == "linked"
    assert "swapped" in result.note


def test_compute_links_groups_results_and_changed_keeps_only_what_moved() -> None:
    from odds_analytics.linking import LinkInput, candidate_window, compute_links

    tip = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    inputs = [
        LinkInput("901", "nba-bos-nyk-2026-03-01", None, "Celtics vs. Knicks", None, "linked", "sb1"),
        LinkInput("902", "nba-mia-lal-2026-03-01", None, "Heat vs. Lakers", None, "unlinked", None),
        LinkInput("903", "not-a-ticker", None, "?", None, "unlinked", None),
    ]
    candidates = [_cand("sb1", KNICKS, CELTICS, tip)]
    report = compute_links(inputs, candidates)
    assert [r.event_id for r in report.linked] == ["sb1"]
    assert [r.polymarket_event_id for r in report.unmatched] == ["902", "903"]
    assert report.counts() == {"linked": 1, "ambiguous": 0, "unmatched": 2, "written": 0}
    # 901 is stored as linked to sb1 already: only the two new verdicts are written
    assert [r.polymarket_event_id for r in report.changed(inputs)] == ["902", "903"]
    assert candidate_window(inputs) == (datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert candidate_window(inputs[2:]) is None
