"""The demo's own Prefect server (`replay.prefect_server`): launched without blocking, healthy on wait, and
started from the kept copy of a freshly migrated database it ends with the very schema a fresh migration
gives (so the copy skips work without changing what the server stores)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from odds_models.settings import get_settings
from replay.prefect_server import DemoPrefectServer, migrated_template

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _schema(database: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str]], int]:
    """Every table, index and trigger with its SQL, the migration revision, and how many flow runs."""
    with closing(sqlite3.connect(database)) as conn:
        objects = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
        runs = conn.execute("SELECT count(*) FROM flow_run").fetchone()[0]
    return objects, revision, runs


def test_a_server_started_from_the_kept_copy_has_the_freshly_migrated_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ODDS_HOME", str(tmp_path / "odds-home"))
    get_settings.cache_clear()
    template = migrated_template()
    assert not template.exists()

    first = DemoPrefectServer.launch(tmp_path / "first")
    assert first.fresh
    assert not first.from_template
    try:
        first.wait(timeout=180)
    finally:
        first.stop()
    assert template.is_file()  # kept right after the first server answered

    second = DemoPrefectServer.launch(tmp_path / "second")
    assert second.from_template
    try:
        second.wait(timeout=180)
    finally:
        second.stop()
    fresh, copied = _schema(tmp_path / "first" / "prefect.db"), _schema(tmp_path / "second" / "prefect.db")
    assert copied == fresh
    assert fresh[1]
    assert fresh[2] == 0
    get_settings.cache_clear()
