"""`odds model next-season`: issue 18's frozen design on a test season, in one command (engine, database).

It must give exactly what the pre-registered protocol's commands give (`odds model train --until`, then
`odds model evaluate --kind K` for every kind), judge the pre-registered choice, write the JSON, and stop
with one line and exit 2 when the season is not in the database.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from odds_analytics._synthetic_clv import simulate_market

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]


def _seed(seed_market, *frames: pd.DataFrame) -> None:
    from odds_models.db import dispose_engine

    async def work() -> None:
        await seed_market(*frames)
        await dispose_engine()

    asyncio.run(work())


async def _records() -> list:
    from sqlalchemy import select

    from odds_models.db import async_session_maker, dispose_engine
    from odds_models.tables import ModelRecord

    async with async_session_maker() as session:
        records = (await session.execute(select(ModelRecord))).scalars().all()
    await dispose_engine()
    return list(records)


def _season(n_games: int, start: datetime, seed: int, prefix: str) -> tuple[pd.DataFrame, ...]:
    odds, events, closing = simulate_market(n_games=n_games, seed=seed, start=start)
    rename = {e: f"{prefix}{e}" for e in events["event_id"]}
    return tuple(f.assign(event_id=f["event_id"].map(rename)) for f in (odds, events, closing))


def test_a_season_not_in_the_database_is_one_line_exit_2(db: str, odds, seed_market) -> None:
    # 2022-23 games only: the training season is there, the test season 2023-24 is not
    _seed(seed_market, *_season(30, datetime(2023, 3, 1, tzinfo=UTC), 3, "a"))
    odds.fails(2, r"season 2023-24: no spreads decisions with a closing line", "model", "next-season",
               "--season", "2023-24", "--market", "spreads")  # fmt: skip
    assert asyncio.run(_records()) == []  # it stopped before any training: nothing registered


def test_next_season_reproduces_train_and_evaluate(db: str, odds, seed_market, tmp_path: Path) -> None:
    from odds_analytics.model_goals import PREREGISTERED_KINDS, preregistered_choice

    # 2022-23 (May-June 2023) to train on, 2023-24 (from October) to test on
    train = _season(60, datetime(2023, 5, 1, tzinfo=UTC), 11, "t")
    test = _season(36, datetime(2023, 10, 24, tzinfo=UTC), 12, "s")
    _seed(seed_market, *(pd.concat([a, b], ignore_index=True) for a, b in zip(train, test, strict=True)))

    out = tmp_path / "next.json"
    code, text, err = odds(
        "model", "next-season", "--season", "2023-24", "--market", "spreads", "--out", str(out)
    )
    assert code == 0, err
    result = json.loads(out.read_text())
    assert (result["season"], result["train_until"], result["test_to"]) == (
        "2023-24",
        "2023-07-01",
        "2024-06-30",
    )
    report = result["markets"]["spreads"]
    assert list(report["kinds"]) == list(PREREGISTERED_KINDS)
    n_test = test[1]["event_id"].nunique()
    assert 0 < report["n"] <= len(test[0][["event_id", "snapshot_time"]].drop_duplicates())
    assert report["n"] >= n_test  # at least one decision per test game, none from the training season

    # the judged kind is the training run's lowest walk-forward RMSE (the pre-registered rule)
    records = asyncio.run(_records())
    walk_forward = {r.kind: r.metrics["walk_forward"] for r in records}
    assert len(records) == len(PREREGISTERED_KINDS)
    assert report["selected"] == preregistered_choice(walk_forward)
    assert {k: r["walk_forward_rmse"] for k, r in report["kinds"].items()} == {
        k: f["rmse"] for k, f in walk_forward.items()
    }

    # every kind's figures are exactly what `odds model evaluate --kind` prints for the same window
    for kind in (report["selected"], "ols", "no_change"):
        code, evaluated, err = odds("model", "evaluate", "--market", "spreads", "--kind", kind,
                                    "--from", "2023-07-01", "--to", "2024-06-30", "--json")  # fmt: skip
        assert code == 0, err
        evaluated = json.loads(evaluated)
        assert evaluated["model_id"] == report["model_ids"][kind]
        # the window in the same terms as next-season's: first and last day inclusive, plus the exclusive end
        assert (evaluated["date_from"], evaluated["date_to"]) == (result["test_from"], result["test_to"])
        assert (evaluated["date_from"], evaluated["date_to"]) == ("2023-07-01", "2024-06-30")
        assert evaluated["date_end_exclusive"] == "2024-07-01T00:00:00+00:00"
        row = report["kinds"][kind]
        for key in ("n", "rmse", "mae", "r2", "directional_accuracy", "n_moves", "skill_vs_no_change",
                    "skill_ci95", "clv_captured", "n_acted"):  # fmt: skip
            assert row[key] == evaluated[key], (kind, key)

    # the verdict is the goal applied to the judged kind's figures, and the output says it
    chosen = report["kinds"][report["selected"]]
    spreads_reached = (
        chosen["skill_vs_no_change"] >= 0.04
        and chosen["skill_ci95"][0] > 0
        and chosen["directional_accuracy"] >= 0.58
    )
    assert report["verdict"]["reached"] is spreads_reached
    assert f"spreads: {'REACHED' if spreads_reached else 'MISSED'} with {report['selected']}" in text
    assert Path(report["report"]["calibration.png"]).stat().st_size > 0
    assert Path(report["report"]["importance.png"]).stat().st_size > 0
