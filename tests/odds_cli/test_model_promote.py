"""`odds model promote` and `odds model list`: promotion is explicit, gated and recorded (who, when, why)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import OddsCommand

pytestmark = [pytest.mark.db]


def _figures(skill: float, low: float, high: float, folds: int = 3) -> dict[str, Any]:
    return {
        "walk_forward": {
            "n": 500, "folds": folds, "skill_vs_no_change": skill, "skill_ci95": [low, high],
            "clv_captured": 0.1, "n_acted": 120,
        },
        "selected": False,
    }  # fmt: skip


async def _register(rows: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    from odds_models.db import async_session_maker, dispose_engine
    from odds_models.tables import ModelRecord

    ids = []
    async with async_session_maker() as session:
        for kind, version, metrics in rows:
            record = ModelRecord(
                name=f"clv-spreads-{kind}", version=version, market="spreads", kind=kind, features=[],
                params={}, metrics=metrics, data_from=datetime(2022, 1, 22, tzinfo=UTC),
                data_until=datetime(2023, 6, 12, tzinfo=UTC), artifact_path=None,
            )  # fmt: skip
            session.add(record)
            await session.flush()
            ids.append(int(record.id or 0))
        await session.commit()
    await dispose_engine()
    return ids


def test_promote_records_history_and_changes_the_live_model(
    db: str, odds: OddsCommand, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, better, crossing, no_fold = asyncio.run(
        _register([
            ("ols", "a1", _figures(0.03, 0.010, 0.050)),
            ("ridge", "b2", _figures(0.04, 0.015, 0.060)),
            ("xgboost", "c3", _figures(0.05, -0.004, 0.100)),
            ("ols_ext", "d4", _figures(0.20, 0.100, 0.300, folds=0)),
        ])
    )  # fmt: skip
    code, out, _ = odds("model", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    assert listed["live"] == {}
    assert listed["promotions"] == []
    assert {m["id"]: m["gate"]["passed"] for m in listed["models"]} == {
        good: True,
        better: True,
        crossing: False,
        no_fold: False,
    }

    # a model whose interval crosses 0, or with no walk-forward fold, is refused: exit 1, nothing written
    odds.fails(1, r"crosses 0", "model", "promote", str(crossing))
    odds.fails(1, r"no walk-forward fold", "model", "promote", str(no_fold))
    odds.fails(1, r"no model with id 999999", "model", "promote", "999999")
    assert json.loads(odds("model", "list", "--json")[1])["promotions"] == []

    code, out, _ = odds("model", "promote", str(good), "--by", "alice", "--reason", "first validated model")
    assert code == 0, out
    assert f"live model is now model {good} ols" in out
    code, out, _ = odds("model", "promote", str(better), "--by", "bob", "--reason", "narrower interval")
    assert code == 0, out

    listed = json.loads(odds("model", "list", "--json")[1])
    assert listed["live"] == {"spreads": better}
    assert [m["id"] for m in listed["models"] if m["live"]] == [better]
    history = listed["promotions"]  # newest first
    assert [(p["model_id"], p["previous_model_id"], p["promoted_by"], p["reason"]) for p in history] == [
        (better, good, "bob", "narrower interval"),
        (good, None, "alice", "first validated model"),
    ]
    assert all(p["promoted_at"] for p in history)

    # the human table names the window, skill, interval, n and the live one
    from odds_cli.common import console

    monkeypatch.setattr(console, "width", 200)
    code, out, _ = odds("model", "list", "--market", "spreads")
    assert code == 0
    assert "2022-01-22 → 2023-06-12" in out
    assert "LIVE" in out
    assert "[+0.0150, +0.0600]" in out
    assert "h2h" not in out  # only the market asked for
