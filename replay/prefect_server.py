"""The demo's own Prefect server: launched early, waited for late, one per home and process.

    server = DemoPrefectServer.launch(home)     # returns at once: the server boots in its own process
    ...                                         # meanwhile: the embedded database, the tables, the replay app
    server.wait()                               # healthy (or a clear error), then point Prefect at server.api_url

`odds demo` never writes into the user's Prefect server (a real `clv-recommendations` artifact must never be
replaced by simulated picks): its runs go to a server of its own, SQLite under its own PREFECT_HOME. Booting
that server (importing Prefect's server, running its migrations on a fresh database) is the longest single
step of the demo's start, and it needs none of the demo's own setup, so the demo launches it first
(`odds demo` does so before it even imports the flows) and waits for it only when the first flow runs:
the boot runs on the second core while this process starts the database and the replay app.

This is Prefect's `SubprocessASGIServer` (the temporary server a flow run starts when no API URL is set),
minus two things the demo cannot use: importing Prefect's server package into this process (it only
needs an HTTP client of it) and blocking while the server boots. The command line is Prefect's.

A fresh server runs Prefect's ~110 database migrations on its empty SQLite database, about half of its
boot. The result is the same empty database every time for one Prefect version, so the first demo in an
`ODDS_HOME` keeps a copy of it (`ODDS_HOME/demo/prefect-<version>.db`, taken right after the server first
answered, before any run) and later demos start their server on a copy of that: Prefect still runs
`alembic upgrade head` at its start, which finds nothing to do (and would bring an older copy up to date).
Delete the file to make the next demo migrate from scratch.

Demo-only server settings (`DEMO_SERVER_SETTINGS`, docs/REPLAY.md): the demo's server starts empty and is
thrown away, so it records no task runs or events, evaluates no automations (it has none), registers no
block types (the demo's flows use none) and serves no UI. None of this touches the product's flows, their
retries or a real Prefect server.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar

__all__ = ["DEMO_SERVER_SETTINGS", "DemoPrefectServer", "database_url", "migrated_template"]

DEMO_SERVER_SETTINGS: dict[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_UI_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    # nobody reads the demo server's task runs or events after the demo
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
    # a fresh server has no automations: nothing to trigger, no action to run
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_ACTIONS_ENABLED": "false",
    # the demo's flows use no blocks (results are not persisted; no storage or credentials block)
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
}
# what Prefect's SubprocessASGIServer sets for its temporary server (no UI, ephemeral services only)
_EPHEMERAL = {"PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url(home: Path) -> str:
    """The demo server's database: SQLite in its home (tests read it: `prefect.db`)."""
    return f"sqlite+aiosqlite:///{home / 'prefect.db'}"


def migrated_template() -> Path:
    """Where the demo keeps its copy of a freshly migrated, empty Prefect database (one per Prefect version)."""
    from odds_models.settings import get_settings

    return get_settings().odds_home / "demo" / f"prefect-{version('prefect')}.db"


def _save_template(database: Path, template: Path) -> None:
    """Copy the live, just-migrated database (SQLite's online backup: consistent while the server runs)."""
    template.parent.mkdir(parents=True, exist_ok=True)
    partial = template.with_name(f".{template.name}.{os.getpid()}.tmp")
    try:
        with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(partial)) as target:
            source.backup(target)
        partial.replace(template)  # atomic: a concurrent demo sees the whole copy or none
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


class DemoPrefectServer:
    """A Prefect server process on a free loopback port, for the demo's home `home`."""

    _servers: ClassVar[dict[str, DemoPrefectServer]] = {}

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.launched_at = 0.0
        self.healthy = False
        self.template = migrated_template()
        self.from_template = False  # whether its database started as a copy of the migrated template
        self.fresh = False  # whether it started on no database at all (then it may become the template)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def launch(cls, home: Path) -> DemoPrefectServer:
        """The server of `home` in this process, its process started if it is not yet (returns at once)."""
        key = str(home)
        server = cls._servers.get(key)
        if server is None:
            home.mkdir(parents=True, exist_ok=True)
            server = cls._servers[key] = cls(home)
            database = home / "prefect.db"
            if not database.exists():
                server.fresh = True
                if server.template.is_file():
                    shutil.copyfile(server.template, database)
                    server.from_template = True
            server._start_process()
            atexit.register(server.stop)
        return server

    def environment(self) -> dict[str, str]:
        """The server process's environment: ours (the server reads the Prefect settings files of the working
        directory itself), then the demo's. The user's profile is not read: the home is the demo's."""
        return {
            **os.environ,
            **_EPHEMERAL,
            **DEMO_SERVER_SETTINGS,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": database_url(self.home),
            "PREFECT_API_DATABASE_CONNECTION_URL": database_url(self.home),
        }

    def _start_process(self) -> None:
        import importlib.util

        spec = importlib.util.find_spec("prefect")  # where Prefect is, without importing it (seconds)
        if spec is None or spec.origin is None:
            raise RuntimeError("prefect is not installed")
        self.port = _free_port()
        self.launched_at = time.perf_counter()
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, Prefect's own server command
            [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.origin).parent.parent),
             "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "error", "--lifespan", "on"],
            env=self.environment(),
        )  # fmt: skip

    def wait(self, timeout: float | None = None) -> DemoPrefectServer:
        """Block until the server answers `/health` (relaunched on another port if that one was taken)."""
        import httpx

        if self.healthy:
            return self
        if timeout is None:
            timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 120)
        deadline = time.monotonic() + timeout
        relaunches = 0
        with httpx.Client(timeout=5.0) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:  # it exited: most likely the port was taken meanwhile
                    if relaunches >= 2:
                        raise RuntimeError(
                            f"the demo's Prefect server exited with code {self.process.returncode}"
                        )
                    relaunches += 1
                    self._start_process()
                try:
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        self.healthy = True
                        if self.fresh and not self.from_template and not self.template.exists():
                            with contextlib.suppress(OSError, sqlite3.Error):  # a cache: never fails the demo
                                _save_template(self.home / "prefect.db", self.template)
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the demo's Prefect server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        self.healthy = False
        self._servers.pop(str(self.home), None)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
