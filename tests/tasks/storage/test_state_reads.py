"""`read_state_elements` pauses the cyclic garbage collector while the fetched records are alive, and always
restores it (the reads' results themselves are compared with the per-event read in test_reads_states.py)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from tasks.storage.state_reads import ASOF_SQL, read_state_elements


class _Connection:
    """Stands in for an asyncpg connection: `fetch` notes whether the collector ran, then returns no rows."""

    def __init__(self, release: asyncio.Event | None = None, error: Exception | None = None) -> None:
        self.release = release
        self.error = error
        self.gc_enabled_during_fetch: bool | None = None

    async def fetch(self, _sql: str, *_args: Any) -> list[Any]:
        self.gc_enabled_during_fetch = gc.isenabled()
        if self.release is not None:
            await self.release.wait()
        if self.error is not None:
            raise self.error
        return []


async def _read(connection: _Connection) -> int:
    elements = await read_state_elements(
        connection, ASOF_SQL, ([], [], None), markets=["h2h"], bookmakers=None, max_staleness=None
    )
    return len(elements)


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


async def test_the_collector_is_paused_during_the_read_and_restored_after(collector_on: None) -> None:
    connection = _Connection()
    assert await _read(connection) == 0
    assert connection.gc_enabled_during_fetch is False
    assert gc.isenabled()


async def test_the_collector_is_restored_when_the_fetch_fails(collector_on: None) -> None:
    connection = _Connection(error=RuntimeError("connection lost"))
    with pytest.raises(RuntimeError, match="connection lost"):
        await _read(connection)
    assert gc.isenabled()


async def test_concurrent_reads_keep_it_paused_until_the_last_one_ends(collector_on: None) -> None:
    first, second = asyncio.Event(), asyncio.Event()
    a, b = _Connection(first), _Connection(second)
    task_a = asyncio.ensure_future(_read(a))
    task_b = asyncio.ensure_future(_read(b))
    await asyncio.sleep(0)
    first.set()
    await task_a
    assert not gc.isenabled()  # the second read's records are still alive
    second.set()
    await task_b
    assert a.gc_enabled_during_fetch is False
    assert b.gc_enabled_during_fetch is False
    assert gc.isenabled()


async def test_a_collector_the_caller_disabled_stays_disabled(collector_on: None) -> None:
    gc.disable()
    await _read(_Connection())
    assert not gc.isenabled()
