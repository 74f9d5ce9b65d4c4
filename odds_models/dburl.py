"""Database URLs: one canonical form, and the database the driver will really connect to.

The pipeline connects through SQLAlchemy's asyncpg dialect, which turns the URL's path into `database=` and then
lets every query parameter override it, while a raw `asyncpg.connect(dsn)` (tests, benchmarks) prefers the
path and falls back to `?database=` / `?dbname=`, then `PGDATABASE`, then the user name. So
`.../decoy_test?database=prod` means `prod` to the engine and `decoy_test` to a raw connection.

- `normalise_database_url` gives every URL one meaning: the asyncpg scheme, the database in the path only
  (a URL that names two different databases is refused), libpq's `sslmode=` spelled `ssl=` as asyncpg wants
  it, a numeric port, and no query parameter the driver would reject at connect time.
- `database_name` asks the driver's own argument parsing which database a URL reaches (path, query,
  `PGDATABASE`, user name), so a guard checks what will actually be opened.
- `database_names` is every database a URL could reach by either route (the test guard refuses the URL
  unless each one ends in `_test`).
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = [
    "SSL_MODES",
    "database_name",
    "database_names",
    "hide_password",
    "normalise_database_url",
    "with_database",
]

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_SCHEMES = ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://")
_ASYNCPG = "postgresql+asyncpg://"
_NAME_KEYS = ("database", "dbname")
# consumed by SQLAlchemy's asyncpg dialect, never passed to asyncpg.connect
_SQLALCHEMY_ONLY = frozenset(
    {"async_fallback", "async_creator_fn", "prepared_statement_cache_size", "prepared_statement_name_func"}
)
# query parameters that work through SQLAlchemy's asyncpg dialect (it passes them to asyncpg.connect as
# strings: numeric or boolean ones such as `timeout` or `direct_tls` would break at connect time)
_URL_PARAMETERS = frozenset(
    {"ssl", "host", "port", "user", "password", "passfile", "service", "servicefile", "target_session_attrs",
     "krbsrvname", "gsslib", "prepared_statement_cache_size", "async_fallback"}
)  # fmt: skip


def hide_password(url: str) -> str:
    """The URL with its password replaced by `***` (for display)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _path_name(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/"))


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` (path replaced, any `database=` / `dbname=` query removed)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in _query(url) if k not in _NAME_KEYS]
    return urlunsplit(parts._replace(path=f"/{quote(name)}", query=urlencode(query, safe="/")))


def normalise_database_url(url: str) -> str:
    """The canonical asyncpg URL for `url`; `ValueError` saying what is wrong otherwise.

    Accepts `postgres://`, `postgresql://` (and the psycopg schemes) and `postgresql+asyncpg://`.
    """
    url = url.strip()
    for prefix in _SCHEMES:
        if url.startswith(prefix):
            url = _ASYNCPG + url[len(prefix) :]
            break
    if not url.startswith(_ASYNCPG):
        raise ValueError("must start with postgresql:// or postgresql+asyncpg://")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a non-numeric or out-of-range port
    except ValueError:
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        raise ValueError(f"port {port!r} is not a number from 1 to 65535") from None
    named = {v for k, v in _query(url) if k in _NAME_KEYS and v} | ({_path_name(url)} - {""})
    if len(named) > 1:
        raise ValueError(
            f"names more than one database ({', '.join(sorted(named))}); name it once, in the path"
        )
    query: list[tuple[str, str]] = []
    for key, value in _query(url):
        if key in _NAME_KEYS:
            continue
        name = "ssl" if key == "sslmode" else key  # libpq's name; asyncpg takes the same modes as `ssl`
        if name == "ssl" and value not in SSL_MODES:
            raise ValueError(f"sslmode {value!r} is not one of {', '.join(SSL_MODES)}")
        query.append((name, value))
    unknown = sorted({k for k, _ in query} - _URL_PARAMETERS)
    if unknown:
        raise ValueError(
            f"unsupported query parameter(s) {', '.join(unknown)} (supported: {', '.join(sorted(_URL_PARAMETERS))})"
        )
    path = f"/{quote(named.pop())}" if named else parts.path
    if query != _query(url):
        parts = parts._replace(query=urlencode(query, safe="/"))
    return urlunsplit(parts._replace(path=path))


def _driver_arguments(url: str) -> dict[str, Any]:
    """The keyword arguments SQLAlchemy's asyncpg dialect hands to `asyncpg.connect` for `url`."""
    import asyncpg
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
    from sqlalchemy.engine import make_url

    cargs, cparams = PGDialect_asyncpg().create_connect_args(make_url(url))
    for key in _SQLALCHEMY_ONLY:
        cparams.pop(key, None)
    try:
        bound = inspect.signature(asyncpg.connect).bind(*cargs, **cparams)
    except TypeError as exc:
        raise ValueError(f"the driver refuses these connection arguments: {exc}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _resolve(**arguments: Any) -> str:
    """The database asyncpg connects to for these `asyncpg.connect` arguments (its own parsing)."""
    from asyncpg import connect_utils

    # asyncpg's private DSN parser, on purpose: the guard must name the database the driver itself reaches,
    # and asyncpg has no public way to ask it; `tests/foundation/test_db_guard.py` pins the behaviour
    wanted = inspect.signature(connect_utils._parse_connect_dsn_and_args).parameters
    # ssl does not change the database; leaving it out keeps certificate files from being read here
    kwargs = {name: arguments.get(name) for name in wanted} | {"ssl": None, "direct_tls": None}
    try:
        _addrs, params = connect_utils._parse_connect_dsn_and_args(**kwargs)
    except Exception as exc:  # the driver's own refusal: this URL reaches no database
        raise ValueError(f"the driver cannot use this URL: {exc}") from None
    return str(params.database)


def database_name(url: str) -> str:
    """The database the engine (SQLAlchemy + asyncpg) connects to for `url`: path, query, then PGDATABASE."""
    if not url.startswith(_ASYNCPG):
        url = normalise_database_url(url)
    return _resolve(**_driver_arguments(url))


def database_names(url: str) -> set[str]:
    """Every database `url` may reach: through the engine, through a raw `asyncpg.connect`, as written."""
    names = {_path_name(url)} | {v for k, v in _query(url) if k in _NAME_KEYS}
    rest = next((url[len(p) :] for p in (*_SCHEMES, _ASYNCPG) if url.startswith(p)), None)
    if rest is not None:
        for resolve in (
            lambda: _resolve(dsn="postgresql://" + rest),  # a raw asyncpg.connect(dsn)
            lambda: _resolve(**_driver_arguments(_ASYNCPG + rest)),  # the engine
        ):
            try:
                names.add(resolve())
            except ValueError:
                continue
    return names - {""} or {""}
