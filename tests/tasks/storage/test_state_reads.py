"""`read_state_elements` pauses the cyclic garbage collector while the fetched records are alive, and always
restores it; its numbers decode the same whatever the chunking of the payloads (the reads' results themselves
are compared with the per-event read in test_reads_states.py)."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tasks.storage import state_reads
from tasks.storage.state_reads import ASOF_SQL, StateElements, read_state_elements


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


def _array_send(values: list[Any], dtype: str) -> bytes:
    """A one-dimensional, NULL-free array as PostgreSQL's `array_send` writes it: a 20-byte header, then
    (length, value) per element, big-endian."""
    item = np.dtype(dtype)
    body = np.zeros(len(values), dtype=[("length", ">i4"), ("value", item)])
    body["length"] = item.itemsize
    body["value"] = values
    return b"\0" * 20 + body.tobytes()


class _Rows(_Connection):
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.rows = rows

    async def fetch(self, _sql: str, *_args: Any) -> list[Any]:
        return self.rows


def _state_rows(n: int) -> list[tuple[Any, ...]]:
    """`n` states of two h2h prices each, in the shape ASOF_SQL returns them."""
    t = datetime(2030, 1, 1, tzinfo=UTC)
    pg_epoch = datetime(2000, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        seen = int((t - timedelta(minutes=i % 50) - pg_epoch) / timedelta(microseconds=1))
        rows.append((i, f"event{i % 7}", t, 2, "h2h\x1fh2h", f"book{i % 3}\x1fbook{i % 3}", "A\x1fB", "\x1f",
                     _array_send([np.nan, np.nan], ">f8"), _array_send([1.5 + i / 1000, 2.5 - i / 1000], ">f8"),
                     _array_send([-200.0, 150.0], ">f8"), _array_send([True, i % 5 != 0], "?"),
                     _array_send([seen, seen], ">i8"), _array_send([i, i], ">i8")))  # fmt: skip
    return rows


async def test_numbers_joined_in_chunks_decode_as_one_join(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _state_rows(11)

    async def read(chunk: int) -> StateElements:
        monkeypatch.setattr(state_reads, "_NUMBERS_CHUNK", chunk)
        return await read_state_elements(
            _Rows(rows), ASOF_SQL, (), markets=["h2h"], bookmakers=None, max_staleness=timedelta(hours=1)
        )

    whole, chunked = await read(1000), await read(3)
    assert len(whole) == 2 * 11 - 3  # the invalid second prices of states 0, 5 and 10 are dropped
    assert np.array_equal(whole.request_index, chunked.request_index)
    for name in ("point", "price_decimal", "price_american", "snapshot_time", "snapshot_id"):
        assert np.array_equal(whole.columns[name], chunked.columns[name], equal_nan=name == "point"), name
    assert list(chunked.columns["price_decimal"][:3]) == [1.5, 1.501, 2.499]  # state 0: its valid price only


def test_reads_in_two_threads_at_once_restore_the_collector(collector_on: None) -> None:
    both_inside = threading.Barrier(2, timeout=10)
    seen: list[bool] = []

    class _Meeting(_Connection):
        async def fetch(self, _sql: str, *_args: Any) -> list[Any]:
            both_inside.wait()  # both threads are inside their pause here
            seen.append(gc.isenabled())
            both_inside.wait()
            return []

    threads = [threading.Thread(target=lambda: asyncio.run(_read(_Meeting()))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [False, False]
    assert gc.isenabled()
