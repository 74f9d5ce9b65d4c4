"""The demo end to end, through the Prefect engine, the replay service (loopback) and PostgreSQL: every
flow stores rows, a run with faults ends with the same rows as a clean one, a rerun duplicates nothing,
and a sentinel API key appears nowhere (logs, errors, report, stored URLs, database rows, artifacts)."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest

from flows.demo import run_demo
from replay.simulate import SimulatedSource
from replay.stage import DemoOptions

pytestmark = [
    pytest.mark.db,
    pytest.mark.engine,
    pytest.mark.slow,
    pytest.mark.usefixtures("prefect_harness"),
]

SEED = 3


@pytest.fixture(scope="module")
def replay_db(pg_url: str) -> str:
    """A database of its own on the test server (`odds_replay_test`): the demo empties it (`reset=True`)
    at each run, and no other test's truncation can cut into a run. Its tables are made afresh (through the
    test guard), so a schema change since the last session never meets an old table."""
    from odds_models.dburl import with_database
    from odds_models.testing import prepare_test_database

    return prepare_test_database(with_database(pg_url, "odds_replay_test"))


def _options(db: str, report_dir: Path, **kwargs: object) -> DemoOptions:
    start = SimulatedSource(seed=SEED).default_start() + timedelta(hours=9, minutes=30)  # 21:30 UTC
    return DemoOptions(seed=SEED, database_url=db, report_dir=report_dir, analysis=False, start=start,
                       hours=5.0, fine_minutes=60, pm_lead_hours=6.0, fingerprints=True, **kwargs)  # type: ignore[arg-type]  # fmt: skip


def _credits_logged(result: object) -> int:
    """The Odds API credits the run's `fetch_logs` counted."""
    return sum(r["credits"] for r in result.figures["fetch_logs"] if r["api"] == "oddsapi")  # type: ignore[attr-defined]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


async def _db_text(url: str) -> str:
    import asyncpg
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        parts = []
        for table in SQLModel.metadata.sorted_tables:
            rows = await conn.fetch(f'SELECT t::text AS row FROM "{table.name}" t')
            parts += [r["row"] for r in rows]
        return "\n".join(parts)
    finally:
        await conn.close()


def _demo_prefect_rows(home: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of the demo's own Prefect database (SQLite under its PREFECT_HOME)."""
    with closing(sqlite3.connect(home / "prefect.db")) as conn:
        return conn.execute(sql).fetchall()


def _artifact_text(home: Path) -> str:
    rows = _demo_prefect_rows(home, "SELECT data, description FROM artifact")
    assert rows, "the demo published no artifact on its own server"
    return "\n".join(f"{data}{description}" for data, description in rows)


async def _user_server_ids() -> set[str]:
    """Ids of the flow runs and artifacts already on the server PREFECT_API_URL points at (other tests' runs)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort

    async with get_client() as client:  # the newest first: the demo's would be the newest
        runs = await client.read_flow_runs(limit=200, sort=FlowRunSort.EXPECTED_START_TIME_DESC)
        artifacts = await client.read_artifacts(limit=200, sort=ArtifactSort.CREATED_DESC)
    return {str(r.id) for r in runs} | {str(a.id) for a in artifacts}


async def _user_server_demo_runs(before: set[str]) -> list[str]:
    """Flow runs and picks artifacts that appeared on the server PREFECT_API_URL points at (here the test
    harness: the user's server) since `before`: a demo that kept to its own server leaves none."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import ArtifactSort, FlowRunSort

    async with get_client() as client:  # the newest first: the demo's would be the newest
        runs = await client.read_flow_runs(limit=200, sort=FlowRunSort.EXPECTED_START_TIME_DESC)
        artifacts = await client.read_artifacts(limit=200, sort=ArtifactSort.CREATED_DESC)
    return [r.name for r in runs if str(r.id) not in before] + [
        str(a.key) for a in artifacts if str(a.id) not in before
    ]


def test_demo_flows_faults_rerun_and_sentinel_key(
    replay_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from odds_models.db import run_coro_blocking

    # 1. a clean run: every flow ran and stored rows
    before = run_coro_blocking(_user_server_ids())
    clean = run_demo(_options(replay_db, tmp_path / "clean", reset=True))
    steps = clean.steps
    assert not steps["failures"], steps["failures"]
    for name in ("sync-events", "fetch-odds", "fetch-scores", "discover-polymarket", "poll-polymarket-prices",
                 "link-polymarket", "backfill-odds-history", "backfill-polymarket-history"):  # fmt: skip
        assert steps["runs"].get(name, 0) >= 1, name
    counts = clean.figures["counts"]
    for table in ("events", "odds_snapshots", "odds", "fetch_logs", "polymarket_events", "polymarket_markets",
                  "polymarket_price_snapshots", "polymarket_orderbook_snapshots"):  # fmt: skip
        assert counts[table] > 0, table
    assert clean.figures["events_by_status"].get("final", 0) >= 1
    assert clean.figures["links"].get("linked", 0) >= 1
    assert clean.replay["credits_used"] > 0
    assert _credits_logged(clean) == clean.replay["credits_used"]  # fetch_logs agrees with the API's ledger
    assert (tmp_path / "clean" / "report.md").read_text().startswith("# odds-pipeline demo report")
    # the replay serves fee terms as Gamma does; discovery stored them and the report lists them
    pm_fees = clean.figures["pm_fees"]
    assert any(k.startswith("sports_fees_v3 0.03·(p(1−p))^1") for k in pm_fees), pm_fees
    assert "Fee terms of the Polymarket markets" in (tmp_path / "clean" / "report.md").read_text()
    assert (tmp_path / "clean" / "line_movement.png").stat().st_size > 10_000
    fingerprints = clean.figures["fingerprints"]
    # the demo ran on its own Prefect server: PREFECT_API_URL (the harness here, a user's server in real life)
    # got none of its runs or artifacts; its runs are tagged and named `demo`
    assert run_coro_blocking(_user_server_demo_runs(before)) == []
    runs = _demo_prefect_rows(clean.prefect_home, "SELECT name, tags FROM flow_run")
    assert any(name.startswith("demo fetch-odds ") for name, _ in runs), runs[:5]
    assert all(name.startswith("demo ") and "demo" in str(tags) for name, tags in runs), runs[:5]

    # 2. the same span with every kind of fault and a sentinel key: the same rows, the key nowhere
    sentinel = f"SENTINEL-{uuid.uuid4().hex}"
    monkeypatch.setenv("ODDS_API_KEY", sentinel)
    collect = _Collect()
    loggers = [logging.getLogger(), logging.getLogger("prefect"), logging.getLogger("uvicorn")]
    for logger in loggers:
        logger.addHandler(collect)
    try:
        faulty = run_demo(_options(replay_db, tmp_path / "faulty", reset=True, faults=True))
    finally:
        for logger in loggers:
            logger.removeHandler(collect)
    assert sum(faulty.replay["faults_injected"].values()) >= 10
    assert not faulty.steps["failures"], faulty.steps["failures"]
    # every attempt the replay charged (cut bodies, timeouts after the charge included) is in fetch_logs
    assert _credits_logged(faulty) == faulty.replay["credits_used"]
    for table, found in faulty.figures["fingerprints"].items():
        assert found["duplicates"] == 0, table
        assert sorted(found["rows"], key=repr) == sorted(fingerprints[table]["rows"], key=repr), table
    assert any("retrying" in line for line in collect.lines)  # the faults were seen and absorbed
    out = capsys.readouterr()
    haystacks = {
        "logs": "\n".join(collect.lines),
        "stdout/stderr": out.out + out.err,
        "report": "\n".join(p.read_text(errors="replace") for p in (tmp_path / "faulty").glob("*.*")
                            if p.suffix in (".md", ".json")),
        "steps": repr(faulty.steps),
        "database": run_coro_blocking(_db_text(replay_db)),
        "artifacts": _artifact_text(faulty.prefect_home),
    }  # fmt: skip
    assert "/v4/sports" in haystacks["database"]  # fetch_logs endpoints were stored...
    for where, text in haystacks.items():
        assert sentinel not in text, f"the API key leaked into {where}"  # ...without the key

    # 3. a rerun over the same data adds no duplicate and changes no stored row
    monkeypatch.delenv("ODDS_API_KEY")
    again = run_demo(_options(replay_db, tmp_path / "again"))
    for table, found in again.figures["fingerprints"].items():
        assert found["duplicates"] == 0, table
        assert set(fingerprints[table]["rows"]) <= set(found["rows"]), table
    # (a rerun may add snapshots at other moments: the tier planner sees the first run's snapshots)
