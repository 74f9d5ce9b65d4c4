"""Writing `fetch_logs`: one row per API call (endpoint, params without the key, cost, quota, latency, error).

`CallRecord`s come from `tasks.http.ApiClient` (the key is never in them); `fetch_log_dict()` turns one into
a JSON-able dict so it can travel in the spool with a paid response and be written later. A dict with an
`id` settles that credit reservation (`tasks.credits`) in place: writing it twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.quota import quota_from_headers
from odds_models.clock import now
from odds_models.errors import redact
from tasks.http import CallRecord

__all__ = ["fetch_log_dict", "insert_fetch_logs", "quota_overview", "store_fetch_logs"]

_KEEP_HEADERS = ("x-requests-remaining", "x-requests-used", "x-requests-last")


def _current_flow_run_id() -> str | None:
    try:
        from prefect.runtime import flow_run

        run_id = flow_run.id
    except Exception:
        return None
    return str(run_id) if run_id else None


def fetch_log_dict(
    record: CallRecord | Mapping[str, Any],
    *,
    secrets: tuple[str, ...] = (),
    reservation_id: int | None = None,
) -> dict[str, Any]:
    """A `fetch_logs` row as a dict (quota figures parsed from the headers; only the quota headers kept).

    `cost` is the record's `credits` (every attempt counted) when the client computed them, else the last
    answer's `x-requests-last`. `reservation_id`: the credit reservation this call settles.
    """
    data = asdict(record) if isinstance(record, CallRecord) else dict(record)
    headers = {k.lower(): v for k, v in (data.get("headers") or {}).items() if k.lower() in _KEEP_HEADERS}
    quota = quota_from_headers(headers)
    params = {k: v for k, v in (data.get("params") or {}).items() if k.lower() not in ("apikey", "api_key")}
    params_json = redact(json.dumps(params, default=str), secrets)
    error = data.get("error")
    credits = data.get("credits")
    return {
        "id": reservation_id if reservation_id is not None else data.get("id"),
        "api": data.get("api") or "oddsapi",
        "endpoint": redact(str(data.get("endpoint") or ""), secrets),
        "params": json.loads(params_json),
        "status_code": data.get("status_code"),
        "cost": credits if credits is not None else quota.last,
        "requests_used": quota.used,
        "requests_remaining": quota.remaining,
        "requests_last": quota.last,
        "latency_ms": data.get("latency_ms"),
        "attempts": int(data.get("attempts") or 1),
        "error": redact(str(error), secrets)[:2000] if error else None,
        "headers": headers,
        "flow_run_id": data.get("flow_run_id") or _current_flow_run_id(),
        "created_at": data.get("created_at") or now().isoformat(),
    }


_COLUMNS = ("api", "endpoint", "status_code", "cost", "requests_used", "requests_remaining", "requests_last",
            "latency_ms", "error", "flow_run_id")  # fmt: skip
_INSERT = """
INSERT INTO fetch_logs (api, endpoint, params, status_code, cost, requests_used, requests_remaining, requests_last,
                        latency_ms, attempts, error, flow_run_id, created_at, settled_at)
VALUES (:api, :endpoint, CAST(:params AS jsonb), :status_code, :cost, :requests_used, :requests_remaining,
        :requests_last, :latency_ms, :attempts, :error, :flow_run_id, :created_at, :settled_at)
"""
# Settling a reservation: its own row (same id, api and endpoint) is updated in place, so writing the same
# call twice changes nothing. A reservation that is gone (the database was emptied meanwhile) is inserted anew.
_SETTLE = """
UPDATE fetch_logs SET params = CAST(:params AS jsonb), status_code = :status_code, cost = :cost,
    requests_used = :requests_used, requests_remaining = :requests_remaining, requests_last = :requests_last,
    latency_ms = :latency_ms, attempts = :attempts, error = :error,
    flow_run_id = COALESCE(:flow_run_id, flow_run_id), settled_at = :settled_at
WHERE id = :id AND api = :api AND endpoint = :endpoint
"""


def _when(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else (value or now())


async def insert_fetch_logs(
    *, session: AsyncSession, records: Sequence[CallRecord | Mapping[str, Any]]
) -> int:
    """Write one `fetch_logs` row per call (settling its credit reservation when it has one). The caller
    commits."""
    rows = [r if isinstance(r, Mapping) and "requests_used" in r else fetch_log_dict(r) for r in records]
    for row in rows:
        created = _when(row.get("created_at"))
        values = {**{k: row.get(k) for k in _COLUMNS}, "attempts": int(row.get("attempts") or 1),
                  "params": json.dumps(row.get("params") or {}, default=str), "settled_at": created}  # fmt: skip
        if row.get("id") is not None:
            settled = await session.execute(text(_SETTLE), {**values, "id": int(row["id"])})
            if settled.rowcount:  # type: ignore[attr-defined]
                continue
        await session.execute(text(_INSERT), {**values, "created_at": created})
    return len(rows)


async def store_fetch_logs(records: Sequence[CallRecord | Mapping[str, Any]]) -> int:
    """Insert and commit in a session of its own."""
    if not records:
        return 0
    from odds_models.db import async_session_maker

    async with async_session_maker() as session:
        n = await insert_fetch_logs(session=session, records=records)
        await session.commit()
    return n


async def quota_overview(*, days: int = 7, at: datetime | None = None) -> dict[str, Any]:
    """Latest quota figures, credits per endpoint per day over `days`, credits this month (open credit
    reservations included, and shown apart), upcoming games with when a paid call last covered each."""
    from odds_analytics.quota import month_start
    from odds_models.db import async_session_maker
    from odds_models.settings import get_settings
    from tasks.credits import credits_spent

    at = at or now()
    since = at - timedelta(days=days)
    async with async_session_maker() as session:
        latest = (
            await session.execute(
                text(
                    "SELECT requests_remaining, requests_used, requests_last, created_at FROM fetch_logs "
                    "WHERE api = 'oddsapi' AND requests_remaining IS NOT NULL ORDER BY created_at DESC LIMIT 1"
                )
            )
        ).first()
        per_endpoint = await session.execute(
            text(
                """
                SELECT date_trunc('day', created_at AT TIME ZONE 'UTC')::date AS day,
                       regexp_replace(endpoint, '/events/[^/]+/odds', '/events/{id}/odds') AS endpoint,
                       count(*) AS calls, COALESCE(sum(cost), 0) AS credits,
                       count(*) FILTER (WHERE error IS NOT NULL) AS errors
                FROM fetch_logs WHERE api = 'oddsapi' AND created_at >= :since
                GROUP BY 1, 2 ORDER BY 1, 2
                """
            ),
            {"since": since},
        )
        month = await credits_spent(session=session, since=month_start(at))
        open_reservations = (
            await session.execute(
                text("SELECT count(*), COALESCE(sum(cost), 0) FROM fetch_logs WHERE api = 'oddsapi' "
                     "AND settled_at IS NULL AND created_at >= :s"),
                {"s": month_start(at)},
            )
        ).one()  # fmt: skip
        # the games the tick will ask for, with when a live snapshot or a paid call last covered each
        schedule = await session.execute(
            text("""
                SELECT e.commence_time, GREATEST(max(s.snapshot_time), e.odds_requested_at) AS last
                FROM events e LEFT JOIN odds_snapshots s ON s.event_id = e.id AND s.source = 'live'
                WHERE e.commence_time > :at AND e.status IN ('scheduled', 'postponed') AND e.sport_key = :sport
                GROUP BY e.id, e.commence_time, e.odds_requested_at ORDER BY e.commence_time, e.id
            """),
            {"at": at, "sport": get_settings().odds_api_sport},
        )  # fmt: skip
        upcoming = [(r.commence_time, r.last) for r in schedule]
    return {
        "latest": None if latest is None else {
            "remaining": latest.requests_remaining, "used": latest.requests_used, "last": latest.requests_last,
            "at": latest.created_at.isoformat(),
        },
        "per_endpoint": [
            {"day": r.day.isoformat(), "endpoint": r.endpoint, "calls": int(r.calls), "credits": int(r.credits),
             "errors": int(r.errors)}
            for r in per_endpoint
        ],
        "spent_this_month": int(month),
        "open_reservations": {"calls": int(open_reservations[0]), "credits": int(open_reservations[1])},
        "upcoming": upcoming,
    }  # fmt: skip
