"""The spool: a paid response is never lost, and never blocks the ones after it.

Right after a paid call, the response (and the `fetch_logs` rows of the calls that produced it) is written
to `get_settings().spool_dir` atomically (temp file + fsync + rename). Storing it then deletes the file.

- **Claim first.** A run stores an entry only after claiming it by an atomic rename
  (`<name>.claim.<host>.<pid>`); a run that loses the rename (`FileNotFoundError`) leaves the entry to the
  winner. Two runs draining at once therefore never store one entry twice. A claim whose process is gone
  (same host) or that is older than `CLAIM_STALE` goes back to the queue at the next drain.
- **A database outage keeps the queue.** When the database is unreachable (or the failure is one a later
  run clears: deadlock, lock timeout), the entry goes back to the queue and the drain stops; the next run
  stores it first (`drain_spool`).
- **Anything else sets the entry aside.** An entry that cannot be stored for another reason (unreadable
  JSON, a naive or out-of-range time, `days_from` not a number, malformed `fetch_logs`, a payload the
  parser refuses, a value the database refuses) moves to `spool_dir/failed/` with a one-line reason
  (`<name>.reason.txt`) and a `spool_entry_failed` row in `data_quality_logs`; its call's `fetch_logs`
  rows are still written when they are readable (its credits count). The rest of the queue is stored.

Nothing secret is in a spool file: call records never contain the key (see `tasks/http.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NoReturn

from odds_models.clock import SANE_TIMES, now
from odds_models.errors import ConfigError, PayloadError
from odds_models.settings import get_settings
from tasks.retry import is_transient_db_error

__all__ = ["CLAIM_STALE", "DrainResult", "SpoolEntry", "drain_spool", "read_spool_entry", "release_stale_claims",
           "spool_files", "spool_response", "store_spool_entry", "store_spool_file"]  # fmt: skip

log = logging.getLogger(__name__)

SpoolKind = Literal["odds", "event_odds", "historical_odds", "scores"]
_KINDS = ("odds", "event_odds", "historical_odds", "scores")
CLAIM_STALE = timedelta(minutes=30)
_CLAIM = ".claim."
_INT32 = 2**31 - 1


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
    requested_event_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1, "kind": self.kind, "endpoint": self.endpoint, "source": self.source,
            "fetched_at": self.fetched_at.isoformat(),
            "snapshot_time": self.snapshot_time.isoformat() if self.snapshot_time else None,
            "odds_format": self.odds_format, "days_from": self.days_from, "fetch_logs": self.fetch_logs,
            "requested_event_ids": self.requested_event_ids, "data": self.data,
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
    requested_event_ids: Sequence[str] = (),
    directory: Path | None = None,
) -> Path:
    """Write a response to the spool atomically; returns the file's path."""
    folder = _spool_dir(directory)
    folder.mkdir(parents=True, exist_ok=True)
    fetched = now()
    entry = SpoolEntry(kind=kind, endpoint=endpoint, source=source, fetched_at=fetched, data=data,
                       snapshot_time=snapshot_time, odds_format=odds_format, days_from=days_from,
                       fetch_logs=[dict(r) for r in fetch_logs],
                       requested_event_ids=list(requested_event_ids))  # fmt: skip
    name = f"{fetched.strftime('%Y%m%dT%H%M%S%f')}-{kind}-{uuid.uuid4().hex[:8]}.json"
    final = folder / name
    tmp = folder / f".{name}.tmp"
    # json.dumps, not json.dump: the same text, but the C encoder (dump to a file is pure Python, ~10x slower)
    text = json.dumps(entry.to_json(), separators=(",", ":"), default=str)
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(final)
    return final


def spool_files(directory: Path | None = None) -> list[Path]:
    """Spooled responses waiting to be stored, oldest first (claimed ones excluded)."""
    folder = _spool_dir(directory)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if p.is_file())


# -- reading: every field checked, one-line reasons ------------------------------------------------------


def _aware(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not a time string ({type(value).__name__})")
    try:
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{what} is not an ISO 8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} has no time zone: {value[:40]!r}")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{what} is out of range: {value[:40]!r}") from None
    if not SANE_TIMES[0] <= moment < SANE_TIMES[1]:  # a year-1 or year-9999 time, `Z` or not
        raise ValueError(f"{what} is out of range: {value[:40]!r}")
    return moment


def _int_or_none(value: Any, what: str, *, low: int = -_INT32, high: int = _INT32) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{what} is not an integer in [{low}, {high}]: {str(value)[:40]!r}")
    return value


def _check_fetch_log(row: Any, index: int) -> dict[str, Any]:
    """A fetch_logs dict as `fetch_log_dict` writes it, with every column's type checked."""
    what = f"fetch_logs[{index}]"
    if not isinstance(row, dict):
        raise ValueError(f"{what} is not an object")
    for name in ("api", "endpoint"):
        if not isinstance(row.get(name), str):
            raise ValueError(f"{what}.{name} is not a string")
    for name in ("status_code", "cost", "requests_used", "requests_remaining", "requests_last"):
        _int_or_none(row.get(name), f"{what}.{name}")
    _int_or_none(row.get("attempts"), f"{what}.attempts", low=0)
    _int_or_none(row.get("id"), f"{what}.id", low=1, high=2**63 - 1)
    latency = row.get("latency_ms")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, int | float)):
        raise ValueError(f"{what}.latency_ms is not a number")
    for name in ("error", "flow_run_id"):
        if row.get(name) is not None and not isinstance(row.get(name), str):
            raise ValueError(f"{what}.{name} is not a string")
    if row.get("params") is not None and not isinstance(row.get("params"), dict):
        raise ValueError(f"{what}.params is not an object")
    if row.get("created_at") is not None:
        _aware(row["created_at"], f"{what}.created_at")
    return row


def read_spool_entry(path: Path) -> SpoolEntry:
    """Read a spool file; PayloadError (one line) when it is not a valid entry."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        kind = raw["kind"]
        if kind not in _KINDS:
            raise ValueError(f"unknown kind {str(kind)[:40]!r}")
        if not isinstance(raw["endpoint"], str):
            raise ValueError("endpoint is not a string")
        source = raw.get("source") or "live"
        if not isinstance(source, str):
            raise ValueError("source is not a string")
        odds_format = raw.get("odds_format")
        if odds_format not in (None, "decimal", "american"):
            raise ValueError(f"odds_format {str(odds_format)[:40]!r} is neither decimal nor american")
        logs = raw.get("fetch_logs") or []
        if not isinstance(logs, list):
            raise ValueError("fetch_logs is not a list")
        requested = raw.get("requested_event_ids") or []
        if not isinstance(requested, list) or not all(isinstance(i, str) for i in requested):
            raise ValueError("requested_event_ids is not a list of strings")
        return SpoolEntry(
            kind=kind, endpoint=raw["endpoint"], source=source, fetched_at=_aware(raw["fetched_at"], "fetched_at"),
            data=raw["data"],
            snapshot_time=_aware(raw["snapshot_time"], "snapshot_time") if raw.get("snapshot_time") else None,
            odds_format=odds_format, days_from=_int_or_none(raw.get("days_from"), "days_from", low=1, high=3),
            fetch_logs=[_check_fetch_log(r, i) for i, r in enumerate(logs)], requested_event_ids=requested,
        )  # fmt: skip
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
        text = str(exc) if not isinstance(exc, KeyError) else f"missing field {exc}"
        raise PayloadError(
            f"spool file {path.name.split(_CLAIM)[0]}: unreadable ({type(exc).__name__}: {text})".replace(
                "\n", " "
            )[:300]
        ) from None


# -- storing ---------------------------------------------------------------------------------------------


async def store_spool_entry(entry: SpoolEntry) -> dict[str, int]:
    """Store one entry (odds or scores) with its fetch_logs, in one transaction."""
    from tasks.odds_ingest import store_odds_payload, store_scores_payload

    if entry.kind == "scores":
        counts = await store_scores_payload(entry.data, endpoint=entry.endpoint, days_from=entry.days_from,
                                            at=entry.fetched_at, fetch_logs=entry.fetch_logs)  # fmt: skip
        return counts.as_dict()
    stored = await store_odds_payload(
        entry.data, endpoint=entry.endpoint, source=entry.source, snapshot_time=entry.snapshot_time,
        odds_format=entry.odds_format,  # type: ignore[arg-type]
        fetch_logs=entry.fetch_logs,
        requested_event_ids=entry.requested_event_ids if entry.kind == "odds" else (),
        lenient=True,  # a paid response: one malformed event never costs the good ones
    )  # fmt: skip
    return stored.as_dict()


@dataclass
class DrainResult:
    stored: int = 0
    failed: int = 0
    remaining: int = 0
    skipped: int = 0  # claimed by another run at the same time
    counts: dict[str, int] = field(default_factory=dict)


def _original(path: Path) -> Path:
    return path.with_name(path.name.split(_CLAIM)[0])


def _claim(path: Path) -> Path | None:
    """Take `path` for this run by an atomic rename; None when another run took it first."""
    claimed = path.with_name(f"{path.name}{_CLAIM}{socket.gethostname()}.{os.getpid()}")
    try:
        path.rename(claimed)
        os.utime(claimed)  # the claim's age, for `_claim_is_stale`
    except FileNotFoundError:
        return None
    return claimed


def _claim_is_stale(path: Path) -> bool:
    host, _, pid = path.name.split(_CLAIM, 1)[1].rpartition(".")
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return False
    if age > CLAIM_STALE.total_seconds():
        return True
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True  # the claiming process is gone (killed mid-store)
    except OSError:
        return False
    return False


def release_stale_claims(directory: Path | None = None) -> int:
    """Put back in the queue the entries claimed by a process that died (or claimed too long ago)."""
    folder = _spool_dir(directory)
    if not folder.is_dir():
        return 0
    released = 0
    for path in sorted(folder.glob(f"*.json{_CLAIM}*")):
        if _claim_is_stale(path):
            try:
                path.rename(_original(path))
            except FileNotFoundError:
                continue  # another run released it first
            released += 1
    return released


def _quality_row(name: str, reason: str, entry: SpoolEntry | None) -> Any:
    from tasks.storage.quality import QualityRow

    fingerprint = hashlib.sha256(f"spool|{name}|{reason}".encode()).hexdigest()[:40]
    return QualityRow(fingerprint, "error", "spool_entry_failed", "spool", None, None, None,
                      entry.snapshot_time if entry else None, f"{name}: {reason}"[:2000], "rejected")  # fmt: skip


async def _record_failed_entry(name: str, reason: str, entry: SpoolEntry | None) -> None:
    """Best effort: the finding, and (when readable) the entry's fetch_logs and requested games."""
    from odds_models.db import async_session_maker
    from tasks.storage.events import mark_odds_requested
    from tasks.storage.fetch_logs import insert_fetch_logs
    from tasks.storage.quality import insert_quality_rows

    row = _quality_row(name, reason, entry)
    try:
        async with async_session_maker() as session:
            if entry is not None and entry.fetch_logs:
                await insert_fetch_logs(session=session, records=entry.fetch_logs)
            if (
                entry is not None
                and entry.kind == "odds"
                and entry.requested_event_ids
                and entry.snapshot_time
            ):
                await mark_odds_requested(session=session, event_ids=entry.requested_event_ids,
                                          at=entry.snapshot_time)  # fmt: skip
            await insert_quality_rows(session=session, rows=[row])
            await session.commit()
        return
    except Exception as exc:
        log.warning("spool: %s: could not log its calls with the finding (%s); logging the finding alone",
                    name, type(exc).__name__)  # fmt: skip
    try:
        async with async_session_maker() as session:
            await insert_quality_rows(session=session, rows=[row])
            await session.commit()
    except Exception as exc:
        log.warning("spool: %s: could not write its data-quality finding (%s)", name, type(exc).__name__)


def _move_to_failed(claimed: Path, reason: str) -> str:
    name = _original(claimed).name
    failed = claimed.parent / "failed"
    failed.mkdir(exist_ok=True)
    (failed / f"{name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
    claimed.replace(failed / name)
    log.error("spool: %s moved to failed/: %s", name, reason)
    return name


async def _set_aside(claimed: Path, reason: str, entry: SpoolEntry | None) -> None:
    name = _move_to_failed(claimed, reason)
    await _record_failed_entry(name, reason, entry)


async def store_spool_file(path: Path) -> dict[str, int]:
    """Claim, store and delete one spool file.

    - another run holds it: returns `{"claimed_elsewhere": 1}` and touches nothing;
    - the database is unreachable (or the failure is transient): the file goes back to the queue and the
      error is raised;
    - any other failure: the file moves to `failed/` (reason, data-quality row, its fetch_logs) and a
      one-line PayloadError is raised.
    """
    claimed = _claim(path)
    if claimed is None:
        return {"claimed_elsewhere": 1}
    entry: SpoolEntry | None = None
    try:
        entry = read_spool_entry(claimed)
        counts = await store_spool_entry(entry)
    except FileNotFoundError as exc:
        if exc.filename is not None and Path(exc.filename) == claimed:
            return {"claimed_elsewhere": 1}  # released as stale and taken by another run meanwhile
        await _give_up(claimed, exc, entry)
    except Exception as exc:
        # the database is down (or busy), or the settings are wrong: not the entry's fault, keep it queued
        if is_transient_db_error(exc) or isinstance(exc, ConfigError):
            with contextlib.suppress(FileNotFoundError):
                claimed.rename(path)  # back in the queue for the next run
            raise
        await _give_up(claimed, exc, entry)
    claimed.unlink(missing_ok=True)
    return counts


async def _give_up(claimed: Path, exc: BaseException, entry: SpoolEntry | None) -> NoReturn:
    reason = (
        str(exc) if isinstance(exc, PayloadError) else f"could not be stored ({type(exc).__name__}: {exc})"
    )
    reason = " ".join(reason.split())[:300]
    await _set_aside(claimed, reason, entry)
    if isinstance(exc, PayloadError):
        raise exc
    name = _original(claimed).name
    raise PayloadError(f"spool file {name}: {reason}"[:300]) from None


async def drain_spool(directory: Path | None = None) -> DrainResult:
    """Store every spooled response, oldest first. Entries that cannot be stored are set aside and the
    drain goes on; a database outage stops it (the entry in hand and the rest stay queued)."""
    result = DrainResult()
    release_stale_claims(directory)
    files = spool_files(directory)
    for index, path in enumerate(files):
        try:
            counts = await store_spool_file(path)
        except PayloadError:
            result.failed += 1
            continue
        except Exception:
            result.remaining = len(files) - index
            raise
        if counts.get("claimed_elsewhere"):
            result.skipped += 1
            continue
        result.stored += 1
        for key, value in counts.items():
            result.counts[key] = result.counts.get(key, 0) + value
    return result
