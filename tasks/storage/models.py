"""The model registry (`models`), model artifacts on disk, and `predictions` rows.

    async with async_session_maker() as session:
        model_id = await upsert_model(session=session, record=record)
        n = await upsert_predictions(session=session, rows=[...])
        await session.commit()

- A model is one row per (name, version); the version is a content hash of the fitted model, so saving
  the same fit twice is one row (its metrics are refreshed). The fitted model itself is a JSON file under
  `get_settings().models_dir` (OLS coefficients and imputation means, or the XGBoost booster as JSON):
  no pickle, so loading a model file never runs code.
- Predictions are upserted on (model_id, event_id, market, outcome, decision_time).
- Plain `async def` functions take a session (tests call them); the Prefect tasks open their own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.clv_model import ClvModel, model_from_dict
from odds_analytics.clv_training import ModelEntry
from odds_analytics.jsonsafe import json_safe
from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from odds_models.tables import ModelRecord, Prediction
from tasks.retry import DB_WRITE_RETRY

_PREDICTION_CHUNK = 1000

__all__ = [
    "get_latest_model",
    "get_latest_model_task",
    "latest_model",
    "load_model_file",
    "register_models",
    "register_models_task",
    "save_model_file",
    "upsert_model",
    "upsert_predictions",
    "write_predictions",
    "write_predictions_task",
]


def save_model_file(model: ClvModel, directory: Path | None = None) -> Path:
    """Write the fitted model as JSON under `directory` (default: the models folder); returns the path."""
    directory = directory or get_settings().models_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"clv-{model.market}-{model.kind}-{model.fingerprint()}.json"
    path.write_text(json.dumps(model.to_dict(), default=json_safe))
    return path


def load_model_file(path: str | Path) -> ClvModel:
    """Read a model saved by `save_model_file`."""
    return model_from_dict(json.loads(Path(path).read_text()))


async def upsert_model(*, session: AsyncSession, entry: ModelEntry, artifact_path: str | None) -> int:
    """Insert the model (or refresh metrics of the same name and version); returns its id."""
    metrics = json_safe({**entry.metrics, "selected": entry.selected})
    values = {
        "name": entry.name,
        "version": entry.version,
        "market": entry.model.market,
        "kind": entry.model.kind,
        "features": list(entry.model.features),
        "params": json_safe(entry.model.params),
        "metrics": metrics,
        "data_from": entry.data_from,
        "data_until": entry.data_until,
        "artifact_path": artifact_path,
    }
    stmt = insert(ModelRecord).values(**values)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_models_name_version",
        set_={
            "metrics": stmt.excluded.metrics,
            "artifact_path": stmt.excluded.artifact_path,
            "created_at": stmt.excluded.created_at,
        },
    ).returning(ModelRecord.id)
    result = await session.execute(stmt)
    return int(result.scalar_one())


async def latest_model(
    *, session: AsyncSession, market: str, kind: str | None = None, trained_until: datetime | None = None
) -> ModelRecord | None:
    """The newest registered model for `market`: of `kind`, or the one its training run selected.

    `trained_until`: only models whose data ends at or before this time (out-of-sample scoring).
    """
    stmt = select(ModelRecord).where(ModelRecord.market == market)
    if kind:
        stmt = stmt.where(ModelRecord.kind == kind)
    else:
        stmt = stmt.where(ModelRecord.metrics["selected"].as_boolean())
    if trained_until is not None:
        stmt = stmt.where(ModelRecord.data_until <= trained_until)
    stmt = stmt.order_by(ModelRecord.created_at.desc(), ModelRecord.id.desc()).limit(1)
    result = await session.execute(stmt)
    return result.scalars().first()


async def upsert_predictions(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Upsert prediction rows (keys as `predictions` columns) on their unique key; returns the count."""
    if not rows:
        return 0
    for start in range(0, len(rows), _PREDICTION_CHUNK):  # asyncpg takes at most 32,767 bind values
        await _upsert_prediction_chunk(rows[start : start + _PREDICTION_CHUNK], session=session)
    return len(rows)


async def _upsert_prediction_chunk(rows: Sequence[dict[str, Any]], *, session: AsyncSession) -> None:
    clean = [json_safe(row) | {"decision_time": row["decision_time"]} for row in rows]
    stmt = insert(Prediction).values(clean)
    updatable = [
        "current_value",
        "predicted_delta",
        "predicted_close",
        "best_venue",
        "best_price_decimal",
        "expected_clv",
        "features",
    ]
    stmt = stmt.on_conflict_do_update(
        constraint="uq_predictions_key", set_={c: getattr(stmt.excluded, c) for c in updatable}
    )
    await session.execute(stmt)


# --------------------------------------------------------------------------------------------------------
# Prefect tasks
# --------------------------------------------------------------------------------------------------------


async def register_models(entries: list[ModelEntry]) -> list[dict[str, Any]]:
    """Save each fitted model's file and its registry row; returns name, kind, version, id, path."""
    out = []
    async with async_session_maker() as session:
        for entry in entries:
            path = save_model_file(entry.model)
            model_id = await upsert_model(session=session, entry=entry, artifact_path=str(path))
            out.append(
                {
                    "id": model_id,
                    "name": entry.name,
                    "kind": entry.model.kind,
                    "version": entry.version,
                    "path": str(path),
                    "selected": entry.selected,
                }
            )
        await session.commit()
    return out


register_models_task = task(register_models, **DB_WRITE_RETRY, task_run_name="register-models")


async def get_latest_model(
    market: str, kind: str | None = None, trained_until: datetime | None = None
) -> tuple[int, ClvModel, dict[str, Any]] | None:
    """The newest registered model of a market (selected, or of `kind`), loaded: (id, model, row info)."""
    async with async_session_maker() as session:
        record = await latest_model(session=session, market=market, kind=kind, trained_until=trained_until)
    if record is None or record.artifact_path is None:
        return None
    info = {
        "id": record.id,
        "name": record.name,
        "version": record.version,
        "kind": record.kind,
        "data_from": record.data_from,
        "data_until": record.data_until,
        "metrics": record.metrics,
    }
    return int(record.id or 0), load_model_file(record.artifact_path), info


get_latest_model_task = task(get_latest_model, cache_policy=NONE, task_run_name="latest-model-{market}")


async def write_predictions(rows: list[dict[str, Any]]) -> int:
    """Upsert `predictions` rows; returns how many."""
    async with async_session_maker() as session:
        n = await upsert_predictions(session=session, rows=rows)
        await session.commit()
    return n


write_predictions_task = task(write_predictions, **DB_WRITE_RETRY, task_run_name="write-predictions")
