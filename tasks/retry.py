"""The shared Prefect retry condition for DB-write tasks.

HTTP failures are retried in exactly one layer, the client (`tasks/http.py`). DB-write tasks use

    @task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10],
          retry_condition_fn=retry_on_db_connection_error)

so that only connection-type database failures (server gone, connection reset, pool timeout) rerun the
step. Writes are idempotent upserts, so a rerun is safe. Everything else (constraint violations, payload
errors, quota, auth) fails at once.

The engine checks `inspect.isfunction(fn)`: keep these plain `def`s (never a partial or callable object).
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_db_connection_error", "retry_on_db_connection_error"]

_CONNECTION_MARKERS = (
    "connection refused",
    "connection was closed",
    "connection is closed",
    "connection reset",
    "server closed the connection",
    "terminating connection",
    "could not connect",
    "connect call failed",
    "cannot connect",
    "the database system is starting up",
    "the database system is shutting down",
)


def is_db_connection_error(exc: BaseException) -> bool:
    """True when `exc` (or its cause chain) is a connection-type database failure worth retrying."""
    import asyncpg
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return True
        if isinstance(
            current,
            asyncpg.exceptions.ConnectionDoesNotExistError
            | asyncpg.exceptions.CannotConnectNowError
            | asyncpg.exceptions.ConnectionFailureError
            | asyncpg.exceptions.InterfaceError,
        ):
            return True
        if isinstance(current, ConnectionError | TimeoutError):
            return True
        if isinstance(current, OSError) and current.errno is not None:
            return True
        if isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError):
            text = str(current).lower()
            if any(marker in text for marker in _CONNECTION_MARKERS):
                return True
        current = current.__cause__ or current.__context__
    return False


def retry_on_db_connection_error(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect `retry_condition_fn`: retry only connection-type DB errors.

    The engine hands over `Failed(data=<the exception>)`; reading `state.data` (not `state.result()`, which
    returns a coroutine inside async tasks) works for sync and async tasks alike.
    """
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return is_db_connection_error(data)
    return False
