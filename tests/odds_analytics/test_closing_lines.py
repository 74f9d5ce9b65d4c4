"""Parsing of the kaggle and sbr closing-line formats and matching by US/Eastern date and teams."""

from __future__ import annotations

from datetime import UTC, date, datetime

from odds_analytics.closing_lines import (
    EventKey,
    eastern_date,
    imported_event_id,
    match_games,
    nominal_tip_off,
    parse_kaggle,
    parse_sbr,
)

KAGGLE = """season,date,regular,playoffs,away,home,score_away,score_home,q1_away,q2_away,q3_away,q4_away,ot_away,q1_home,q2_home,q3_home,q4_home,ot_home,whos_favored,spread,total,moneyline_away,moneyline_home,h2_spread,h2_total,id_spread,id_total
2024,1/9/24,TRUE,FALSE,mia,bos,98,110,0,0,0,0,0,0,0,0,0,0,home,7.5,221.5,260,-320,3,110,0,1
2024,1/9/24,TRUE,FALSE,gs,no,120,118,0,0,0,0,0,0,0,0,0,0,away,2,230,,,1,115,0,1
2024,1/10/24,TRUE,FALSE,xyz,bos,1,2,0,0,0,0,0,0,0,0,0,0,home,1,200,,,1,100,0,1
"""

SBR = """season,date,neutral,away_rot,home_rot,away_team,home_team,away_q1,away_q2,away_q3,away_q4,away_score,home_q1,home_q2,home_q3,home_q4,home_score,home_spread_open,home_spread_close,total_open,total_close,away_ml_close,home_ml_close,home_spread_2h,total_2h,source_file,suspect
2020-21,2021-01-05,0,501,502,GoldenState,LAClippers,1,1,1,1,104,1,1,1,1,108,-5.5,-6.0,222.0,224.5,200.0,-240.0,,,f.xlsx,0
2020-21,2021-01-05,0,503,504,NewJersey,Boston,1,1,1,1,99,1,1,1,1,100,3.0,2.5,210.0,211.0,,,,,f.xlsx,1
"""


def _lines(game: object) -> dict[tuple[str, str, str], tuple]:
    return {(ln.kind, ln.market, ln.outcome): (ln.point, ln.price_american) for ln in game.lines}  # type: ignore[attr-defined]


def test_parse_kaggle_spreads_totals_moneylines_and_scores() -> None:
    result = parse_kaggle(KAGGLE)
    assert len(result.games) == 2
    assert result.unresolved == ["row 3: unknown team 'xyz'"]
    bos = result.games[0]
    assert (bos.home_team, bos.away_team) == ("Boston Celtics", "Miami Heat")
    assert bos.game_date == date(2024, 1, 9)
    assert (bos.home_score, bos.away_score) == (110, 98)
    lines = _lines(bos)
    assert lines[("close", "spreads", "Boston Celtics")] == (-7.5, None)
    assert lines[("close", "spreads", "Miami Heat")] == (7.5, None)
    assert lines[("close", "totals", "Over")] == (221.5, None)
    assert lines[("close", "h2h", "Boston Celtics")] == (None, -320)
    assert lines[("close", "h2h", "Miami Heat")] == (None, 260)
    nop = _lines(result.games[1])
    assert nop[("close", "spreads", "Golden State Warriors")] == (-2.0, None)  # away favoured
    assert nop[("close", "spreads", "New Orleans Pelicans")] == (2.0, None)
    assert not any(k[1] == "h2h" for k in nop)  # empty moneylines: none stored


def test_parse_sbr_open_close_and_suspect_rows() -> None:
    result = parse_sbr(SBR)
    assert result.skipped == 1
    (game,) = result.games
    assert (game.home_team, game.away_team) == ("Los Angeles Clippers", "Golden State Warriors")
    lines = _lines(game)
    assert lines[("open", "spreads", "Los Angeles Clippers")] == (-5.5, None)
    assert lines[("close", "spreads", "Golden State Warriors")] == (6.0, None)
    assert lines[("open", "totals", "Under")] == (222.0, None)
    assert lines[("close", "totals", "Over")] == (224.5, None)
    assert lines[("close", "h2h", "Los Angeles Clippers")] == (None, -240)
    assert not any(k[0] == "open" and k[1] == "h2h" for k in lines)


def test_eastern_date_and_nominal_tip() -> None:
    # 00:30 UTC on Jan 10 is 19:30 US/Eastern on Jan 9
    assert eastern_date(datetime(2024, 1, 10, 0, 30, tzinfo=UTC)) == date(2024, 1, 9)
    assert nominal_tip_off(date(2024, 1, 9)) == datetime(2024, 1, 10, 0, 0, tzinfo=UTC)
    assert nominal_tip_off(date(2024, 7, 9)) == datetime(2024, 7, 9, 23, 0, tzinfo=UTC)  # EDT


def test_match_by_eastern_date_and_teams_creating_the_rest() -> None:
    games = parse_kaggle(KAGGLE).games
    events = [
        EventKey("ev_bos", "Boston Celtics", "Miami Heat", datetime(2024, 1, 10, 0, 30, tzinfo=UTC)),
        # same teams a day later: not a match
        EventKey("ev_other", "New Orleans Pelicans", "Golden State Warriors", datetime(2024, 1, 11, 1, 0, tzinfo=UTC)),
    ]  # fmt: skip
    result = match_games(games, events, "kaggle")
    assert [(g.home_team, e.id) for g, e in result.matched] == [("Boston Celtics", "ev_bos")]
    (created,) = result.to_create
    assert created[1].id == imported_event_id("kaggle", created[0])
    assert created[1].id.startswith("imp_")
    assert created[1].commence_time == nominal_tip_off(date(2024, 1, 9))
    # deterministic: the same game gets the same id, and a second match finds the created event
    again = match_games(games, [*events, created[1]], "kaggle")
    assert len(again.matched) == 2
    assert not again.to_create


def test_swapped_home_away_matches_and_ambiguity_is_unmatched() -> None:
    games = parse_kaggle(KAGGLE).games[:1]
    tip = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
    swapped = [EventKey("ev_neutral", "Miami Heat", "Boston Celtics", tip)]
    assert match_games(games, swapped, "kaggle").matched[0][1].id == "ev_neutral"
    twice = [
        EventKey("a", "Boston Celtics", "Miami Heat", tip),
        EventKey("b", "Boston Celtics", "Miami Heat", tip),
    ]
    result = match_games(games, twice, "kaggle")
    assert not result.matched
    assert "2 events" in result.unmatched[0]
