"""Bad input through the real `odds` entry point, with a database: one line, the right exit code, no traceback,
and nothing partial written. (The cases that need no database are in `tests/odds_cli/test_main_failures.py`.)
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import pytest

from odds_models.db import run_coro_blocking
from odds_models.dburl import with_database

if TYPE_CHECKING:
    from tests.conftest import OddsCommand

pytestmark = pytest.mark.db

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
KAGGLE_HEADER = (
    "date,away,home,whos_favored,spread,total,moneyline_away,moneyline_home,score_away,score_home\n"
)
GOOD_ROW = "10/31/17,bos,cle,home,4.5,216,170,-200,99,102\n"


def _count(table: str) -> int:
    from sqlalchemy import text

    from odds_models.db import async_session_maker, dispose_engine

    async def run() -> int:
        try:
            async with async_session_maker() as session:
                return int((await session.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one())
        finally:
            await dispose_engine()

    return run_coro_blocking(run())


# --- odds import closing-lines -----------------------------------------------------------------------------

CLOSING_CASES = {
    "non-utf8": (KAGGLE_HEADER.encode() + GOOD_ROW.encode() + b"10/31/17,bos,cle,home,4.5,216,\xff170,-200,99,102\n",
                 r"not UTF-8 text \(byte 0xff on line 3\)"),
    "moneyline-int32": ((KAGGLE_HEADER + GOOD_ROW + "11/1/17,bos,cle,home,4.5,216,99999999999,-200,99,102\n").encode(),
                        r"row 2: moneyline_away 99999999999 is out of range"),
    "score-int32": ((KAGGLE_HEADER + GOOD_ROW + "11/1/17,bos,cle,home,4.5,216,170,-200,99,3000000000\n").encode(),
                    r"row 2: score_home 3000000000 is out of range"),
    "5MB-field": ((KAGGLE_HEADER + GOOD_ROW + "11/1/17,bos,cle,home,4.5,216,170,-200,99," + "1" * 5_000_000 + "\n").encode(),
                  r"row 2: field larger than field limit"),
    "wrong-columns": (b"a,b,c\n1,2,3\n", r"not a kaggle file: no column date, away, home \(found a, b, c\)"),
}  # fmt: skip


@pytest.mark.engine
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("case", sorted(CLOSING_CASES))
def test_import_closing_lines_bad_file(case: str, db: str, tmp_path: Path, odds: OddsCommand) -> None:
    blob, pattern = CLOSING_CASES[case]
    path = tmp_path / f"{case}.csv"
    path.write_bytes(blob)
    line = odds.fails(1, pattern, "import", "closing-lines", str(path))
    assert str(path) in line
    # the good first row was not stored either: a file is imported whole or not at all
    assert (_count("events"), _count("closing_lines")) == (0, 0)


# --- odds import oddsapi: the good files are stored, the run still fails -----------------------------------


@pytest.mark.shared
def test_import_oddsapi_stores_the_good_file_and_exits_1(db: str, tmp_path: Path, odds: OddsCommand) -> None:
    good = tmp_path / "good.json"
    good.write_bytes((FIXTURES / "oddsapi_odds_basketball_nba_2023-12-11_bigdataproject.json").read_bytes())
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": ')
    line = odds.fails(1, r"1 of 2 file\(s\) not imported", "import", "oddsapi", str(tmp_path))
    assert "the other 1 were stored" in line
    assert "bad.json: not valid JSON" in line
    assert _count("odds") > 0


# --- odds import polymarket ----------------------------------------------------------------------------------


@pytest.mark.shared
@pytest.mark.parametrize(
    ("old", "new"),
    [("2021-12-04T00:00:00Z", "0001-01-01T00:00:00+05:00"), ("2021-12-04T00:00:00Z", "0001-01-01T00:00:00Z"),
     ("2021-12-04T00:00:00Z", "9999-12-31T00:00:00Z")],
    ids=["year-1-offset", "year-1-Z", "year-9999-Z"],
)  # fmt: skip
def test_import_polymarket_year_one_date_exits_1_and_stores_nothing(
    db: str, tmp_path: Path, odds: OddsCommand, old: str, new: str
) -> None:
    raw = (FIXTURES / "gamma_events_nba_2890-mavs-grizzlies-2021_wom-strategy.json").read_text()
    path = tmp_path / "events.json"
    path.write_text(raw.replace(old, new))
    odds.fails(1, r"events\.json: .*out of range", "import", "polymarket", str(path))
    assert (_count("polymarket_events"), _count("polymarket_markets")) == (0, 0)


@pytest.mark.shared
@pytest.mark.engine
@pytest.mark.usefixtures("prefect_harness")  # `polymarket link` runs the link flow
def test_a_year_one_ticker_does_not_poison_linking(db: str, tmp_path: Path, odds: OddsCommand) -> None:
    raw = json.loads((FIXTURES / "gamma_events_nba_2890-mavs-grizzlies-2021_wom-strategy.json").read_text())
    raw[0]["slug"] = raw[0]["ticker"] = "nba-dal-mem-0001-01-01"
    path = tmp_path / "events.json"
    path.write_text(json.dumps(raw))
    code, _, err = odds("import", "polymarket", str(path))
    assert code == 0, err
    code, out, err = odds("polymarket", "link")  # every discovery links again: it must not crash for good
    assert code == 0, err
    assert "Traceback" not in out + err


# --- settings that reach a real server -------------------------------------------------------------------------


def _with_user(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda url: with_database(url, "odds_no_such_database_test"),
         r'DATABASE_URL.*database "odds_no_such_database_test" does not exist'),
        (lambda url: _with_user(url, "no_such_role"), r'DATABASE_URL.*role "no_such_role" does not exist'),
    ],
    ids=["missing-database", "missing-role"],
)  # fmt: skip
def test_missing_database_or_role_names_the_setting(
    make: Callable[[str], str], pattern: str, pg_url: str, odds: OddsCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", make(pg_url))
    odds.fails(2, pattern, "status", "show")


@pytest.mark.engine
@pytest.mark.usefixtures("prefect_harness")
def test_unreachable_database_fails_before_the_flow_works(
    odds: OddsCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first database use inside a flow: one settings line (exit 2), not a retried connection error."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:9/odds_nowhere_test")
    odds.fails(2, r"DATABASE_URL: cannot connect to .*127\.0\.0\.1:9.*connection refused",
               "backtest", "run", "--strategy", "flat", "--start", "2024-01-01", "--end", "2024-01-02")  # fmt: skip


# --- a database that goes away during the run ------------------------------------------------------------------


class _OneConnectionProxy:
    """A TCP proxy to the test server that forwards its first `serve` connections, then closes its port:
    the settings work when the command starts (its first connection), the database is gone afterwards."""

    def __init__(self, url: str, serve: int = 1) -> None:
        import threading
        from urllib.parse import parse_qsl, urlencode

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        socket_dir = query.pop("host", None)  # the embedded server listens on a Unix socket only
        self.upstream: str | tuple[str, int] = (
            f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir and socket_dir.startswith("/")
            else (parts.hostname or "localhost", parts.port or 5432)
        )  # fmt: skip
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        netloc = f"{parts.netloc.rpartition('@')[0]}@127.0.0.1:{self.port}"
        self.url = urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
        self.serve = serve
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        import threading

        with self.listener:
            for _ in range(self.serve):
                client, _ = self.listener.accept()
                if isinstance(self.upstream, str):
                    upstream = socket.socket(socket.AF_UNIX)
                    upstream.connect(self.upstream)
                else:
                    upstream = socket.create_connection(self.upstream)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
        # leaving the block closed the port: every later connection is refused

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for end in (src, dst):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def test_a_database_gone_during_the_run_is_a_failed_run_not_a_setting(
    db: str, odds: OddsCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings reached the server when the command started (exit 2 is for settings that never worked);
    the server gone afterwards is a failed run: exit 1, one line."""
    proxy = _OneConnectionProxy(db, serve=1)
    monkeypatch.setenv("DATABASE_URL", proxy.url)
    line = odds.fails(1, r"DATABASE_URL \(.*127\.0\.0\.1:\d+.*\): the database became unreachable during the run",
                      "status", "quota", "--json")  # fmt: skip
    assert "stay in the spool" in line
    proxy.thread.join(timeout=5)
    assert not proxy.thread.is_alive()


def test_a_closed_port_at_start_is_still_a_setting(
    pg_url: str, odds: OddsCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same proxy with no connection to serve: the first connection is refused, so the setting is wrong."""
    proxy = _OneConnectionProxy(pg_url, serve=0)
    proxy.thread.join(timeout=5)
    monkeypatch.setenv("DATABASE_URL", proxy.url)
    odds.fails(
        2, r"DATABASE_URL: cannot connect to .*127\.0\.0\.1:\d+.*connection refused", "status", "quota"
    )
