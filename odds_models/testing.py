"""Guards for tests: nothing in the project can point the test suite at a production database."""

from __future__ import annotations

from odds_models.db import database_name, hide_password
from odds_models.errors import UnsafeDatabaseError

__all__ = ["assert_test_database"]


def assert_test_database(url: str) -> None:
    """Raise `UnsafeDatabaseError` unless the database name ends in `_test`."""
    name = database_name(url)
    if not name.endswith("_test"):
        raise UnsafeDatabaseError(
            f"refusing to run tests against database {name!r} ({hide_password(url)}): test databases must "
            "be named *_test. Set TEST_DATABASE_URL to a database such as postgresql://localhost/odds_test."
        )
