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
- Promotion is explicit and recorded: `promote_model` checks the gate (`odds_analytics.model_gate`) on the
  model's stored walk-forward figures and appends a `model_promotions` row (who, when, why); the newest row
  of a market names its live model (`live_model`), the only one `predict` publishes picks from. Training
  registers candidates and never changes the live model by itself.
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
from odds_analytics.model_gate import GateVerdict, gate
from odds_models.clock import now
from odds_models.db import async_session_maker
from odds_models.errors import OddsPipelineError
from odds_models.settings import get_settings
from odds_models.tables import ModelPromotion, ModelRecord, Prediction
from tasks.retry import DB_WRITE_RETRY

_PREDICTION_CHUNK = 1000

__all__ = [
    "PromotionRefused",
    "get_latest_model",
    "get_latest_model_task",
    "get_live_model",
    "get_live_model_task",
    "latest_model",
    "list_models",
    "live_model",
    "load_model_file",
    "model_info",
    "model_verdict",
    "promote_model",
    "promote_model_recorded",
    "promote_model_recorded_task",
    "register_models",
    "register_models_task",
    "save_model_file",
    "upsert_model",
    "upsert_predictions",
    "write_predictions",
    "write_predictions_task",
]


class PromotionRefused(OddsPipelineError):
    """The model does not pass the gate (or does not exist): it cannot become the live model."""


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
        "exp_return",
        "features",
    ]
    stmt = stmt.on_conflict_do_update(
        constraint="uq_predictions_key", set_={c: getattr(stmt.excluded, c) for c in updatable}
    )
    await session.execute(stmt)


def model_verdict(record: ModelRecord) -> GateVerdict:
    """The gate's verdict on a registered model, from its stored walk-forward figures."""
    figures = (record.metrics or {}).get("walk_forward") or {}
    return gate({"kind": record.kind, **figures})


def model_info(record: ModelRecord, *, live: bool = False) -> dict[str, Any]:
    """What names a model wherever its picks or figures are shown: id, kind, window, skill, interval, n."""
    figures = (record.metrics or {}).get("walk_forward") or {}
    verdict = model_verdict(record)
    return {
        "id": int(record.id or 0),
        "name": record.name,
        "version": record.version,
        "market": record.market,
        "kind": record.kind,
        "data_from": record.data_from,
        "data_until": record.data_until,
        "n": figures.get("n"),
        "folds": figures.get("folds"),
        "skill": figures.get("skill_vs_no_change"),
        "skill_ci95": figures.get("skill_ci95"),
        "clv_captured": figures.get("clv_captured"),
        "n_acted": figures.get("n_acted"),
        "candidate": bool((record.metrics or {}).get("selected")),
        "gate": verdict.as_dict(),
        "live": live,
        "created_at": record.created_at,
    }


async def live_model(*, session: AsyncSession, market: str) -> ModelRecord | None:
    """The live model of `market`: the model of its newest promotion, or None (none was ever promoted)."""
    stmt = (
        select(ModelRecord)
        .join(ModelPromotion, ModelPromotion.model_id == ModelRecord.id)
        .where(ModelPromotion.market == market)
        .order_by(ModelPromotion.promoted_at.desc(), ModelPromotion.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


async def promote_model(
    *, session: AsyncSession, model_id: int, promoted_by: str, reason: str
) -> dict[str, Any]:
    """Make `model_id` the live model of its market if it passes the gate; record who, when and why.

    Raises `PromotionRefused` (nothing written) when the model is unknown or fails the gate.
    """
    record = await session.get(ModelRecord, model_id)
    if record is None:
        raise PromotionRefused(f"no model with id {model_id} (see `odds model list`)")
    verdict = model_verdict(record)
    if not verdict.passed:
        raise PromotionRefused(f"model {model_id} ({record.name}) fails the gate: {verdict.reason}")
    previous = await live_model(session=session, market=record.market)
    row = ModelPromotion(
        market=record.market,
        model_id=model_id,
        previous_model_id=previous.id if previous is not None else None,
        promoted_by=promoted_by,
        reason=reason,
        gate=verdict.as_dict(),
        promoted_at=now(),
    )
    session.add(row)
    await session.flush()
    return {
        "promotion_id": row.id,
        "market": record.market,
        "model": model_info(record, live=True),
        "previous_model_id": row.previous_model_id,
        "promoted_by": promoted_by,
        "promoted_at": row.promoted_at,
        "reason": reason,
    }


async def list_models(*, session: AsyncSession, market: str | None = None) -> dict[str, Any]:
    """Every registered model (newest first) with its window, skill, interval, n and which one is live, and
    the promotion history."""
    stmt = select(ModelRecord).order_by(ModelRecord.created_at.desc(), ModelRecord.id.desc())
    hist = select(ModelPromotion).order_by(ModelPromotion.promoted_at.desc(), ModelPromotion.id.desc())
    if market:
        stmt = stmt.where(ModelRecord.market == market)
        hist = hist.where(ModelPromotion.market == market)
    records = (await session.execute(stmt)).scalars().all()
    promotions = (await session.execute(hist)).scalars().all()
    live_ids = {}
    for p in promotions:  # newest first: the first row of each market names its live model
        live_ids.setdefault(p.market, p.model_id)
    return {
        "models": [model_info(r, live=live_ids.get(r.market) == r.id) for r in records],
        "live": live_ids,
        "promotions": [
            {
                "id": p.id,
                "market": p.market,
                "model_id": p.model_id,
                "previous_model_id": p.previous_model_id,
                "promoted_by": p.promoted_by,
                "promoted_at": p.promoted_at,
                "reason": p.reason,
            }
            for p in promotions
        ],
    }


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


async def get_live_model(market: str) -> tuple[int, ClvModel, dict[str, Any]] | None:
    """The live (promoted) model of a market, loaded, if it still passes the gate: (id, model, info)."""
    async with async_session_maker() as session:
        record = await live_model(session=session, market=market)
    if record is None or record.artifact_path is None or not model_verdict(record).passed:
        return None
    return int(record.id or 0), load_model_file(record.artifact_path), model_info(record, live=True)


get_live_model_task = task(get_live_model, cache_policy=NONE, task_run_name="live-model-{market}")


async def promote_model_recorded(model_id: int, promoted_by: str, reason: str) -> dict[str, Any]:
    """Promote a model that passes the gate (one `model_promotions` row); raises `PromotionRefused`."""
    async with async_session_maker() as session:
        out = await promote_model(session=session, model_id=model_id, promoted_by=promoted_by, reason=reason)
        await session.commit()
    return out


promote_model_recorded_task = task(
    promote_model_recorded, **DB_WRITE_RETRY, task_run_name="promote-model-{model_id}"
)
