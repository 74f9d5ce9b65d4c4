"""The shared Prefect retry condition for DB-write tasks.

HTTP failures are retried in exactly one layer, the client (`tasks/http.py`). DB-write tasks use the
one constant `DB_WRITE_RETRY` (no cache, two retries after 2 s and 10 s, `retry_on_db_connection_error`):

    @task(name="store-things", **DB_WRITE_RETRY)

so that only connection-type database failures (server gone, connection reset, pool timeout) rerun the
step. Writes are idempotent upserts, so a rerun is safe. Everything else (constraint violations, payload
errors, quota, auth, and local file errors such as `FileNotFoundError`) fails at once.

`is_transient_db_error` adds the failures a later run clears by itself (deadlock, serialization failure,
lock timeout, the server out of resources or shutting down): the spool keeps an entry that hit one of
those in its queue instead of setting it aside.

The engine checks `inspect.isfunction(fn)`: keep these plain `def`s (never a partial or callable object).
"""

from __future__ import annotations

import errno
import socket
from types import MappingProxyType
from typing import Any

from prefect.cache_policies import NONE

__all__ = [
    "BACKFILL_FLOW_RETRY",
    "DB_WRITE_RETRY",
    "is_db_connection_error",
    "is_transient_db_error",
    "retry_on_db_connection_error",
]

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
# OSErrors that mean "the network or the server", never a local file problem (ENOENT, EACCES, ...)
_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH", "ENETDOWN",
                 "ENETRESET", "EHOSTDOWN", "ETIMEDOUT", "EPIPE", "ENOTCONN", "EADDRNOTAVAIL")
    if hasattr(errno, name)
)  # fmt: skip
# SQLSTATEs a later run clears by itself: serialization failure, deadlock, lock not available, query
# cancelled (statement timeout), insufficient resources (class 53), shutdown (57P01-03), connection (class 08)
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03"})
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53")


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
        if isinstance(current, ConnectionError | TimeoutError | socket.gaierror):
            return True
        if isinstance(current, OSError) and (
            current.errno in _NETWORK_ERRNOS
            # a Unix-socket server that is gone: ENOENT naming no file (a missing local file names its path)
            or (current.errno == errno.ENOENT and current.filename is None)
            or (current.errno is None and any(m in str(current).lower() for m in _CONNECTION_MARKERS))
        ):
            return True
        if isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError):
            text = str(current).lower()
            if any(marker in text for marker in _CONNECTION_MARKERS):
                return True
        current = current.__cause__ or current.__context__
    return False


def is_transient_db_error(exc: BaseException) -> bool:
    """A connection-type failure, or a database error that a later attempt clears (deadlock, timeout...)."""
    if is_db_connection_error(exc):
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and (
            state in _TRANSIENT_SQLSTATES or state.startswith(_TRANSIENT_SQLSTATE_CLASSES)
        ):
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
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


# The one retry setting of every DB-write task (`@task(**DB_WRITE_RETRY)`); spelled out nowhere else
# (`tests/foundation/test_tasks_contract.py`).
DB_WRITE_RETRY: MappingProxyType[str, Any] = MappingProxyType(
    {
        "cache_policy": NONE,
        "retries": 2,
        "retry_delay_seconds": [2, 10],
        "retry_condition_fn": retry_on_db_connection_error,
    }
)


# A flow whose rerun is safe (it plans from what is stored) reruns once, a minute later: the history backfill.
BACKFILL_FLOW_RETRY: dict[str, Any] = {"retries": 1, "retry_delay_seconds": 60}
