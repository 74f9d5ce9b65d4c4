from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from odds_models import clock
from odds_models.teams import TEAMS, resolve_team


def test_thirty_teams_with_unique_names_and_codes() -> None:
    assert len(TEAMS) == 30
    assert len({t.name for t in TEAMS}) == 30
    assert len({t.kaggle for t in TEAMS}) == 30
    codes = [c for t in TEAMS for c in t.polymarket]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("LA Clippers", "Los Angeles Clippers"),
        ("gs", "Golden State Warriors"),
        ("GoldenState", "Golden State Warriors"),
        ("76ers", "Philadelphia 76ers"),
        ("wsh", "Washington Wizards"),
        ("NewJersey", "Brooklyn Nets"),
        ("Trail Blazers", "Portland Trail Blazers"),
        ("utah", "Utah Jazz"),
    ],
)
def test_resolve_team_variants(text: str, name: str) -> None:
    team = resolve_team(text)
    assert team is not None
    assert team.name == name


def test_unknown_team_is_none() -> None:
    assert resolve_team("Seattle Kraken") is None


def test_clock_injection_and_restore() -> None:
    start = datetime(2024, 1, 1, 12, tzinfo=UTC)
    fake = clock.FrozenClock(start)
    with clock.use_clock(fake):
        assert clock.now() == start
        fake.advance(minutes=30)
        assert clock.now() == start + timedelta(minutes=30)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(ValueError, match="aware"):
        clock.FrozenClock(datetime(2024, 1, 1))  # noqa: DTZ001 - the point of the test


def test_installed_clock_is_public_and_restored() -> None:
    before = clock.installed_clock()
    outer, inner = (
        clock.FrozenClock(datetime(2024, 1, 1, tzinfo=UTC)),
        clock.FrozenClock(datetime(2025, 1, 1, tzinfo=UTC)),
    )
    with clock.use_clock(outer):
        assert clock.installed_clock() is outer
        with clock.use_clock(inner):
            assert clock.installed_clock() is inner
        assert clock.installed_clock() is outer
    assert clock.installed_clock() is before
