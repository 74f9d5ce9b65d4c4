"""The test guard resolves the database the driver will really open (path, query, PGDATABASE, user name).

No server is needed: every URL here points at a closed port, so a guard that let one through would fail
with a connection error instead of `UnsafeDatabaseError`.
"""

from __future__ import annotations

import pytest

from odds_models.dburl import database_name, database_names, normalise_database_url, with_database
from odds_models.errors import UnsafeDatabaseError
from odds_models.testing import assert_test_database, prepare_test_database

CLOSED = "postgresql://postgres@127.0.0.1:9"


@pytest.fixture(autouse=True)
def _no_libpq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PGDATABASE", "PGUSER", "PGSERVICE", "PGSERVICEFILE", "PGHOST", "PGPORT"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("url", "env", "reached"),
    [
        (f"{CLOSED}/decoy_test?database=prod", {}, "prod"),
        (f"{CLOSED}/decoy_test?dbname=prod", {}, "prod"),
        ("postgresql+asyncpg://postgres@127.0.0.1:9/decoy_test?database=prod", {}, "prod"),
        (f"{CLOSED}/?database=prod", {}, "prod"),
        (f"{CLOSED}", {"PGDATABASE": "prod"}, "prod"),
        (f"{CLOSED}/", {"PGDATABASE": "prod"}, "prod"),
        ("postgresql://prod@127.0.0.1:9", {}, "prod"),  # no database anywhere: the user name
        (f"{CLOSED}/odds", {}, "odds"),
    ],
)
def test_guard_refuses_every_route_to_another_database(
    url: str, env: dict[str, str], reached: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert reached in database_names(url)
    with pytest.raises(UnsafeDatabaseError, match=repr(reached)):
        assert_test_database(url)
    with pytest.raises(UnsafeDatabaseError, match=repr(reached)):
        prepare_test_database(url)  # refused before connecting: the port is closed


@pytest.mark.parametrize(
    ("url", "env"),
    [
        (f"{CLOSED}/odds_test", {}),
        (f"{CLOSED}/?database=odds_test", {}),
        (f"{CLOSED}/odds_test?database=odds_test", {}),
        (f"{CLOSED}", {"PGDATABASE": "odds_test"}),
        ("postgresql://postgres:@/odds_test?host=/tmp/some socket", {}),
    ],
)
def test_guard_accepts_test_databases(url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert_test_database(url)
    assert database_name(normalise_database_url(url)) == "odds_test"


def test_engine_follows_the_query_over_the_path() -> None:
    # what SQLAlchemy's asyncpg dialect really does: ?database= overrides the path
    assert database_name("postgresql+asyncpg://u@127.0.0.1:9/decoy_test?database=prod") == "prod"


def test_a_url_naming_two_databases_is_not_a_setting() -> None:
    with pytest.raises(ValueError, match="more than one database"):
        normalise_database_url(f"{CLOSED}/decoy_test?database=prod")
    assert (
        normalise_database_url(f"{CLOSED}/?dbname=odds_test")
        == "postgresql+asyncpg://postgres@127.0.0.1:9/odds_test"
    )


def test_with_database_drops_the_query_name() -> None:
    url = with_database(f"{CLOSED}/odds_test?database=odds_test&ssl=disable", "other_test")
    assert database_names(url) == {"other_test"}
    assert url.endswith("/other_test?ssl=disable")
