"""Importing saved Odds API responses: `/odds`, `/events/{id}/odds`, the historical wrapper, `/events`.

Files are `.json` or `.json.gz`; folders are walked recursively. A historical file's snapshot time is its
`timestamp` (source `historical`, so a later backfill of the same moment adds nothing); a plain `/odds` or
event-odds file's snapshot time is its latest `last_update` (source `import:odds` / `import:event_odds`).
Rows are written in batches through the bulk writer, so importing the same files twice adds nothing. A
file that does not parse is reported (with the reason) and skipped whole; the others are stored.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odds_analytics.oddsapi import (
    IMPORT_SOURCES,
    detect_payload_kind,
    parse_events_payload,
    parse_odds_payload,
)
from odds_analytics.tiers import TierSpec
from odds_models import progress
from odds_models.errors import PayloadError
from tasks.files import read_payload_file
from tasks.import_fast import parse_odds_file_fast
from tasks.storage.events import EventRecord
from tasks.storage.odds import SnapshotItem, StoreCounts, build_snapshot_items, write_snapshots

__all__ = [
    "IMPORT_WRITERS",
    "ImportSummary",
    "import_oddsapi_paths",
    "iter_payload_files",
    "read_payload_file",
]

IMPORT_WRITERS = 2  # the database does most of a batch's work: two connections keep two cores busy


def iter_payload_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every `.json` / `.json.gz` file under `paths` (files or folders, recursively), sorted."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.update(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz")))
        elif path.is_file():
            found.add(path)
        else:
            raise PayloadError(f"{path}: no such file or folder")
    return sorted(found)


@dataclass
class ImportSummary:
    """Counts of an import. `*_in_files` are what the files hold; the others what this run added."""

    files: int = 0
    files_failed: int = 0
    events: int = 0
    events_new: int = 0
    snapshots: int = 0
    snapshots_in_files: int = 0
    odds_rows: int = 0
    odds_rows_in_files: int = 0
    odds_rejected: int = 0
    quality_issues: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def parse_payload_file(
    path: Path, spec: TierSpec, *, fast: bool = False
) -> tuple[list[SnapshotItem], list[EventRecord]]:
    """Parse one file into snapshot items (odds) or event records (events files). PayloadError if bad.

    `fast=True` (the import) parses an odds file with `tasks.import_fast.parse_odds_file_fast`: the same
    items, findings and errors, clean events as binary COPY rows."""
    data = read_payload_file(path)
    where = str(path)
    try:
        kind = detect_payload_kind(data, endpoint=where)
        if kind in ("events", "historical_events"):
            events = parse_events_payload(data, endpoint=where)
            return [], [EventRecord(id=e.id, home_team=e.home_team, away_team=e.away_team,
                                    commence_time=e.commence_time, sport_key=e.sport_key) for e in events]  # fmt: skip
        if fast:
            items = parse_odds_file_fast(data, where=where, spec=spec)
        else:
            parsed = parse_odds_payload(data, endpoint=where)
            items = build_snapshot_items(parsed, source=IMPORT_SOURCES[kind], snapshot_time=None, spec=spec)
    except (OverflowError, ValueError) as exc:
        # a time at the edge of the calendar (year 1, 9999) overflows the tier and validation arithmetic;
        # the file is refused here, whole, like any other malformed payload
        raise PayloadError(f"{where}: {type(exc).__name__}: {exc}"[:300], endpoint=where) from None
    return items, []


@dataclass
class _ParsedBatch:
    """The next files' snapshot items and events (at least `batch_rows` odds rows, or the last files)."""

    items: list[SnapshotItem] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows: int = 0


class _BatchParser:
    """Parses the files in order, one batch per `next()` call (run in a worker thread).

    A batch ends once it holds `batch_rows` odds rows *and* the next file shares no game with it (or at twice
    `batch_rows`, whatever the next file holds): batches written side by side then touch different games, so
    the writers do not queue on the same game rows and `odds_states` locks.
    """

    def __init__(
        self,
        files: Sequence[Path],
        spec: TierSpec,
        batch_rows: int,
        on_file: Callable[[str], None] | None = None,
    ) -> None:
        self._files = iter(files)
        self._spec = spec
        self._batch_rows = batch_rows
        self._on_file = on_file  # progress: called with each file's name once it is read
        self._carried: tuple[list[SnapshotItem], list[EventRecord]] | None = None  # read, for the next batch

    def next(self) -> _ParsedBatch | None:
        batch = _ParsedBatch()
        games: set[str] = set()
        parsed_any = False
        if self._carried is not None:
            parsed_any = True
            self._add(batch, games, *self._carried)
            self._carried = None
        for path in self._files:
            parsed_any = True
            if self._on_file is not None:
                self._on_file(path.name)
            try:
                items, events = parse_payload_file(path, self._spec, fast=True)
            except PayloadError as exc:
                batch.errors.append(str(exc))
                continue
            if batch.rows >= self._batch_rows and (
                batch.rows >= 2 * self._batch_rows
                or games.isdisjoint([it.event.id for it in items] + [e.id for e in events])
            ):
                self._carried = (items, events)
                break
            self._add(batch, games, items, events)
        return batch if parsed_any else None

    @staticmethod
    def _add(
        batch: _ParsedBatch, games: set[str], items: list[SnapshotItem], events: list[EventRecord]
    ) -> None:
        batch.items.extend(items)
        batch.events.extend(events)
        batch.rows += sum(it.row_count for it in items)
        games.update(it.event.id for it in items)
        games.update(e.id for e in events)


async def import_oddsapi_paths(
    paths: Sequence[str | Path],
    *,
    reject_invalid: bool | None = None,
    batch_rows: int = 60_000,
    writers: int = IMPORT_WRITERS,
) -> ImportSummary:
    """Import every payload file under `paths`; returns counts (a second run adds zeros).

    A pipeline: a worker thread parses the files in order into batches of about `batch_rows` odds rows, and
    `writers` connections write the batches as they come, one transaction per batch, while the next ones are
    parsed. A batch ends where the next file shares no game with it, so batches written side by side rarely
    wait on each other; each stores its odds with `copy_odds_bulk` (no per-row checks, one states refresh).
    Batches may commit out of file order (each is whole, and a repeat adds nothing). Writers never deadlock:
    every lock class is taken in one order (event rows by id, snapshot keys sorted, the `odds_states`
    advisory locks by event), so two batches of the same game queue, and the states come out as if written
    one after the other (see `odds_models.odds_states`).
    """
    from odds_models.db import async_session_maker
    from odds_models.settings import get_settings
    from tasks.storage.events import upsert_events

    settings = get_settings()
    reject = settings.reject_invalid_odds if reject_invalid is None else reject_invalid
    spec = TierSpec.from_settings(settings)
    summary = ImportSummary()
    files = iter_payload_files(paths)
    summary.files = len(files)
    event_ids: set[str] = set()
    totals = StoreCounts()

    async def write(batch: _ParsedBatch) -> None:
        if not batch.items and not batch.events:
            return
        async with async_session_maker() as session:
            if batch.events:
                counts = await upsert_events(session=session, events=batch.events)
                totals.events_new += counts.inserted
            totals.add(await write_snapshots(session=session, items=batch.items, reject_invalid=reject,
                                              bulk=True))  # fmt: skip
            await session.commit()

    # The parsed JSON is millions of short-lived dicts and lists: with the cyclic garbage collector on,
    # its full passes over them cost 1.3 s of the three seasons' 4.3 s of Python CPU (measured with
    # `time.thread_time` around the parser). Nothing here makes reference cycles that need it; it is
    # switched back on (if it was on) when the import ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        await _run_pipeline(files, spec=spec, batch_rows=batch_rows, writers=writers, write=write, summary=summary,
                            event_ids=event_ids)  # fmt: skip
    finally:
        if collecting:
            gc.enable()
    summary.events = len(event_ids)
    summary.events_new = totals.events_new
    summary.snapshots = totals.snapshots
    summary.odds_rows = totals.odds_rows
    summary.odds_rejected = totals.odds_rejected
    summary.quality_issues = totals.quality_issues
    return summary


async def _run_pipeline(
    files: Sequence[Path],
    *,
    spec: TierSpec,
    batch_rows: int,
    writers: int,
    write: Callable[[_ParsedBatch], Awaitable[None]],
    summary: ImportSummary,
    event_ids: set[str],
) -> None:
    """Parse the files in a worker thread, batch by batch, while `writers` tasks write the batches."""
    with progress.step("import oddsapi", total=len(files), unit="files") as shown:
        # counted when read; rows are stored in batches of `batch_rows`
        parser = _BatchParser(files, spec, batch_rows, on_file=shown.advance)
        queue: asyncio.Queue[_ParsedBatch | None] = asyncio.Queue(maxsize=1)

        async def produce() -> None:
            while (batch := await asyncio.to_thread(parser.next)) is not None:
                summary.files_failed += len(batch.errors)
                summary.errors.extend(batch.errors)
                event_ids.update(it.event.id for it in batch.items)
                event_ids.update(e.id for e in batch.events)
                summary.snapshots_in_files += len(batch.items)
                summary.odds_rows_in_files += batch.rows
                await queue.put(batch)
            for _ in range(writers):
                await queue.put(None)

        async def consume() -> None:
            while (batch := await queue.get()) is not None:
                await write(batch)

        tasks = [
            asyncio.ensure_future(produce()),
            *(asyncio.ensure_future(consume()) for _ in range(writers)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # the first failure, as it was raised (the CLI reports it in one line)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
