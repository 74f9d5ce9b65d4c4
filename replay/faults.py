"""Fault injection for the replay service, configurable per route.

A `FaultPlan` is a list of `FaultRule`s; the first rule whose glob matches the request path applies.
Each request draws one fate from the plan's seeded RNG:

- `429`: HTTP 429 with `Retry-After` (and the upstream's body shape),
- `5xx`: HTTP 500/502/503 (the upstream's body shape),
- `timeout`: the response stalls for `timeout_seconds` (set it above the client's timeout),
- `truncated`: the body is cut in half. `truncate_mode="wire"` keeps the full Content-Length so the
  connection breaks mid-body (what a dropped connection looks like: a transport error, retried);
  `"body"` sends a short, valid HTTP response with broken JSON (a payload error, not retried),
- `extra`: schema drift, unknown fields added to every object (clients must ignore them),
- `missing`: schema drift, optional fields removed (clients must tolerate their absence),
- plus `latency_ms` added to every matching request.

`max_consecutive` bounds the faults in a row on one path, so a client with more attempts than that
always gets through: a faulty run must end with the same data as a clean one.

Spec strings (CLI, env): `"*:429=0.1,5xx=0.05,timeout=0.02,latency=20;/clob/*:truncated=0.1"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any

__all__ = ["OPTIONAL_FIELDS", "FaultMiddleware", "FaultPlan", "FaultRule"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Fields the real APIs sometimes omit (older captures, new fields, absent quotes).
OPTIONAL_FIELDS = frozenset(
    {
        "sport_title",  # Odds API (and a market's `last_update`, absent before 2023: see _drift)
        "bestBid", "bestAsk", "lastTradePrice", "spread", "volume24hr", "liquidity", "liquidityNum",
        "umaResolutionStatuses", "feesEnabled", "groupItemTitle", "competitive", "openInterest",  # Gamma
        "min_order_size", "tick_size", "neg_risk", "last_trade_price", "hash",  # CLOB book
    }
)  # fmt: skip
# Never dropped even when optional somewhere else: the identifiers and prices every parser needs.
_KEEP = frozenset({"id", "price", "point", "name", "key", "outcomes", "markets", "bookmakers"})

FATES = ("429", "5xx", "timeout", "truncated", "extra", "missing")


@dataclass(frozen=True)
class FaultRule:
    """Fault rates (0-1) for the paths matching `pattern` (fnmatch, e.g. `/oddsapi/v4/sports/*/odds`)."""

    pattern: str = "*"
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_timeout: float = 0.0
    rate_truncated: float = 0.0
    rate_extra: float = 0.0
    rate_missing: float = 0.0
    latency_ms: float = 0.0
    timeout_seconds: float = 2.0
    retry_after: int = 1
    truncate_mode: str = "wire"
    max_consecutive: int = 2

    def rates(self) -> dict[str, float]:
        return {
            "429": self.rate_429,
            "5xx": self.rate_5xx,
            "timeout": self.rate_timeout,
            "truncated": self.rate_truncated,
            "extra": self.rate_extra,
            "missing": self.rate_missing,
        }


_SPEC_KEYS = {
    "429": "rate_429", "5xx": "rate_5xx", "timeout": "rate_timeout", "truncated": "rate_truncated",
    "extra": "rate_extra", "missing": "rate_missing", "latency": "latency_ms",
    "timeout_seconds": "timeout_seconds", "retry_after": "retry_after", "max_consecutive": "max_consecutive",
    "truncate_mode": "truncate_mode",
}  # fmt: skip


@dataclass
class FaultPlan:
    """The rules plus the seeded draw and the counts of what was injected."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(f"faults|{self.seed}")
        self._streak: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def none(cls) -> FaultPlan:
        return cls([])

    @classmethod
    def standard(cls, seed: int = 0, *, scale: float = 1.0, timeout_seconds: float = 1.5) -> FaultPlan:
        """The demo's `--faults` plan: every kind of fault on every API, at rates a client must absorb."""
        rule = FaultRule(
            "*", rate_429=0.06 * scale, rate_5xx=0.05 * scale, rate_timeout=0.01 * scale,
            rate_truncated=0.04 * scale, rate_extra=0.08 * scale, rate_missing=0.05 * scale,
            latency_ms=2.0, timeout_seconds=timeout_seconds, retry_after=0,
        )  # fmt: skip
        return cls([rule], seed=seed)

    @classmethod
    def from_spec(cls, spec: str, seed: int = 0) -> FaultPlan:
        """Parse `"pattern:key=value,...;pattern:..."` (keys: 429 5xx timeout truncated extra missing
        latency timeout_seconds retry_after max_consecutive truncate_mode)."""
        rules = []
        for chunk in filter(None, (c.strip() for c in spec.split(";"))):
            pattern, _, body = chunk.rpartition(":") if ":" in chunk else ("*", "", chunk)
            values: dict[str, Any] = {}
            for item in filter(None, (i.strip() for i in body.split(","))):
                key, sep, raw = item.partition("=")
                if not sep or key not in _SPEC_KEYS:
                    raise ValueError(f"bad fault spec item {item!r}; keys: {', '.join(_SPEC_KEYS)}")
                attr = _SPEC_KEYS[key]
                if attr == "truncate_mode":
                    if raw not in ("wire", "body"):
                        raise ValueError("truncate_mode must be wire or body")
                    values[attr] = raw
                elif attr in ("retry_after", "max_consecutive"):
                    values[attr] = int(raw)
                else:
                    values[attr] = float(raw)
            rules.append(FaultRule(pattern or "*", **values))
        return cls(rules, seed=seed)

    def with_seed(self, seed: int) -> FaultPlan:
        return FaultPlan([replace(r) for r in self.rules], seed=seed)

    def rule_for(self, path: str) -> FaultRule | None:
        for rule in self.rules:
            if fnmatchcase(path, rule.pattern):
                return rule
        return None

    def decide(self, path: str) -> tuple[FaultRule | None, str | None]:
        """Draw the fate of one request on `path`: (rule, fault kind or None)."""
        rule = self.rule_for(path)
        with self._lock:
            self.requests += 1
            if rule is None:
                return None, None
            draw = self._rng.random()
            fate = None
            acc = 0.0
            for kind, rate in rule.rates().items():
                acc += rate
                if draw < acc:
                    fate = kind
                    break
            if fate in ("429", "5xx", "timeout", "truncated"):
                if self._streak[path] >= rule.max_consecutive:
                    fate = None
                else:
                    self._streak[path] += 1
            if fate not in ("429", "5xx", "timeout", "truncated"):
                self._streak[path] = 0
            if fate:
                self.injected[fate] += 1
            return rule, fate

    def total_injected(self) -> int:
        return sum(self.injected.values())


def _is_keyed_map(value: dict[str, Any]) -> bool:
    """A map keyed by ids or sides (CLOB `/prices`, `/midpoints`: `{token: {"BUY": ...}}`), not a record:
    new fields arrive in records, and a new key in such a map would be a new token."""
    return any(key.isdigit() for key in value) or (bool(value) and set(value) <= {"BUY", "SELL"})


def _drift(value: Any, fate: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if fate == "missing" and key in OPTIONAL_FIELDS and key not in _KEEP:
                continue
            if fate == "missing" and key == "last_update" and "outcomes" in value:
                continue  # market-level only; a bookmaker's last_update is required
            out[key] = _drift(item, fate)
        if fate == "extra" and not _is_keyed_map(value):
            out["replay_drift_field"] = {"note": "unknown field added by the replay fault plan"}
            out["zz_new_flag"] = True
        return out
    if isinstance(value, list):
        return [_drift(item, fate) for item in value]
    return value


def _error_body(path: str, status: int) -> bytes:
    if path.startswith("/oddsapi"):
        if status == 429:
            body = {
                "message": "Request frequency limit exceeded. Please try again after a few seconds.",
                "error_code": "EXCEEDED_FREQ_LIMIT",
                "details_url": "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html#exceeded_freq_limit",
            }
        else:
            body = {"message": "Internal server error", "error_code": "INTERNAL_ERROR", "details_url": ""}
        return json.dumps(body).encode()
    if status == 429:
        return json.dumps({"error": "Too Many Requests"}).encode()
    return json.dumps(
        {"error": "error getting the orderbook" if "/book" in path else "internal error"}
    ).encode()


class FaultMiddleware:
    """ASGI middleware applying a `FaultPlan` to the upstream routes (never to `/_replay` control)."""

    def __init__(self, app: ASGIApp, plan: FaultPlan | Callable[[], FaultPlan]) -> None:
        self.app = app
        self._plan = plan

    @property
    def plan(self) -> FaultPlan:
        return self._plan() if callable(self._plan) else self._plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_replay"):
            await self.app(scope, receive, send)
            return
        rule, fate = self.plan.decide(path)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.latency_ms:
            await asyncio.sleep(rule.latency_ms / 1000)
        if fate in ("429", "5xx"):
            status = 429 if fate == "429" else (500, 502, 503)[self.plan.injected[fate] % 3]
            headers = [(b"content-type", b"application/json")]
            if status == 429:
                headers.append((b"retry-after", str(rule.retry_after).encode()))
            body = _error_body(path, status)
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if fate == "timeout":
            await asyncio.sleep(rule.timeout_seconds)
        if fate not in ("truncated", "extra", "missing"):
            await self.app(scope, receive, send)
            return
        # buffer the real response, then damage it
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        status = start.get("status", 200)
        if status >= 400 or not body:
            fate = None
        if fate in ("extra", "missing"):
            with contextlib.suppress(ValueError):  # not JSON: served as it is
                body = json.dumps(_drift(json.loads(body), fate)).encode()
        if fate == "truncated":
            cut = body[: max(1, len(body) // 2)]
            declared = len(body) if rule.truncate_mode == "wire" else len(cut)
            headers.append((b"content-length", str(declared).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": cut})
            return
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
