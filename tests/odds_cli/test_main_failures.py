"""Expected failures through the real `odds` entry point: one line on stderr, the right exit code, no traceback.

Exit 2 for bad arguments and settings, 1 for a failed run. These cases need no database and no Prefect
engine (the ones that do are in `tests/odds_cli/test_main_failures_db.py`); every database URL here
points at a closed port, so a command that wrongly got as far as connecting fails differently.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typer

from odds_models.settings import get_settings

if TYPE_CHECKING:
    from tests.conftest import OddsCommand

CLOSED_DB = "postgresql://postgres@127.0.0.1:9/odds_nowhere_test"
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("DATABASE_URL", CLOSED_DB)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


# --- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("postgresql://postgres@127.0.0.1:abc/odds_test", r"DATABASE_URL.*port 'abc' is not a number"),
        ("postgresql://postgres@127.0.0.1:9/odds_test?sslmode=bogus", r"DATABASE_URL.*sslmode 'bogus'"),
        ("postgresql://postgres@127.0.0.1:9/a_test?database=b_test", r"DATABASE_URL.*more than one database"),
        ("postgresql://postgres@127.0.0.1:9/odds_test?timeout=5", r"DATABASE_URL.*unsupported.*timeout"),
        ("postgresql://postgres@127.0.0.1:9/odds_test", r"DATABASE_URL.*127\.0\.0\.1:9.*connection refused"),
        ("postgresql://postgres@no-such-host.invalid/odds_test", r"DATABASE_URL.*unknown host"),
    ],
    ids=["port", "sslmode", "two-databases", "query", "closed-port", "unknown-host"],
)
def test_bad_database_url_names_the_setting(
    value: str, pattern: str, odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    env.setenv("DATABASE_URL", value)
    odds.fails(2, pattern, "status", "show")


@pytest.mark.parametrize("below", ["", "sub/dir"], ids=["a-file", "under-a-file"])
def test_unusable_odds_home_names_the_setting(
    below: str, tmp_path: Path, odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    env.setenv("ODDS_HOME", str(blocker / below) if below else str(blocker))
    odds.fails(2, r"ODDS_HOME.*not-a-folder is not a folder", "status", "show")


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_an_odds_home_where_nothing_can_be_created_names_the_setting(
    odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    """/proc looks writable to root (`os.access`), yet no folder can be made there: one line, not the
    traceback of the embedded server's mkdir."""
    env.delenv("DATABASE_URL")
    env.setenv("ODDS_HOME", "/proc/odds-home")
    odds.fails(2, r"ODDS_HOME.*/proc is not writable, so /proc/odds-home cannot be created", "status", "show")


def test_bad_log_level_names_the_setting(odds: OddsCommand, env: pytest.MonkeyPatch) -> None:
    env.setenv("ODDS_LOG_LEVEL", "loud")
    odds.fails(2, r"ODDS_LOG_LEVEL.*LOUD", "status", "show")


# --- the exit code of `typer.Exit(n)` reaches the shell, for every command ---------------------------------


def test_typer_exit_code_is_not_discarded(odds: OddsCommand) -> None:
    from odds_cli.main import app

    def failing() -> None:
        typer.echo("error: the command says why", err=True)
        raise typer.Exit(3)

    app.command("zz-exit-probe")(failing)
    try:
        odds.fails(3, "says why", "zz-exit-probe")
    finally:
        app.registered_commands.pop()


# --- import oddsapi / polymarket: bad files ---------------------------------------------------------------


def _corrupt_gzip(path: Path) -> Path:
    blob = bytearray(gzip.compress(json.dumps([{"id": str(i) * (i % 7)} for i in range(500)]).encode()))
    for i in range(20, 60):
        blob[i] ^= 0xFF
    path.write_bytes(bytes(blob))
    return path


def test_import_oddsapi_unreadable_file_exits_1(
    tmp_path: Path, odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    bad = _corrupt_gzip(tmp_path / "odds.json.gz")
    line = odds.fails(1, r"PayloadError: 1 of 1 file", "import", "oddsapi", str(bad))
    assert "corrupt or truncated gzip" in line
    assert "nothing was stored" in line


def test_import_oddsapi_gzip_bomb_stops_at_the_cap(
    tmp_path: Path, odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    from tasks.files import MAX_PAYLOAD_BYTES

    bomb = tmp_path / "bomb.json.gz"
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip framing
    chunk = b" " * 2**20
    with bomb.open("wb") as out:
        out.write(packer.compress(b"["))
        for _ in range(MAX_PAYLOAD_BYTES // len(chunk) + 2):
            out.write(packer.compress(chunk))
        out.write(packer.compress(b"]") + packer.flush())
    assert bomb.stat().st_size < 2**20  # a small file that inflates past the cap
    odds.fails(1, r"bomb\.json\.gz: larger than .* once decompressed", "import", "oddsapi", str(bomb))


@pytest.mark.shared
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("2023-12-11T16:57:44Z", "9999-12-31T23:59:59Z"),
        ("2023-12-11T16:57:44Z", "0001-01-01T00:00:00+05:00"),
        ("2023-12-11T16:57:44Z", "0001-01-01T00:00:00Z"),
        ("2023-12-11T16:57:44Z", "1999-12-31T23:59:59Z"),
    ],
    ids=["year-9999", "year-1-offset", "year-1-Z", "year-1999"],
)
def test_import_oddsapi_out_of_range_time_exits_1(
    old: str, new: str, tmp_path: Path, odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    text = (FIXTURES / "oddsapi_odds_basketball_nba_2023-12-11_bigdataproject.json").read_text()
    path = tmp_path / "odds.json"
    path.write_text(text.replace(old, new))
    odds.fails(1, r"PayloadError: 1 of 1 file.*odds\.json", "import", "oddsapi", str(path))


def test_import_polymarket_corrupt_deflate_exits_1(
    tmp_path: Path, odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    bad = _corrupt_gzip(tmp_path / "events.json.gz")
    odds.fails(1, r"events\.json\.gz: corrupt or truncated gzip", "import", "polymarket", str(bad))


# --- backtest arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "param", "pattern"),
    [
        ("flat", "market=bogus", r"market must be one of h2h, spreads, totals"),
        ("basic_ev", "min_edge=abc", r"--param.*min_edge"),
        ("line_shopping", "min_books=many", r"--param.*min_books|many"),
    ],
)
def test_backtest_bad_param_lists_the_valid_values(
    strategy: str, param: str, pattern: str, odds: OddsCommand, env: pytest.MonkeyPatch
) -> None:
    odds.fails(2, pattern, "backtest", "run", "--strategy", strategy, "--start", "2024-01-01", "--end",
               "2024-01-31", "--param", param)  # fmt: skip


def test_unreachable_prefect_api_names_the_setting(odds: OddsCommand, env: pytest.MonkeyPatch) -> None:
    """Not mistaken for the database: the socket error is the Prefect client's."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        odds.fails(2, r"PREFECT_API_URL \(http://127\.0\.0\.1:9/api\): cannot connect",
                   "backtest", "run", "--strategy", "flat", "--start", "2024-01-01", "--end", "2024-01-02")  # fmt: skip


def test_a_local_prefect_server_that_does_not_start_is_one_line() -> None:
    """On an overloaded machine Prefect's ephemeral server can miss its startup timeout: Prefect raises a bare
    RuntimeError (with the server's whole output), which must not reach the user as a traceback."""
    from odds_cli.main import failure_line

    exc = RuntimeError(
        "Timed out while attempting to connect to ephemeral Prefect API server. stdout: INFO ...\nmore output"
    )
    failure = failure_line(exc)
    assert failure is not None
    code, line = failure
    assert code == 1
    assert "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS" in line
    assert "PREFECT_API_URL" in line
    assert failure_line(RuntimeError("something else")) is None  # a bug keeps its traceback


def test_a_database_without_its_schema_is_one_settings_line() -> None:
    """A reachable database with no tables (or behind the migrations): exit 2 naming `odds db upgrade`, the
    way `odds status show` says it, for every command (`odds model list` on a fresh database gave a traceback)."""
    from sqlalchemy.exc import ProgrammingError

    from odds_cli.main import failure_line

    class UndefinedTableError(Exception):  # what asyncpg raises, as the driver's exception in SQLAlchemy's
        sqlstate = "42P01"

    driver = UndefinedTableError('relation "models" does not exist')
    wrapped = ProgrammingError("SELECT ... FROM models", {}, driver)
    code, line = failure_line(wrapped)  # type: ignore[misc]
    assert code == 2
    assert "odds db upgrade" in line
    assert "\n" not in line
    assert (
        failure_line(ProgrammingError("SELECT 1", {}, Exception("syntax error"))) is None
    )  # a bug stays a bug
