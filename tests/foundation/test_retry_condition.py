from __future__ import annotations

import asyncpg
from prefect.states import Failed
from sqlalchemy.exc import IntegrityError, OperationalError

from tasks.retry import is_db_connection_error, retry_on_db_connection_error


def test_connection_errors_are_retried() -> None:
    exc = OperationalError("INSERT ...", {}, Exception("connection refused"))
    assert retry_on_db_connection_error(None, None, Failed(data=exc))
    assert is_db_connection_error(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert is_db_connection_error(ConnectionRefusedError(111, "refused"))


def test_other_errors_are_final() -> None:
    exc = IntegrityError("INSERT ...", {}, Exception("duplicate key value violates unique constraint"))
    assert not retry_on_db_connection_error(None, None, Failed(data=exc))
    assert not retry_on_db_connection_error(None, None, Failed(data=ValueError("bad payload")))
    assert not retry_on_db_connection_error(None, None, Failed(message="no exception attached"))
