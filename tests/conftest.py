"""Test configuration shared by every test.

- Prefect runs with telemetry off, no ephemeral server (an accidental engine call fails fast) and the fast
  test-server settings; engine tests opt in with the `prefect_harness` fixture.
- Secrets and production pointers are stripped from the environment for every test.
- Database tests get a session-wide PostgreSQL: embedded by default, `TEST_DATABASE_URL` overrides. The
  suite refuses any database whose name does not end in `_test`.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Must run before prefect is imported; the harness server subprocess inherits os.environ.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_UI_ENABLED", "false")
os.environ.setdefault("PREFECT_HOME", str(Path(tempfile.gettempdir()) / f"odds-test-prefect-{os.getuid()}"))
_TEST_HOME = Path(tempfile.mkdtemp(prefix="odds-test-home-"))
os.environ["ODDS_HOME"] = str(_TEST_HOME)
# No progress lines on stderr (the tests read stderr); tests of progress set ODDS_PROGRESS themselves.
os.environ["ODDS_PROGRESS"] = "off"
# Never let a developer's real settings reach a test.
for _var in ("DATABASE_URL", "ODDS_API_KEY", "PREFECT_API_URL", "PREFECT_API_KEY"):
    os.environ.pop(_var, None)

import pytest  # noqa: E402

from odds_models.testing import assert_connected_to_test_database, prepare_test_database  # noqa: E402

# Fixtures shared by tests of several packages live in `tests/support/` (tests/<package>/ mirrors the source,
# so one area's tests sit in flows/, tasks/ and odds_cli/ alike): registered here, they reach every test.
pytest_plugins = [
    "tests.support.backtest_seed",
    "tests.support.bets_ledger",
    "tests.support.model_market",
    "tests.support.oddsapi_fake",
]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
FIXTURES = SHARED / "fixtures"
DATA = SHARED / "data"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        # every test that touches PostgreSQL carries the `db` mark (CI reruns them on the system server)
        if {"db", "pg_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason="../shared is absent")
    for item in items:
        if "shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    return shared_dir / "fixtures"


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("DATABASE_URL", "ODDS_API_KEY", "PREFECT_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    yield  # noqa: PT022 - keeps monkeypatch's undo after the test


# ------------------------------------------------------------------------------------------------------
# PostgreSQL
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test database URL (asyncpg form), schema created, refusing non-`_test` databases."""
    from odds_models.db import embedded_database_url

    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        # refused before any connection when any database the URL may reach (path, ?database=, ?dbname=,
        # PGDATABASE) does not end in _test; the server is asked again before the tables are dropped
        return prepare_test_database(explicit)
    # one server per checkout: two clones testing at once never truncate each other's tables
    checkout = hashlib.sha1(str(Path(__file__).resolve()).encode(), usedforsecurity=False).hexdigest()[:8]
    pgdata = Path(tempfile.gettempdir()) / f"odds-test-pgdata-{os.getuid()}-{checkout}"
    return prepare_test_database(embedded_database_url(pgdata, database="odds_test"))


@pytest.fixture
async def db(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """An empty test database, with the pipeline's settings pointed at it. Yields the URL."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    from odds_models import db as dbmod
    from odds_models.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", pg_url)
    get_settings.cache_clear()
    await dbmod.dispose_engine()
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with dbmod.get_engine().begin() as conn:
        await assert_connected_to_test_database(conn)
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    yield pg_url
    await dbmod.dispose_engine()
    get_settings.cache_clear()


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Set environment variables, then rebuild settings: `settings_env.setenv("REGIONS", "us,eu")`."""
    from odds_models.settings import get_settings

    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


class OddsCommand:
    """The real `odds` entry point, in-process: `odds_cli.main.main()` with its error policy and its console
    log handler bound to the captured stderr, so `err` is what a user would see, Prefect's logs included."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch, self.capsys = monkeypatch, capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        """`code, out, err = odds("import", "oddsapi", path)`."""
        from odds_cli.main import main
        from odds_models.settings import get_settings

        self.capsys.readouterr()
        self.monkeypatch.setattr(sys, "argv", ["odds", *argv])
        get_settings.cache_clear()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            get_settings.cache_clear()
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def fails(self, code: int, pattern: str, *argv: str) -> str:
        """Run; assert exit `code`, no traceback, and exactly one stderr line `error: ...` matching `pattern`."""
        exit_code, out, err = self(*argv)
        assert "Traceback" not in out + err, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert exit_code == code, f"exit {exit_code}, stderr:\n{err}"
        assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
        assert lines[0].startswith("error: "), lines[0]
        assert re.search(pattern, lines[0]), lines[0]
        return lines[0]


@pytest.fixture
def odds(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> OddsCommand:
    """Run the `odds` command in-process (see `OddsCommand`)."""
    return OddsCommand(monkeypatch, capsys)


# ------------------------------------------------------------------------------------------------------
# Prefect
# ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Opt-in: only engine tests request it, so unit-only runs never start a server."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield
