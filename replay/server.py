"""Run the replay app with uvicorn on a free loopback port, in a background thread of this process.

    with ReplayServer(create_app(source)) as server:
        os.environ.update(server.settings_env(api_key))

Running in-process is the point: the demo's flows and the replay app read the same `FrozenClock`
(`odds_models.clock.use_clock`), so the pipeline and the APIs agree on the simulated time.
The access log is off: Odds API URLs carry the key in the query string.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

__all__ = ["ReplayServer"]


class _QuietInjectedFaults(logging.Filter):
    """Drop uvicorn's traceback for the bodies the fault plan cuts short on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (exc is not None and "Too little data for declared Content-Length" in str(exc))


logging.getLogger("uvicorn.error").addFilter(_QuietInjectedFaults())


class ReplayServer:
    """uvicorn on 127.0.0.1:<port> (a free one by default) in a daemon thread. `url` is set once started."""

    def __init__(
        self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 15.0
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, host=self.host, port=port, log_level="warning", access_log=False, lifespan="off",
            timeout_keep_alive=30,
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="replay-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the replay server did not start")
            time.sleep(0.02)
        self.url = f"http://{self.host}:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def settings_env(self, api_key: str) -> dict[str, str]:
        """The environment that points the pipeline's settings at this server."""
        return {
            "ODDS_API_BASE_URL": f"{self.url}/oddsapi",
            "POLYMARKET_GAMMA_URL": f"{self.url}/gamma",
            "POLYMARKET_CLOB_URL": f"{self.url}/clob",
            "ODDS_API_KEY": api_key,
        }

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
