"""Run only by tests/odds_models/test_dburl_db.py in a child pytest, with TEST_DATABASE_URL set to a decoy URL.

Not collected by a plain `pytest` run (the name does not start with `test_`).
"""

from __future__ import annotations


async def test_probe_uses_the_database(db: str) -> None:
    assert db
