"""`odds replay serve`: the stand-in APIs on their own, reachable by any client, stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _read_json_document(process: subprocess.Popen[str], timeout: float) -> dict:
    """The first JSON document the command prints (indented over several lines)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            if process.poll() is not None:
                raise AssertionError(f"exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
            continue
        text += line
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            continue
    raise AssertionError(f"no JSON within {timeout} s: {text!r}")


@pytest.mark.slow
def test_serve_answers_like_the_apis_then_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from odds_cli.main import main; main()", "replay", "serve", "--port", "0",
         "--days", "1", "--seed", "11", "--json"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        info = _read_json_document(process, timeout=240)
        assert info["url"].startswith("http://127.0.0.1:")
        assert info["env"]["ODDS_API_BASE_URL"] == info["url"] + "/oddsapi"
        assert info["start"] == datetime.now(UTC).date().isoformat()
        assert info["games"] > 0
        events = httpx.get(
            f"{info['env']['ODDS_API_BASE_URL']}/v4/sports/basketball_nba/events",
            params={"apiKey": info["env"]["ODDS_API_KEY"]},
            timeout=30,
        )
        assert events.status_code == 200
        assert len(events.json()) >= info["games"]  # the span's games (and the listings around it)
        assert httpx.get(f"{info['env']['ODDS_API_BASE_URL']}/v4/sports", params={"apiKey": "wrong"},
                         timeout=30).status_code == 401  # fmt: skip
        stats = httpx.get(info["stats"], timeout=30).json()
        assert stats["calls"]["oddsapi"] >= 1
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
    assert code == 0, process.stderr.read()  # type: ignore[union-attr]


def test_a_port_in_use_is_one_line_exit_2(odds: object) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        odds.fails(2, r"--port.*cannot listen on 127\.0\.0\.1", "replay", "serve", "--port", str(port))  # type: ignore[attr-defined]
