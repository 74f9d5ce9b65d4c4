"""Fee terms per market in PostgreSQL: stored from Gamma on discovery, refreshed, and back-filled from `raw`
by migration 0006 for markets stored before it."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from odds_analytics.polymarket.gamma import parse_gamma_event
from odds_models.db import async_session_maker
from tasks.storage.polymarket_markets import upsert_events
from tests.support.pm_fakes import gamma_event, now_floor, spread_market, token

pytestmark = pytest.mark.db

NOW = now_floor()
ROOT = Path(__file__).resolve().parents[3]
_FEE_COLUMNS = "fees_enabled, fee_rate, fee_exponent, fee_taker_only, fee_rebate_rate, fee_type"


def _event(moneyline_fees: dict, spread_fees: dict) -> dict:
    slug = "nba-bos-nyk-2026-12-05"
    event = gamma_event(
        "701",
        slug,
        game_start=NOW + timedelta(hours=5),
        market_start=NOW - timedelta(days=2),
        tokens=(token(71), token(72)),
        extra_markets=[spread_market("7015", slug, (token(73), token(74)))],
    )
    event["markets"][0].update(moneyline_fees)
    event["markets"][1].update(spread_fees)
    return event


async def _fees() -> dict[str, tuple]:
    async with async_session_maker() as session:
        rows = await session.execute(text(f"SELECT id, {_FEE_COLUMNS} FROM polymarket_markets ORDER BY id"))
        return {r[0]: tuple(r[1:]) for r in rows.all()}


async def test_fee_terms_are_stored_refreshed_and_null_when_unstated(db: str) -> None:
    sports = {"feesEnabled": True, "feeType": "sports_fees_v3",
              "feeSchedule": {"rate": 0.03, "exponent": 1, "takerOnly": True, "rebateRate": 0.25}}  # fmt: skip
    async with async_session_maker() as session:
        await upsert_events(session=session, events=[parse_gamma_event(_event(sports, {}))], at=NOW)
        await session.commit()
    fees = await _fees()
    assert fees["7011"] == (True, 0.03, 1.0, True, 0.25, "sports_fees_v3")
    assert fees["7015"] == (None, None, None, None, None, None)  # unstated: NULL, never 0
    # a later discovery says the moneyline is now free: the stored terms follow Gamma
    async with async_session_maker() as session:
        event = _event(
            {"feesEnabled": False}, {"feesEnabled": True, "feeSchedule": {"rate": "0.02", "exponent": 2}}
        )
        await upsert_events(session=session, events=[parse_gamma_event(event)], at=NOW + timedelta(minutes=5))
        await session.commit()
    fees = await _fees()
    assert fees["7011"] == (False, None, None, None, None, None)
    assert fees["7015"] == (True, 0.02, 2.0, None, None, None)


async def test_migration_backfill_reads_the_stored_gamma_payload(db: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "m0006", ROOT / "migrations/versions/20261204_0006_polymarket_fee_terms.py"
    )
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    crypto = {"feesEnabled": True, "feeType": "crypto_fees",
              "feeSchedule": {"exponent": 2, "rate": 0.25, "takerOnly": True, "rebateRate": 0.2}}  # fmt: skip
    odd = {"feesEnabled": "yes", "feeSchedule": {"rate": "-1", "exponent": "x"}}  # unreadable: NULL
    async with async_session_maker() as session:
        await upsert_events(session=session, events=[parse_gamma_event(_event(crypto, odd))], at=NOW)
        # as stored before 0006: the columns empty, the payload in `raw`
        await session.execute(
            text(f"UPDATE polymarket_markets SET ({_FEE_COLUMNS}) = (NULL, NULL, NULL, NULL, NULL, NULL)")
        )
        await session.execute(text(migration._BACKFILL))
        await session.commit()
    fees = await _fees()
    assert fees["7011"] == (True, 0.25, 2.0, True, 0.2, "crypto_fees")
    assert fees["7015"] == (None, None, None, None, None, None)
