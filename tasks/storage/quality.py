"""Writing `data_quality_logs`: one row per finding, deduplicated by fingerprint (re-validating is a no-op)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.validation import OddsFinding

__all__ = ["QualityRow", "insert_quality_rows", "quality_rows"]


@dataclass(frozen=True)
class QualityRow:
    fingerprint: str
    severity: str
    check_type: str
    source: str
    event_id: str | None
    bookmaker: str | None
    market: str | None
    snapshot_time: datetime | None
    detail: str
    action: str


def quality_rows(
    findings: Sequence[OddsFinding], *, source: str, snapshot_time: datetime | None, reject_invalid: bool
) -> list[QualityRow]:
    """Findings → rows; `action` says whether the affected odds rows were kept or rejected."""
    rows = []
    for f in findings:
        action = "rejected" if f.dropped or (reject_invalid and f.rows) else "kept"
        rows.append(QualityRow(f.fingerprint(source=source, snapshot_time=snapshot_time), f.severity,
                               f.check_type, source, f.event_id, f.bookmaker, f.market, snapshot_time,
                               f.detail[:2000], action))  # fmt: skip
    return rows


async def insert_quality_rows(*, session: AsyncSession, rows: Sequence[QualityRow]) -> int:
    """Insert findings (ON CONFLICT (fingerprint) DO NOTHING); returns how many were new. Caller commits."""
    unique = {r.fingerprint: r for r in rows}
    if not unique:
        return 0
    ordered = [unique[k] for k in sorted(unique)]
    result = await session.execute(
        text(
            """
            INSERT INTO data_quality_logs (fingerprint, severity, check_type, source, event_id, bookmaker,
                                           market, snapshot_time, detail, action, created_at)
            SELECT u.*, now() FROM unnest(
                CAST(:fp AS text[]), CAST(:sev AS text[]), CAST(:chk AS text[]), CAST(:src AS text[]),
                CAST(:ev AS text[]), CAST(:book AS text[]), CAST(:mkt AS text[]),
                CAST(:ts AS timestamptz[]), CAST(:detail AS text[]), CAST(:action AS text[])
            ) AS u
            ON CONFLICT (fingerprint) DO NOTHING
            """
        ),
        {
            "fp": [r.fingerprint for r in ordered],
            "sev": [r.severity for r in ordered],
            "chk": [r.check_type for r in ordered],
            "src": [r.source for r in ordered],
            "ev": [r.event_id for r in ordered],
            "book": [r.bookmaker for r in ordered],
            "mkt": [r.market for r in ordered],
            "ts": [r.snapshot_time for r in ordered],
            "detail": [r.detail for r in ordered],
            "action": [r.action for r in ordered],
        },
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
