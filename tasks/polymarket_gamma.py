"""Polymarket Gamma client (discovery and metadata): keyset pages, explicit `closed`, checked answers.

Gamma silently ignores unknown query parameters and then answers with the oldest, unrelated markets
(id 12, "Will Joe Biden get Coronavirus…"), so every method checks that what came back is what was asked
for and raises `PayloadError` otherwise. Offset pagination is deprecated (422 past ~2000): only the keyset
endpoints (`/events/keyset`, `/markets/keyset`, cursor passed back as `after_cursor`) are used.

Retries (429, 5xx, transport) live in `tasks.http.ApiClient`; this module adds none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from odds_models.errors import PayloadError
from odds_models.settings import get_settings
from tasks.http import ApiClient, CallRecord, client_options

__all__ = ["GammaClient", "KeysetPage", "make_gamma_client"]

EVENTS_PAGE_MAX = 500
MARKETS_PAGE_MAX = 100


@dataclass
class KeysetPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _series_ids(event: dict[str, Any]) -> set[str]:
    ids = {str(s.get("id")) for s in event.get("series") or [] if isinstance(s, dict)}
    if event.get("seriesId") is not None:
        ids.add(str(event["seriesId"]))
    return ids


class GammaClient(ApiClient):
    """`await client.events_page(...)`, `await client.iter_events(...)`, `await client.markets(ids=...)`."""

    api_name = "gamma"

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        return (await self.request("GET", path, params=params)).data

    async def events_page(
        self,
        *,
        closed: bool,
        series_id: str | None = None,
        tag_id: str | None = None,
        limit: int = EVENTS_PAGE_MAX,
        after_cursor: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> KeysetPage:
        """One page of `/events/keyset`. `closed` is always sent (its default changed in 2026)."""
        params: dict[str, Any] = {
            "closed": str(closed).lower(),
            "limit": min(limit, EVENTS_PAGE_MAX),
            "series_id": series_id,
            "tag_id": tag_id,
            "after_cursor": after_cursor,
            **(extra or {}),
        }
        data = await self._get("/events/keyset", params)
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise PayloadError(
                "gamma /events/keyset: expected {'events': [...], 'next_cursor'}", endpoint="/events/keyset"
            )
        events = [e for e in data["events"] if isinstance(e, dict)]
        self._check_events(events, series_id=series_id, closed=closed)
        cursor = data.get("next_cursor")
        return KeysetPage(events, cursor if isinstance(cursor, str) and cursor else None)

    @staticmethod
    def _check_events(events: list[dict[str, Any]], *, series_id: str | None, closed: bool) -> None:
        # Gamma answers an ignored filter with its default list; refuse to store unrelated events.
        for event in events:
            if series_id is not None and _series_ids(event) and series_id not in _series_ids(event):
                raise PayloadError(
                    f"gamma /events/keyset: asked for series {series_id}, got event {event.get('id')} of series "
                    f"{sorted(_series_ids(event))}: the filter was ignored",
                    endpoint="/events/keyset",
                )
            if isinstance(event.get("closed"), bool) and event["closed"] is not closed:
                raise PayloadError(
                    f"gamma /events/keyset: asked for closed={closed}, got event {event.get('id')} with "
                    f"closed={event['closed']}",
                    endpoint="/events/keyset",
                )

    async def iter_events(
        self,
        *,
        closed: bool,
        series_id: str | None = None,
        tag_id: str | None = None,
        limit: int = EVENTS_PAGE_MAX,
        max_pages: int = 200,
        extra: dict[str, Any] | None = None,
        on_page: Callable[[KeysetPage], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Every page of `/events/keyset` (stops when `next_cursor` is absent or repeats)."""
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(max_pages):
            page = await self.events_page(
                closed=closed,
                series_id=series_id,
                tag_id=tag_id,
                limit=limit,
                after_cursor=cursor,
                extra=extra,
            )
            events.extend(page.items)
            if on_page is not None:
                on_page(page)
            if page.next_cursor is None or page.next_cursor in seen or not page.items:
                break
            seen.add(page.next_cursor)
            cursor = page.next_cursor
        return events

    async def markets(
        self,
        *,
        ids: Iterable[str] = (),
        condition_ids: Iterable[str] = (),
        slugs: Iterable[str] = (),
        closed: bool | None = None,
    ) -> list[dict[str, Any]]:
        """`/markets/keyset` filtered by ids, condition ids or slugs (≤100 each); answers are checked."""
        ids, condition_ids, slugs = list(ids), list(condition_ids), list(slugs)
        if sum(bool(x) for x in (ids, condition_ids, slugs)) != 1:
            raise ValueError("pass exactly one of ids, condition_ids, slugs")
        key, wanted, field_name = next(
            (k, v, f)
            for k, v, f in (
                ("id", ids, "id"),
                ("condition_ids", condition_ids, "conditionId"),
                ("slug", slugs, "slug"),
            )
            if v
        )
        out: list[dict[str, Any]] = []
        for start in range(0, len(wanted), MARKETS_PAGE_MAX):
            chunk = wanted[start : start + MARKETS_PAGE_MAX]
            params: dict[str, Any] = {key: chunk, "limit": MARKETS_PAGE_MAX}
            if closed is not None:
                params["closed"] = str(closed).lower()
            data = await self._get("/markets/keyset", params)
            items = data.get("markets") if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise PayloadError(
                    "gamma /markets/keyset: expected {'markets': [...]}", endpoint="/markets/keyset"
                )
            check_requested(items, field_name, chunk, endpoint="/markets/keyset")
            out.extend(items)
        return out

    async def event_by_slug(self, slug: str) -> dict[str, Any]:
        data = await self._get(f"/events/slug/{slug}", {})
        if not isinstance(data, dict) or data.get("slug") != slug:
            raise PayloadError(f"gamma /events/slug/{slug}: answered another event", endpoint="/events/slug")
        return data


def check_requested(items: list[Any], field_name: str, wanted: list[str], *, endpoint: str) -> None:
    """Raise `PayloadError` when an answer holds items that were not asked for (an ignored filter)."""
    wanted_set = {str(w) for w in wanted}
    strays = [
        str(item.get(field_name))
        for item in items
        if isinstance(item, dict) and str(item.get(field_name)) not in wanted_set
    ]
    if strays:
        raise PayloadError(
            f"gamma {endpoint}: {len(strays)} of {len(items)} returned items were not requested "
            f"(first {field_name}={strays[0][:40]!r}); Gamma ignored the filter",
            endpoint=endpoint,
        )


def make_gamma_client(
    client: httpx.AsyncClient | None = None, *, on_call: Callable[[CallRecord], None] | None = None
) -> GammaClient:
    """A Gamma client on `POLYMARKET_GAMMA_URL` (transport: `client`, else `use_client_factory("gamma", …)`)."""
    settings = get_settings()
    return GammaClient(
        base_url=settings.polymarket_gamma_url, **client_options("gamma", settings, client, on_call)
    )
