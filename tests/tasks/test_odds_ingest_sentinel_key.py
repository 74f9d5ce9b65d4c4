"""A run with a sentinel API key leaves the key nowhere: logs, exceptions, rows, fetch_logs, spool files."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

from odds_models.db import async_session_maker
from odds_models.errors import OddsPipelineError
from odds_models.settings import get_settings
from tasks.odds_ingest import fetch_events, fetch_odds_to_spool, fetch_scores_to_spool, store_events_payload
from tasks.spool import drain_spool
from tests.support.oddsapi_fake import SENTINEL

pytestmark = pytest.mark.db


async def dump_all_tables() -> str:
    """Every row of every table, as text."""
    import odds_models.tables  # noqa: F401

    parts = []
    async with async_session_maker() as session:
        for table in SQLModel.metadata.sorted_tables:
            rows = await session.execute(text(f'SELECT * FROM "{table.name}"'))
            parts.extend(f"{table.name}: {tuple(r)}" for r in rows)
    return "\n".join(parts)


async def test_sentinel_key_appears_nowhere(db: str, fake_api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []

    def echo(request: httpx.Request) -> httpx.Response:  # a server that echoes the URL in its error body
        return httpx.Response(500, text=f"internal error at {request.url}")

    # the happy paths: sync (free), odds (paid), scores (paid)
    await store_events_payload(await fetch_events())
    await fetch_odds_to_spool()
    await fetch_scores_to_spool(days_from=1)
    await drain_spool()
    # the unhappy paths: 5xx echoing the URL, an invalid key echoing it, a transport error naming the URL
    request = httpx.Request("GET", f"https://api.the-odds-api.com/v4/x?apiKey={SENTINEL}")
    fake_api.faults["/odds"] = [echo(request)] * 5 + [
        httpx.Response(401, json={"message": f"key {SENTINEL} is not valid", "error_code": "INVALID_KEY"}),
        httpx.ConnectError(f"cannot reach {request.url}"), httpx.ConnectError(f"cannot reach {request.url}"),
        httpx.ConnectError(f"cannot reach {request.url}"), httpx.ConnectError(f"cannot reach {request.url}"),
        httpx.ConnectError(f"cannot reach {request.url}"),
    ]  # fmt: skip
    for _ in range(3):
        with pytest.raises(OddsPipelineError) as info:
            await fetch_odds_to_spool()
        errors.append(f"{info.value!s} {info.value!r} {getattr(info.value, 'endpoint', '')}")
    assert len(fake_api.requests) > 10
    assert all(r.url.params.get("apiKey") == SENTINEL for r in fake_api.requests)  # the key was really sent

    haystacks = {
        "logs": "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records),
        "exceptions": "\n".join(errors),
        "database": await dump_all_tables(),
        "spool": "\n".join(p.read_text() for p in Path(get_settings().spool_dir).rglob("*") if p.is_file()),  # noqa: ASYNC240
    }
    assert "HTTP Request" in haystacks["logs"]  # httpx logged the requests ...
    assert "fetch_logs" in haystacks["database"]
    for where, text_ in haystacks.items():
        assert SENTINEL not in text_, f"the API key leaked into {where}"
