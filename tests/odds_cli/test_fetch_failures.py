"""Expected fetch failures through `odds fetch current`: one line, exit 1, no Prefect traceback first.

The flows run on the test Prefect server, in-process, so the failed task and flow runs log what they log
in production; `err` is the console a user would see.
"""

from __future__ import annotations

import httpx
import pytest

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]


def _error(code: int, body: dict[str, str]) -> httpx.Response:
    return httpx.Response(code, json=body, headers={"Retry-After": "0"})


@pytest.mark.parametrize(
    ("path", "faults", "pattern"),
    [
        ("/events", [_error(401, {"message": "API key is not valid", "error_code": "INVALID_KEY"})],
         r"AuthRejected: .*INVALID_KEY.*ODDS_API_KEY"),
        ("/odds", [_error(422, {"message": "Invalid markets", "error_code": "INVALID_MARKET"})],
         r"BadRequest: .*/odds.*422"),
        ("/odds", [_error(429, {"message": "Too many requests"})] * 10, r"RateLimited: .*/odds.*429"),
    ],
    ids=["401", "422", "429-after-retries"],
)  # fmt: skip
def test_fetch_failure_is_one_line(
    path: str, faults: list[httpx.Response], pattern: str, db: str, fake_api, odds
) -> None:
    fake_api.faults[path] = list(faults)
    odds.fails(1, pattern, "fetch", "current", "--force")
    assert fake_api.requests, "the fake API was never called"


def test_declined_backfill_exits_1_and_spends_nothing(
    db: str, fake_api, clock, odds, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fetch backfill` raised `typer.Exit(1)` when the plan was declined, and the code was discarded (exit 0)."""
    import io
    from datetime import timedelta

    code, _, err = odds("fetch", "events")
    assert code == 0, err
    clock.advance(timedelta(days=3))  # the three games are now in the past, with no snapshot
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    code, out, err = odds("fetch", "backfill", "--start", "2030-01-10", "--end", "2030-01-12")
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in out + err, err
    assert code == 1, out + err
    assert lines == ["error: not confirmed; nothing was spent"], err
    assert "credits" in out  # the plan was shown first
    assert not [r for r in fake_api.requests if "/historical/" in r.url.path]
