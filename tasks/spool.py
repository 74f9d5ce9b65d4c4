"""The spool: a paid response is never lost.

Right after a paid call, the response (and the `fetch_logs` rows of the calls that produced it) is written
to `get_settings().spool_dir` atomically (temp file + fsync + rename). Storing it then deletes the file.
If the database is unreachable, the file stays and the next run stores it first (`drain_spool`). Files
that no longer parse are moved to `spool_dir/failed/` with the reason, so they never block the queue.

Nothing secret is in a spool file: call records never contain the key (see `tasks/http.py`).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from odds_models.clock import now
from odds_models.errors import PayloadError
from odds_models.settings import get_settings

__all__ = ["DrainResult", "SpoolEntry", "drain_spool", "read_spool_entry", "spool_files", "spool_response",
           "store_spool_entry"]  # fmt: skip

log = logging.getLogger(__name__)

SpoolKind = Literal["odds", "event_odds", "historical_odds", "scores"]


@dataclass
class SpoolEntry:
    kind: SpoolKind
    endpoint: str
    source: str
    fetched_at: datetime
    data: Any
    snapshot_time: datetime | None = None
    odds_format: str | None = None
    days_from: int | None = None
    fetch_logs: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1, "kind": self.kind, "endpoint": self.endpoint, "source": self.source,
            "fetched_at": self.fetched_at.isoformat(),
            "snapshot_time": self.snapshot_time.isoformat() if self.snapshot_time else None,
            "odds_format": self.odds_format, "days_from": self.days_from, "fetch_logs": self.fetch_logs,
            "data": self.data,
        }  # fmt: skip


def _spool_dir(directory: Path | None) -> Path:
    return directory or get_settings().spool_dir


def spool_response(
    *,
    kind: SpoolKind,
    endpoint: str,
    data: Any,
    source: str = "live",
    snapshot_time: datetime | None = None,
    odds_format: str | None = None,
    days_from: int | None = None,
    fetch_logs: Sequence[Mapping[str, Any]] = (),
    directory: Path | None = None,
) -> Path:
    """Write a response to the spool atomically; returns the file's path."""
    folder = _spool_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    fetched = now()
    entry = SpoolEntry(kind=kind, endpoint=endpoint, source=source, fetched_at=fetched, data=data,
                       snapshot_time=snapshot_time, odds_format=odds_format, days_from=days_from,
                       fetch_logs=[dict(r) for r in fetch_logs])  # fmt: skip
    name = f"{fetched.strftime('%Y%m%dT%H%M%S%f')}-{kind}-{uuid.uuid4().hex[:8]}.json"
    final = folder / name
    tmp = folder / f".{name}.tmp"
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(entry.to_json(), fh, separators=(",", ":"), default=str)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(final)
    return final


def spool_files(directory: Path | None = None) -> list[Path]:
    """Spooled responses waiting to be stored, oldest first."""
    folder = _spool_dir(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def read_spool_entry(path: Path) -> SpoolEntry:
    """Read a spool file; PayloadError when it is not a valid entry."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        kind = raw["kind"]
        if kind not in ("odds", "event_odds", "historical_odds", "scores"):
            raise ValueError(f"unknown kind {kind!r}")
        return SpoolEntry(
            kind=kind, endpoint=str(raw["endpoint"]), source=str(raw.get("source") or "live"),
            fetched_at=datetime.fromisoformat(raw["fetched_at"]), data=raw["data"],
            snapshot_time=datetime.fromisoformat(raw["snapshot_time"]) if raw.get("snapshot_time") else None,
            odds_format=raw.get("odds_format"), days_from=raw.get("days_from"),
            fetch_logs=list(raw.get("fetch_logs") or []),
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PayloadError(
            f"spool file {path.name}: unreadable ({type(exc).__name__}: {exc})"[:300]
        ) from None


async def store_spool_entry(entry: SpoolEntry) -> dict[str, int]:
    """Store one entry (odds or scores) with its fetch_logs, in one transaction."""
    if entry.kind == "scores":
        from tasks.storage.scores import store_scores_payload

        counts = await store_scores_payload(entry.data, endpoint=entry.endpoint, days_from=entry.days_from,
                                            at=entry.fetched_at, fetch_logs=entry.fetch_logs)  # fmt: skip
        return counts.as_dict()
    from tasks.storage.odds import store_odds_payload

    stored = await store_odds_payload(
        entry.data, endpoint=entry.endpoint, source=entry.source, snapshot_time=entry.snapshot_time,
        odds_format=entry.odds_format,  # type: ignore[arg-type]
        fetch_logs=entry.fetch_logs,
    )  # fmt: skip
    return stored.as_dict()


@dataclass
class DrainResult:
    stored: int = 0
    failed: int = 0
    remaining: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def _set_aside(path: Path, reason: str) -> None:
    failed = path.parent / "failed"
    failed.mkdir(exist_ok=True)
    path.replace(failed / path.name)
    (failed / f"{path.name}.reason.txt").write_text(reason, encoding="utf-8")


async def store_spool_file(path: Path) -> dict[str, int]:
    """Store one spool file and delete it. A malformed file moves to `failed/` and raises PayloadError."""
    try:
        entry = read_spool_entry(path)
        counts = await store_spool_entry(entry)
    except PayloadError as exc:
        _set_aside(path, str(exc))
        raise
    os.unlink(path)  # noqa: PTH108 - one small local file; stored, so it must go
    return counts


async def drain_spool(directory: Path | None = None) -> DrainResult:
    """Store every spooled response, oldest first. A database error stops the drain (files stay)."""
    result = DrainResult()
    files = spool_files(directory)
    for index, path in enumerate(files):
        try:
            counts = await store_spool_file(path)
        except PayloadError as exc:
            log.error("spool: %s moved to failed/: %s", path.name, exc)
            result.failed += 1
            continue
        except Exception:
            result.remaining = len(files) - index
            raise
        result.stored += 1
        for key, value in counts.items():
            result.counts[key] = result.counts.get(key, 0) + value
    return result
