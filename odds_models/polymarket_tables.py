"""The Polymarket tables (Gamma events and markets, CLOB prices and books, backfill watermarks).

Re-exported by `odds_models.tables`, where every table of the pipeline can be imported from; the rules the
schema states itself are in that module's docstring.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from odds_models.columns import check_in, created_field, ts_field

LINK_STATUSES = ("unlinked", "linked", "ambiguous", "unmatched", "manual")
MARKET_TYPES = ("moneyline", "spread", "total", "player_prop", "futures", "other")
MARKET_PERIODS = ("game", "1h", "2h", "q1", "q2", "q3", "q4")
PRICE_SOURCES = ("poll", "backfill", "import")

__all__ = [
    "LINK_STATUSES",
    "MARKET_PERIODS",
    "MARKET_TYPES",
    "PRICE_SOURCES",
    "PolymarketBackfillWatermark",
    "PolymarketEvent",
    "PolymarketMarket",
    "PolymarketOrderbookSnapshot",
    "PolymarketPriceSnapshot",
]


class PolymarketEvent(SQLModel, table=True):
    """A Gamma event (one NBA game), linked to a sportsbook event when the match is unique."""

    __tablename__ = "polymarket_events"
    __table_args__ = (
        CheckConstraint(check_in("link_status", LINK_STATUSES), name="ck_polymarket_events_link_status"),
        Index("ix_polymarket_events_event_id", "event_id"),
    )

    id: str = Field(sa_type=Text, primary_key=True)  # Gamma event id, a string
    slug: str = Field(sa_type=Text, nullable=False, unique=True)
    ticker: str | None = Field(default=None, sa_type=Text)
    title: str = Field(default="", sa_type=Text, nullable=False)
    series_id: str | None = Field(default=None, sa_type=Text)
    event_date: date | None = Field(default=None, sa_type=Date)
    start_time: datetime | None = ts_field()
    game_start_time: datetime | None = ts_field()
    away_team: str | None = Field(default=None, sa_type=Text)
    home_team: str | None = Field(default=None, sa_type=Text)
    active: bool | None = Field(default=None, sa_type=Boolean)
    closed: bool | None = Field(default=None, sa_type=Boolean)
    ended: bool | None = Field(default=None, sa_type=Boolean)
    score: str | None = Field(default=None, sa_type=Text)
    event_id: str | None = Field(
        default=None, sa_column=Column(Text, ForeignKey("events.id", ondelete="SET NULL"), nullable=True)
    )
    link_status: str = Field(default="unlinked", sa_type=Text, nullable=False)
    link_note: str | None = Field(default=None, sa_type=Text)
    raw: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class PolymarketMarket(SQLModel, table=True):
    """A binary market. Token ids are strings (76-78 digits); `outcomes[i]` pairs with `token_ids[i]`."""

    __tablename__ = "polymarket_markets"
    __table_args__ = (
        CheckConstraint(check_in("market_type", MARKET_TYPES), name="ck_polymarket_markets_type"),
        CheckConstraint(check_in("period", MARKET_PERIODS), name="ck_polymarket_markets_period"),
        Index("ix_polymarket_markets_event", "polymarket_event_id"),
    )

    id: str = Field(sa_type=Text, primary_key=True)  # Gamma market id
    polymarket_event_id: str | None = Field(
        default=None,
        sa_column=Column(Text, ForeignKey("polymarket_events.id", ondelete="CASCADE"), nullable=True),
    )
    condition_id: str | None = Field(default=None, sa_type=Text, unique=True)
    slug: str | None = Field(default=None, sa_type=Text)
    question: str = Field(default="", sa_type=Text, nullable=False)
    market_type: str = Field(default="other", sa_type=Text, nullable=False)
    period: str = Field(default="game", sa_type=Text, nullable=False)
    team: str | None = Field(default=None, sa_type=Text)  # team the line applies to (full name)
    line: float | None = Field(default=None, sa_type=Float)  # signed as the question states it
    player: str | None = Field(default=None, sa_type=Text)
    stat: str | None = Field(default=None, sa_type=Text)
    sports_market_type: str | None = Field(default=None, sa_type=Text)
    outcomes: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    token_ids: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    game_start_time: datetime | None = ts_field()
    end_date: datetime | None = ts_field()
    active: bool | None = Field(default=None, sa_type=Boolean)
    closed: bool | None = Field(default=None, sa_type=Boolean)
    resolved_outcome: str | None = Field(default=None, sa_type=Text)
    raw: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    # Fee terms as Gamma states them (NULL: not stated; then a flagged default is used, never 0):
    # a taker pays shares x fee_rate x (p (1 - p)) ^ fee_exponent; fees_enabled false means free.
    fees_enabled: bool | None = Field(default=None, sa_type=Boolean)
    fee_rate: float | None = Field(default=None, sa_type=Float)
    fee_exponent: float | None = Field(default=None, sa_type=Float)
    fee_taker_only: bool | None = Field(default=None, sa_type=Boolean)
    fee_rebate_rate: float | None = Field(default=None, sa_type=Float)
    fee_type: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class PolymarketPriceSnapshot(SQLModel, table=True):
    """One token's price at one time. Polls store bid/ask/mid/spread; backfill stores the history price."""

    __tablename__ = "polymarket_price_snapshots"
    __table_args__ = (
        UniqueConstraint("token_id", "source", "snapshot_time", name="uq_pm_price_token_source_time"),
        CheckConstraint(check_in("source", PRICE_SOURCES), name="ck_pm_price_source"),
        Index("ix_pm_price_market_time", "market_id", "snapshot_time"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    market_id: str = Field(
        sa_column=Column(Text, ForeignKey("polymarket_markets.id", ondelete="CASCADE"), nullable=False)
    )
    token_id: str = Field(sa_type=Text, nullable=False)
    outcome: str | None = Field(default=None, sa_type=Text)
    source: str = Field(sa_type=Text, nullable=False)
    snapshot_time: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    price: float | None = Field(default=None, sa_type=Float)
    best_bid: float | None = Field(default=None, sa_type=Float)
    best_ask: float | None = Field(default=None, sa_type=Float)
    mid: float | None = Field(default=None, sa_type=Float)
    spread: float | None = Field(default=None, sa_type=Float)
    created_at: datetime = created_field()


class PolymarketOrderbookSnapshot(SQLModel, table=True):
    """An order book, levels sorted best-first (bids high to low, asks low to high)."""

    __tablename__ = "polymarket_orderbook_snapshots"
    __table_args__ = (
        UniqueConstraint("token_id", "snapshot_time", name="uq_pm_book_token_time"),
        Index("ix_pm_book_market_time", "market_id", "snapshot_time"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    market_id: str = Field(
        sa_column=Column(Text, ForeignKey("polymarket_markets.id", ondelete="CASCADE"), nullable=False)
    )
    token_id: str = Field(sa_type=Text, nullable=False)
    snapshot_time: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    book_time: datetime | None = ts_field()
    book_hash: str | None = Field(default=None, sa_type=Text)
    bids: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    asks: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    best_bid: float | None = Field(default=None, sa_type=Float)
    best_ask: float | None = Field(default=None, sa_type=Float)
    bid_depth: float = Field(default=0.0, sa_type=Float, nullable=False)
    ask_depth: float = Field(default=0.0, sa_type=Float, nullable=False)
    imbalance: float | None = Field(default=None, sa_type=Float)
    weighted_mid: float | None = Field(default=None, sa_type=Float)
    tick_size: float | None = Field(default=None, sa_type=Float)
    created_at: datetime = created_field()


class PolymarketBackfillWatermark(SQLModel, table=True):
    """How far a token's price history has been fetched, so a rerun fetches only what is missing."""

    __tablename__ = "polymarket_backfill_watermarks"

    token_id: str = Field(sa_type=Text, primary_key=True)
    market_id: str = Field(
        sa_column=Column(Text, ForeignKey("polymarket_markets.id", ondelete="CASCADE"), nullable=False)
    )
    covered_from: datetime | None = ts_field()
    covered_to: datetime | None = ts_field()
    points: int = Field(default=0, sa_type=Integer, nullable=False)
    last_success_at: datetime | None = ts_field()
    last_error: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = created_field()
