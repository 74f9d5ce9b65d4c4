"""The HTTP layer shared by every API client: one retry layer, one error translation, no leaked keys.

- Retries live here and only here (tenacity): transport errors, 429 (honouring `Retry-After`) and 5xx,
  with jittered exponential waits, bounded attempts and total time. 4xx are final and never retried.
- Errors are translated once, at this boundary, onto `odds_models.errors`; callers never see httpx types.
- Query secrets (`apiKey`) are added to the request here and stripped from every URL, message and record.
- Every finished call (success or final failure) produces a `CallRecord` for `fetch_logs`, with every
  attempt's answer (status, headers: none when the connection failed first) so a paid API can count the
  credits of each attempt (`ApiClient.credits_of`; a body cut mid-transfer still brought its headers).
- A paid call can guard its retries: `before_retry(credits)` runs before each retry with the credits the
  call will have cost if that attempt is charged too (the Odds API client extends its credit reservation
  there, or stops with `BudgetExceeded`).

Clients subclass `ApiClient` and take an injected `httpx.AsyncClient`. The factories (`make_odds_api_client`,
`make_gamma_client`, `make_clob_client`) build theirs from settings (`RetryPolicy.from_settings`), unless a
client factory is set for that API: `with use_client_factory("clob", lambda: httpx.AsyncClient(transport=…)):`
routes every client built inside the block, flows and tasks included, through that transport (tests pass a
`MockTransport` or an `ASGITransport` around the replay app; the demo serves the replay app on loopback and
points the base URLs at it instead).
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import httpx
import tenacity

from odds_models.errors import (
    AuthRejected,
    BadRequest,
    NotFound,
    OddsPipelineError,
    PayloadError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    TransientUpstreamError,
    TransportFailure,
    UpstreamError,
    UpstreamStatusError,
    redact,
)

if TYPE_CHECKING:
    from odds_models.settings import Settings

__all__ = [
    "ApiClient",
    "ApiName",
    "ApiResponse",
    "Attempt",
    "CallRecord",
    "ClientFactory",
    "RedactKeyFilter",
    "RetryPolicy",
    "client_options",
    "http_client_for",
    "run_logger",
    "set_client_factory",
    "tls_context",
    "use_client_factory",
]

log = logging.getLogger(__name__)


def run_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The current flow or task run's logger (its lines reach the run's logs in the Prefect UI); outside a
    run, this module's logger."""
    from prefect.context import FlowRunContext, TaskRunContext

    if FlowRunContext.get() is None and TaskRunContext.get() is None:
        return log
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()  # type: ignore[return-value]
    except Exception:  # no logger for this context: the module's still reaches the worker's console
        return log


class RedactKeyFilter(logging.Filter):
    """httpx logs every request URL at INFO ("HTTP Request: GET ...?apiKey=..."): strip the key first."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = redact(record.getMessage())
            record.args = None
        else:
            record.msg = redact(str(record.msg))
        return True


for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, RedactKeyFilter) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(RedactKeyFilter())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    max_wait_seconds: float = 30.0
    max_total_seconds: float = 120.0
    initial_wait_seconds: float = 0.5

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """`HTTP_MAX_ATTEMPTS` and `HTTP_MAX_RETRY_WAIT_SECONDS`; the other bounds keep their defaults."""
        return cls(
            max_attempts=settings.http_max_attempts, max_wait_seconds=settings.http_max_retry_wait_seconds
        )


_tls_contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def tls_context() -> ssl.SSLContext:
    """The certificate verification every API client uses: httpx's default (certifi's bundle, or
    `SSL_CERT_FILE` / `SSL_CERT_DIR` when set), built once per process and per those two variables.

    httpx builds a new context for each client by default, reading the whole CA bundle each time (about
    50 ms of CPU); the flows build a client per call, so a day of ticks paid seconds for it (issue 17).
    An `SSLContext` is safe to share between clients and threads.
    """
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    context = _tls_contexts.get(key)
    if context is None:
        context = _tls_contexts[key] = httpx.create_ssl_context()
    return context


ApiName = Literal["oddsapi", "gamma", "clob"]
ClientFactory = Callable[[], httpx.AsyncClient]

# One hook for the three APIs: tests route every client the factories build (inside flows and tasks too)
# through their own transport without touching flow parameters.
_client_factories: dict[str, ClientFactory] = {}


def set_client_factory(api: ApiName, factory: ClientFactory | None) -> ClientFactory | None:
    """Make `make_<api>_client()` build its transport with `factory()` (None: real HTTP). Returns the previous."""
    previous = _client_factories.pop(api, None)
    if factory is not None:
        _client_factories[api] = factory
    return previous


@contextmanager
def use_client_factory(api: ApiName, factory: ClientFactory | None) -> Iterator[None]:
    """`set_client_factory` for the duration of the block."""
    previous = set_client_factory(api, factory)
    try:
        yield
    finally:
        set_client_factory(api, previous)


def http_client_for(
    api: ApiName, client: httpx.AsyncClient | None = None
) -> tuple[httpx.AsyncClient | None, bool]:
    """The transport a factory of `api` uses, and whether the API client owns (closes) it.

    An explicit `client` is the caller's; else the hook's `factory()` (ours to close); else None (the
    `ApiClient` builds and owns a real one).
    """
    if client is not None:
        return client, False
    factory = _client_factories.get(api)
    return (factory() if factory is not None else None), True


def client_options(
    api: ApiName,
    settings: Settings,
    client: httpx.AsyncClient | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
) -> dict[str, Any]:
    """What every `ApiClient` of `api` takes from settings and its factory: the transport and whether it owns
    it (`http_client_for`), `HTTP_TIMEOUT_SECONDS`, the retry policy and the call listener."""
    http, owned = http_client_for(api, client)
    return {
        "client": http,
        "owns_client": owned,
        "timeout": settings.http_timeout_seconds,
        "retry": RetryPolicy.from_settings(settings),
        "on_call": on_call,
    }


@dataclass(frozen=True)
class Attempt:
    """One attempt's answer: its status and headers, or None for both when no answer came (timeout or
    connection error before the headers). A body cut mid-transfer keeps its status and headers."""

    status_code: int | None
    headers: dict[str, str] | None


@dataclass
class CallRecord:
    """What `fetch_logs` stores about one logical call (after retries).

    `credits`: what the call cost over all its attempts (`ApiClient.credits_of`); None for free APIs.
    """

    api: str
    endpoint: str
    params: dict[str, Any]
    status_code: int | None
    latency_ms: float
    attempts: int
    headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    credits: int | None = None


@dataclass
class ApiResponse:
    status_code: int
    headers: httpx.Headers
    data: Any
    endpoint: str
    attempts: int


class _BrokenBody(TransientUpstreamError):
    """A 2xx whose body is not valid JSON: usually a connection cut mid-body. Retried, then a PayloadError."""

    response: httpx.Response | None = None


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class ApiClient:
    """Base class: `await self._request("GET", "/path", params=...)` returns parsed JSON or raises."""

    api_name = "api"

    def __init__(
        self,
        *,
        base_url: str,
        client: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        secret_params: Mapping[str, str] | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        owns_client: bool | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._owns_client = client is None if owns_client is None else owns_client
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=tls_context())
        self.retry = retry or RetryPolicy()
        self._secret_params = dict(secret_params or {})
        self._secrets = tuple(v for v in self._secret_params.values() if v)
        self.on_call = on_call
        self.calls: list[CallRecord] = []
        # a paid call's guard, run before each retry with the credits spent if that attempt is charged too
        self.before_retry: Callable[[int], Awaitable[None]] | None = None

    def credits_of(self, attempts: Sequence[Attempt], cost: int | None) -> int | None:
        """Credits the attempts of one call cost (`cost`: the documented price of one answer). None: free API."""
        return None

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- error translation --------------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def map_error(self, response: httpx.Response, endpoint: str) -> UpstreamError:
        """Translate a non-success response onto the error tree (most specific first)."""
        status = response.status_code
        code, message = self._error_details(response)
        where = f"{self.api_name} {endpoint}"
        text = self._clean(f"{where}: HTTP {status} {code or ''} {message}".strip())
        if status == 429:
            return RateLimited(
                text, endpoint=endpoint, retry_after=_retry_after_seconds(response.headers.get("Retry-After"))
            )
        if status >= 500:
            return ServerError(text, endpoint=endpoint, status=status)
        if status == 401 and code == "OUT_OF_USAGE_CREDITS":
            return QuotaExhausted(
                f"{where}: out of usage credits (OUT_OF_USAGE_CREDITS); the monthly quota is used up. "
                "Wait for the quota reset or upgrade the plan.",
                endpoint=endpoint, status=status, error_code=code,
            )  # fmt: skip
        if status in (401, 403):
            return AuthRejected(
                f"{where}: API key rejected ({code or status}); check ODDS_API_KEY.",
                endpoint=endpoint, status=status, error_code=code,
            )  # fmt: skip
        if status == 404 or (code or "").endswith(("UNKNOWN_SPORT", "INVALID_SPORT", "NOT_FOUND")):
            return NotFound(text, endpoint=endpoint, status=status, error_code=code)
        if status in (400, 422):
            return BadRequest(text, endpoint=endpoint, status=status, error_code=code)
        return UpstreamStatusError(text, endpoint=endpoint, status=status, error_code=code)

    @staticmethod
    def _error_details(response: httpx.Response) -> tuple[str | None, str]:
        try:
            body = response.json()
        except ValueError:
            return None, response.text[:200]
        if isinstance(body, dict):
            code = body.get("error_code")
            message = body.get("message") or body.get("error") or ""
            return (str(code) if code else None), str(message)[:300]
        return None, str(body)[:200]

    # -- the request ------------------------------------------------------------------------------------

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry.max_wait_seconds)
        expo = tenacity.wait_exponential_jitter(
            initial=self.retry.initial_wait_seconds, max=self.retry.max_wait_seconds
        )
        return expo(state)

    def _transport_failure(self, exc: httpx.TransportError, endpoint: str) -> TransportFailure:
        if isinstance(exc, httpx.TimeoutException):
            return TransportFailure(f"{self.api_name} {endpoint}: timed out ({type(exc).__name__})",
                                    endpoint=endpoint)  # fmt: skip
        return TransportFailure(
            self._clean(f"{self.api_name} {endpoint}: transport error {type(exc).__name__}: {exc}"),
            endpoint=endpoint,
        )

    async def _send_once(
        self,
        method: str,
        url: str,
        params: dict[str, Any],
        json_body: Any,
        endpoint: str,
        *,
        tries: list[Attempt],
    ) -> tuple[httpx.Response, Any]:
        request = self._client.build_request(
            method, url, params={**params, **self._secret_params} or None, json=json_body
        )
        try:
            # streamed, so that the headers (and their quota figures) survive a body cut mid-transfer
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as exc:
            tries.append(Attempt(None, None))
            raise self._transport_failure(exc, endpoint) from None
        try:
            await response.aread()
        except httpx.TransportError as exc:
            tries.append(Attempt(response.status_code, {k.lower(): v for k, v in response.headers.items()}))
            raise self._transport_failure(exc, endpoint) from None
        finally:
            await response.aclose()
        tries.append(Attempt(response.status_code, {k.lower(): v for k, v in response.headers.items()}))
        if response.status_code >= 400:
            raise self.map_error(response, endpoint)
        try:
            data = response.json()
        except (json.JSONDecodeError, ValueError):
            broken = _BrokenBody(
                f"{self.api_name} {endpoint}: response is not valid JSON ({len(response.content)} bytes); "
                "the body was cut or corrupted",
                endpoint=endpoint, status=response.status_code,
            )  # fmt: skip
            broken.response = response
            raise broken from None
        return response, data

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        cost: int | None = None,
    ) -> ApiResponse:
        """Send with retries; parse JSON; record the call. Raises the typed errors.

        `cost`: the documented credits of one answer, for paid APIs (see `credits_of`, `before_retry`).
        """
        clean_params = {k: v for k, v in (params or {}).items() if v is not None}
        url = f"{self.base_url}{path}"
        started = time.perf_counter()
        attempts = 0
        tries: list[Attempt] = []
        response: httpx.Response | None = None
        data: Any = None
        error: BaseException | None = None
        broken_status: int | None = None

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            # the run's logger: the line shows in the flow run's logs in the Prefect UI, not only on the worker;
            # `retrying` lets the `odds` console drop these when the command then fails with the error itself
            run_logger().warning("%s %s: attempt %d of %d failed (%s); retrying in %.1f s", self.api_name, path,
                                 state.attempt_number, self.retry.max_attempts, self._clean(str(exc)), wait,
                                 extra={"retrying": True})  # fmt: skip

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(TransientUpstreamError),
            wait=self._wait,
            stop=tenacity.stop_after_attempt(self.retry.max_attempts)
            | tenacity.stop_after_delay(self.retry.max_total_seconds),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    if attempts > 1 and self.before_retry is not None and cost:
                        await self.before_retry((self.credits_of(tries, cost) or 0) + cost)
                    response, data = await self._send_once(
                        method, url, clean_params, json_body, path, tries=tries
                    )
        except _BrokenBody as exc:
            error = PayloadError(str(exc), endpoint=path)
            broken_status = exc.status
            response = exc.response  # its quota headers still count
        except UpstreamError as exc:
            error = exc
        except OddsPipelineError as exc:  # the retry guard stopped the call (BudgetExceeded)
            error = exc
        latency = (time.perf_counter() - started) * 1000
        answered = [t.headers for t in tries if t.headers is not None]
        record = CallRecord(
            api=self.api_name,
            endpoint=path,
            params=dict(clean_params),
            status_code=(
                getattr(error, "status", None) if error else response.status_code if response else None
            ),
            latency_ms=latency,
            attempts=max(attempts, 1),
            headers=answered[-1] if answered else {},
            error=self._clean(str(error)) if error else None,
            credits=self.credits_of(tries, cost),
        )
        if broken_status is not None:
            record.status_code = broken_status
        if error is not None and attempts > 1:
            # a final failure says how hard we tried (in the run's logs and in the error the run fails with)
            error.args = (f"{error} (gave up after {attempts} attempts)", *error.args[1:])
            # `retrying` too: the `odds` console drops it when the command fails with this error (which says it)
            run_logger().error("%s %s: gave up after %d attempts: %s", self.api_name, path, attempts,
                               self._clean(str(error)), extra={"retrying": True})  # fmt: skip
        self.calls.append(record)
        if self.on_call is not None:
            self.on_call(record)
        if error is not None:
            raise error
        assert response is not None
        return ApiResponse(response.status_code, response.headers, data, path, attempts)
