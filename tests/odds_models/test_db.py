import pytest
from sqlalchemy import text

from odds_models.db import async_session_maker
from odds_models.errors import UnsafeDatabaseError
from odds_models.testing import assert_test_database

pytestmark = pytest.mark.db


async def test_session_reaches_test_database(db: str) -> None:
    async with async_session_maker() as session:
        name = (await session.execute(text("select current_database()"))).scalar_one()
    assert name.endswith("_test")


def test_refuses_production_database() -> None:
    with pytest.raises(UnsafeDatabaseError, match="_test"):
        assert_test_database("postgresql+asyncpg://u:secret@localhost/odds")
