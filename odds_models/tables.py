"""Every table of the pipeline, as SQLModel classes.

Rules the schema states itself (see docs/DATABASE.md):
- every time is `timestamptz` (aware UTC datetimes in Python);
- raw payloads are JSONB;
- statuses and kinds are text with CHECK constraints, never PostgreSQL enums (adding a value is a
  one-line migration, not an `ALTER TYPE`);
- every table that receives data from outside has the unique key that makes re-running a write a no-op.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
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
    event,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from odds_models.odds_states import INSTALL_STATEMENTS

__all__ = [
    "BACKTEST_STATUSES",
    "BET_MARKETS",
    "BET_RESULTS",
    "BET_SIDES",
    "BET_SOURCES",
    "CLOSING_KINDS",
    "EVENT_STATUSES",
    "LINK_STATUSES",
    "MARKET_PERIODS",
    "MARKET_TYPES",
    "PRICE_SOURCES",
    "SEVERITIES",
    "BacktestRun",
    "Bet",
    "ClosingLine",
    "DataQualityLog",
    "Event",
    "FetchLog",
    "ModelPromotion",
    "ModelRecord",
    "Odds",
    "OddsSnapshot",
    "OddsState",
    "PolymarketBackfillWatermark",
    "PolymarketEvent",
    "PolymarketMarket",
    "PolymarketOrderbookSnapshot",
    "PolymarketPriceSnapshot",
    "Prediction",
    "utc_now",
]

EVENT_STATUSES = ("scheduled", "live", "final", "postponed", "cancelled")
# The lifecycle order: a sync may move a status forward, never back (postponed/cancelled can be undone
# only by a later scores call that sees the game again).
SEVERITIES = ("info", "warning", "error")
LINK_STATUSES = ("unlinked", "linked", "ambiguous", "unmatched", "manual")
MARKET_TYPES = ("moneyline", "spread", "total", "player_prop", "futures", "other")
MARKET_PERIODS = ("game", "1h", "2h", "q1", "q2", "q3", "q4")
PRICE_SOURCES = ("poll", "backfill", "import")
CLOSING_KINDS = ("open", "close")
BACKTEST_STATUSES = ("completed", "failed")
BET_SOURCES = ("manual", "paper")
BET_MARKETS = ("h2h", "spreads", "totals")
BET_SIDES = ("home", "away", "over", "under")
BET_RESULTS = ("win", "loss", "push", "void")


def utc_now() -> datetime:
    """Default for created/updated columns."""
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable, index=index)


def _created() -> Any:
    return Field(
        default_factory=utc_now,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": text("now()")},
    )


# --------------------------------------------------------------------------------------------------------
# Sportsbook side (The Odds API)
# --------------------------------------------------------------------------------------------------------


class Event(SQLModel, table=True):
    """A game. `id` is The Odds API's 32-hex id (shared by /events, /odds, /scores); games created by an
    import that The Odds API never listed get a deterministic `imp_...` id."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(_in("status", EVENT_STATUSES), name="ck_events_status"),
        Index("ix_events_commence_time", "commence_time"),
        Index("ix_events_teams_time", "home_team", "away_team", "commence_time"),
    )

    id: str = Field(sa_type=Text, primary_key=True)
    sport_key: str = Field(default="basketball_nba", sa_type=Text, nullable=False)
    home_team: str = Field(sa_type=Text, nullable=False)
    away_team: str = Field(sa_type=Text, nullable=False)
    commence_time: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    status: str = Field(default="scheduled", sa_type=Text, nullable=False)
    home_score: int | None = Field(default=None, sa_type=Integer)
    away_score: int | None = Field(default=None, sa_type=Integer)
    scores_updated_at: datetime | None = _ts()
    completed_at: datetime | None = _ts()
    origin: str = Field(default="oddsapi", sa_type=Text, nullable=False)  # oddsapi | import:<name>
    # The last paid /odds call that could have returned this game (it was listed and upcoming): a game with
    # no odds yet is due again only on its tier's cadence from this time (see odds_analytics.tiers).
    odds_requested_at: datetime | None = _ts()
    created_at: datetime = _created()
    updated_at: datetime = _created()


class OddsSnapshot(SQLModel, table=True):
    """One fetch of one event's odds from one source at one time: the raw bookmakers as JSONB.

    `markets` (the sorted market keys the snapshot holds, `odds_analytics.oddsapi.markets_key`) is part of
    the key: a featured-markets file and a player-props file of the same event and moment are two snapshots.
    """

    __tablename__ = "odds_snapshots"
    __table_args__ = (
        UniqueConstraint(
            "event_id",
            "source",
            "snapshot_time",
            "markets",
            name="uq_odds_snapshots_event_source_time_markets",
        ),
        Index("ix_odds_snapshots_event_time", "event_id", "snapshot_time"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    event_id: str = Field(sa_column=Column(Text, ForeignKey("events.id", ondelete="CASCADE"), nullable=False))
    source: str = Field(sa_type=Text, nullable=False)  # live | historical | import:<file kind>
    snapshot_time: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    # '' for a writer that names no markets (bulk loaders of generated data)
    markets: str = Field(
        default="", sa_type=Text, nullable=False, sa_column_kwargs={"server_default": text("''")}
    )
    fetch_tier: str | None = Field(default=None, sa_type=Text)
    hours_to_commence: float | None = Field(default=None, sa_type=Float)
    bookmaker_count: int = Field(default=0, sa_type=Integer, nullable=False)
    raw: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _created()


class Odds(SQLModel, table=True):
    """One price: (snapshot, bookmaker, market, outcome, description, point). `snapshot_time` is copied from
    the snapshot so as-of reads are one index range scan."""

    __tablename__ = "odds"
    __table_args__ = (
        UniqueConstraint(
            "snapshot_id", "bookmaker", "market", "outcome", "description", "point",
            name="uq_odds_snapshot_book_market_outcome",
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_odds_asof", "event_id", "market", "bookmaker", "snapshot_time"),
        Index("ix_odds_snapshot_time", "snapshot_time"),
    )  # fmt: skip

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    snapshot_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("odds_snapshots.id", ondelete="CASCADE"), nullable=False)
    )
    # Copied from the snapshot (no foreign key of its own: the snapshot's key already implies the event, and
    # a second FK check per row halves the bulk-write speed).
    event_id: str = Field(sa_type=Text, nullable=False)
    snapshot_time: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    bookmaker: str = Field(sa_type=Text, nullable=False)
    market: str = Field(sa_type=Text, nullable=False)
    outcome: str = Field(sa_type=Text, nullable=False)
    description: str = Field(default="", sa_type=Text, nullable=False)  # player name for props
    point: float | None = Field(default=None, sa_type=Float)
    price_decimal: float = Field(sa_type=Float, nullable=False)
    price_american: int | None = Field(default=None, sa_type=Integer)
    bookmaker_last_update: datetime | None = _ts()
    market_last_update: datetime | None = _ts()
    is_valid: bool = Field(default=True, sa_type=Boolean, nullable=False)
    notes: str | None = Field(default=None, sa_type=Text)


def _array(item: Any) -> Any:
    return Field(default_factory=list, sa_column=Column(ARRAY(item), nullable=False))


class OddsState(SQLModel, table=True):
    """Each event's book as of a snapshot time: per (market, bookmaker) of the featured markets, the rows of
    its newest snapshot at or before `snapshot_time`, as parallel arrays. Derived from `odds` and kept exact
    by triggers on `odds` (see `odds_models/odds_states.py`); the batch as-of reads use it."""

    __tablename__ = "odds_states"

    event_id: str = Field(
        sa_column=Column(Text, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, nullable=False)
    )
    snapshot_time: datetime = Field(sa_type=DateTime(timezone=True), primary_key=True, nullable=False)
    markets: list[str] = _array(Text)
    bookmakers: list[str] = _array(Text)
    outcomes: list[str] = _array(Text)
    descriptions: list[str] = _array(Text)
    points: list[float | None] = _array(Float)
    prices: list[float] = _array(Float)
    prices_american: list[int | None] = _array(Integer)
    valid: list[bool] = _array(Boolean)
    snapshot_times: list[datetime] = _array(DateTime(timezone=True))
    snapshot_ids: list[int] = _array(BigInteger)


@event.listens_for(SQLModel.metadata, "after_create")
def _install_odds_states(target: Any, connection: Any, **kw: Any) -> None:
    """`create_all` installs the triggers that maintain `odds_states`, as the migration does."""
    inspector = inspect(connection)
    if inspector.has_table("odds") and inspector.has_table("odds_states"):
        for statement in INSTALL_STATEMENTS:
            connection.exec_driver_sql(statement)


class ClosingLine(SQLModel, table=True):
    """An opening or closing line from a source other than our own snapshots (kaggle, sbr, ...)."""

    __tablename__ = "closing_lines"
    __table_args__ = (
        UniqueConstraint("event_id", "source", "kind", "market", "outcome", name="uq_closing_lines_key"),
        CheckConstraint(_in("kind", CLOSING_KINDS), name="ck_closing_lines_kind"),
        CheckConstraint(_in("market", ("h2h", "spreads", "totals")), name="ck_closing_lines_market"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    event_id: str = Field(sa_column=Column(Text, ForeignKey("events.id", ondelete="CASCADE"), nullable=False))
    source: str = Field(sa_type=Text, nullable=False)
    kind: str = Field(default="close", sa_type=Text, nullable=False)
    market: str = Field(sa_type=Text, nullable=False)
    outcome: str = Field(sa_type=Text, nullable=False)  # team full name, or Over / Under
    point: float | None = Field(default=None, sa_type=Float)
    price_american: int | None = Field(default=None, sa_type=Integer)
    price_decimal: float | None = Field(default=None, sa_type=Float)
    created_at: datetime = _created()


class FetchLog(SQLModel, table=True):
    """One API call: endpoint (never the key), cost and quota figures, status, latency, error.

    A paid Odds API call is first a reservation (inserted under an advisory lock before the call, `cost` =
    the credits reserved, `settled_at` NULL) and is settled in place after the call (real cost, status).
    """

    __tablename__ = "fetch_logs"
    __table_args__ = (Index("ix_fetch_logs_api_time", "api", "created_at"),)

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    api: str = Field(sa_type=Text, nullable=False)  # oddsapi | gamma | clob
    endpoint: str = Field(sa_type=Text, nullable=False)
    params: Any = Field(default=None, sa_column=Column(JSONB))
    status_code: int | None = Field(default=None, sa_type=Integer)
    cost: int | None = Field(default=None, sa_type=Integer)
    requests_used: int | None = Field(default=None, sa_type=Integer)
    requests_remaining: int | None = Field(default=None, sa_type=Integer)
    requests_last: int | None = Field(default=None, sa_type=Integer)
    latency_ms: float | None = Field(default=None, sa_type=Float)
    attempts: int = Field(default=1, sa_type=Integer, nullable=False)
    error: str | None = Field(default=None, sa_type=Text)
    flow_run_id: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _created()
    settled_at: datetime | None = _ts()  # NULL: a credit reservation whose call has not been settled yet


class DataQualityLog(SQLModel, table=True):
    """A validation finding. `fingerprint` makes re-validating the same data a no-op."""

    __tablename__ = "data_quality_logs"
    __table_args__ = (
        CheckConstraint(_in("severity", SEVERITIES), name="ck_data_quality_logs_severity"),
        Index("ix_data_quality_logs_created", "created_at"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    fingerprint: str = Field(sa_type=Text, nullable=False, unique=True)
    severity: str = Field(sa_type=Text, nullable=False)
    check_type: str = Field(sa_type=Text, nullable=False)
    source: str = Field(sa_type=Text, nullable=False)
    event_id: str | None = Field(default=None, sa_type=Text)
    bookmaker: str | None = Field(default=None, sa_type=Text)
    market: str | None = Field(default=None, sa_type=Text)
    snapshot_time: datetime | None = _ts()
    detail: str = Field(sa_type=Text, nullable=False)
    action: str = Field(default="kept", sa_type=Text, nullable=False)  # kept | rejected
    created_at: datetime = _created()


# --------------------------------------------------------------------------------------------------------
# Polymarket
# --------------------------------------------------------------------------------------------------------


class PolymarketEvent(SQLModel, table=True):
    """A Gamma event (one NBA game), linked to a sportsbook event when the match is unique."""

    __tablename__ = "polymarket_events"
    __table_args__ = (
        CheckConstraint(_in("link_status", LINK_STATUSES), name="ck_polymarket_events_link_status"),
        Index("ix_polymarket_events_event_id", "event_id"),
    )

    id: str = Field(sa_type=Text, primary_key=True)  # Gamma event id, a string
    slug: str = Field(sa_type=Text, nullable=False, unique=True)
    ticker: str | None = Field(default=None, sa_type=Text)
    title: str = Field(default="", sa_type=Text, nullable=False)
    series_id: str | None = Field(default=None, sa_type=Text)
    event_date: date | None = Field(default=None, sa_type=Date)
    start_time: datetime | None = _ts()
    game_start_time: datetime | None = _ts()
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
    created_at: datetime = _created()
    updated_at: datetime = _created()


class PolymarketMarket(SQLModel, table=True):
    """A binary market. Token ids are strings (76-78 digits); `outcomes[i]` pairs with `token_ids[i]`."""

    __tablename__ = "polymarket_markets"
    __table_args__ = (
        CheckConstraint(_in("market_type", MARKET_TYPES), name="ck_polymarket_markets_type"),
        CheckConstraint(_in("period", MARKET_PERIODS), name="ck_polymarket_markets_period"),
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
    game_start_time: datetime | None = _ts()
    end_date: datetime | None = _ts()
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
    created_at: datetime = _created()
    updated_at: datetime = _created()


class PolymarketPriceSnapshot(SQLModel, table=True):
    """One token's price at one time. Polls store bid/ask/mid/spread; backfill stores the history price."""

    __tablename__ = "polymarket_price_snapshots"
    __table_args__ = (
        UniqueConstraint("token_id", "source", "snapshot_time", name="uq_pm_price_token_source_time"),
        CheckConstraint(_in("source", PRICE_SOURCES), name="ck_pm_price_source"),
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
    created_at: datetime = _created()


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
    book_time: datetime | None = _ts()
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
    created_at: datetime = _created()


class PolymarketBackfillWatermark(SQLModel, table=True):
    """How far a token's price history has been fetched, so a rerun fetches only what is missing."""

    __tablename__ = "polymarket_backfill_watermarks"

    token_id: str = Field(sa_type=Text, primary_key=True)
    market_id: str = Field(
        sa_column=Column(Text, ForeignKey("polymarket_markets.id", ondelete="CASCADE"), nullable=False)
    )
    covered_from: datetime | None = _ts()
    covered_to: datetime | None = _ts()
    points: int = Field(default=0, sa_type=Integer, nullable=False)
    last_success_at: datetime | None = _ts()
    last_error: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = _created()


# --------------------------------------------------------------------------------------------------------
# Analysis results
# --------------------------------------------------------------------------------------------------------


class ModelRecord(SQLModel, table=True):
    """The model registry: one trained model with its features, parameters, data window and metrics."""

    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    name: str = Field(sa_type=Text, nullable=False)  # e.g. clv-spreads-xgb
    version: str = Field(sa_type=Text, nullable=False)  # content hash of data window + params
    market: str = Field(sa_type=Text, nullable=False)
    kind: str = Field(sa_type=Text, nullable=False)  # xgboost | ols | baseline
    features: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    params: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    metrics: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    data_from: datetime | None = _ts()
    data_until: datetime | None = _ts()
    artifact_path: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _created()


class ModelPromotion(SQLModel, table=True):
    """A promotion: from this moment `model_id` is the live model of `market` (the newest row wins).

    Who promoted it, when and why; `previous_model_id` is the model it replaced (None for the first). Rows are
    never updated: the table is the promotion history.
    """

    __tablename__ = "model_promotions"
    __table_args__ = (Index("ix_model_promotions_market", "market", "promoted_at"),)

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    market: str = Field(sa_type=Text, nullable=False)
    model_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("models.id", ondelete="CASCADE"), nullable=False)
    )
    previous_model_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("models.id", ondelete="SET NULL"), nullable=True),
    )
    promoted_by: str = Field(sa_type=Text, nullable=False)
    reason: str = Field(sa_type=Text, nullable=False)
    gate: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))  # the verdict at promotion
    promoted_at: datetime = _created()


class Prediction(SQLModel, table=True):
    """A model's prediction for one side of one market at one decision time."""

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint(
            "model_id", "event_id", "market", "outcome", "decision_time", name="uq_predictions_key"
        ),
        Index("ix_predictions_event", "event_id", "decision_time"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    model_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("models.id", ondelete="CASCADE"), nullable=False)
    )
    event_id: str = Field(sa_column=Column(Text, ForeignKey("events.id", ondelete="CASCADE"), nullable=False))
    market: str = Field(sa_type=Text, nullable=False)
    outcome: str = Field(sa_type=Text, nullable=False)
    decision_time: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    current_value: float | None = Field(default=None, sa_type=Float)  # fair prob or line now
    predicted_delta: float = Field(sa_type=Float, nullable=False)
    predicted_close: float | None = Field(default=None, sa_type=Float)
    best_venue: str | None = Field(default=None, sa_type=Text)
    best_price_decimal: float | None = Field(default=None, sa_type=Float)
    expected_clv: float | None = Field(default=None, sa_type=Float)  # p_close - 1 / price (probability)
    exp_return: float | None = Field(default=None, sa_type=Float)  # p_close x price - 1 (return on stake)
    features: Any = Field(default=None, sa_column=Column(JSONB))
    created_at: datetime = _created()


class BacktestRun(SQLModel, table=True):
    """A backtest: parameters, metrics and every bet. `run_key` (hash of parameters and data) makes the same
    backtest run twice one row."""

    __tablename__ = "backtest_runs"
    __table_args__ = (CheckConstraint(_in("status", BACKTEST_STATUSES), name="ck_backtest_runs_status"),)

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    run_key: str = Field(sa_type=Text, nullable=False, unique=True)
    strategy: str = Field(sa_type=Text, nullable=False)
    status: str = Field(default="completed", sa_type=Text, nullable=False)
    start_date: date | None = Field(default=None, sa_type=Date)
    end_date: date | None = Field(default=None, sa_type=Date)
    params: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    metrics: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    bets: Any = Field(default=None, sa_column=Column(JSONB, nullable=False))
    report_path: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = _created()


# --------------------------------------------------------------------------------------------------------
# The bet ledger
# --------------------------------------------------------------------------------------------------------


class Bet(SQLModel, table=True):
    """A bet: placed by hand (`manual`) or a published pick recorded at its published price (`paper`).

    Filled later by the `settle-bets` flow: the closing fair probability of the side at the bet's own line and
    the CLV in probability points (after tip-off), then the result and profit (after the game). `bet_key` (a
    hash of what identifies the bet, see `odds_analytics.ledger.bet_key`) makes entering a bet twice one row.
    Polymarket bets keep the token, the fill price per share, the taker fee rate and the shares bought;
    `price_decimal` is then 1 / (fill_price x (1 + fee_rate)).
    """

    __tablename__ = "bets"
    __table_args__ = (
        CheckConstraint(_in("source", BET_SOURCES), name="ck_bets_source"),
        CheckConstraint(_in("market", BET_MARKETS), name="ck_bets_market"),
        CheckConstraint(_in("side", BET_SIDES), name="ck_bets_side"),
        CheckConstraint(_in("result", BET_RESULTS), name="ck_bets_result"),
        CheckConstraint("price_decimal > 1 AND stake > 0", name="ck_bets_price_stake"),
        CheckConstraint(
            "venue <> 'polymarket' OR (token_id IS NOT NULL AND fill_price > 0 AND fill_price < 1 "
            "AND shares > 0)",
            name="ck_bets_polymarket",
        ),
        Index("ix_bets_event", "event_id"),
        Index("ix_bets_placed_at", "placed_at"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    bet_key: str = Field(sa_type=Text, nullable=False, unique=True)
    source: str = Field(sa_type=Text, nullable=False)  # manual | paper
    placed_at: datetime = Field(sa_type=DateTime(timezone=True), nullable=False)
    event_id: str = Field(sa_column=Column(Text, ForeignKey("events.id"), nullable=False))
    market: str = Field(sa_type=Text, nullable=False)  # h2h | spreads | totals
    side: str = Field(sa_type=Text, nullable=False)  # home | away | over | under
    outcome: str = Field(sa_type=Text, nullable=False)  # team full name, or Over / Under
    line: float | None = Field(default=None, sa_type=Float)  # the side's own point (spreads, totals)
    venue: str = Field(sa_type=Text, nullable=False)  # bookmaker key, or polymarket
    token_id: str | None = Field(default=None, sa_type=Text)  # Polymarket token (a string)
    price_decimal: float = Field(sa_type=Float, nullable=False)  # what was paid, fee included
    fill_price: float | None = Field(default=None, sa_type=Float)  # Polymarket: price per share, no fee
    fee_rate: float | None = Field(default=None, sa_type=Float)  # Polymarket: taker fee rate
    shares: float | None = Field(default=None, sa_type=Float)  # Polymarket: shares bought
    stake: float = Field(sa_type=Float, nullable=False)
    model_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("models.id", ondelete="SET NULL"), nullable=True),
    )
    prediction_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("predictions.id", ondelete="SET NULL"), nullable=True),
    )
    expected_return: float | None = Field(default=None, sa_type=Float)  # as published: p_close x d - 1
    note: str | None = Field(default=None, sa_type=Text)
    close_prob: float | None = Field(default=None, sa_type=Float)  # fair closing prob. at the bet's line
    close_line: float | None = Field(default=None, sa_type=Float)  # the side's closing line
    close_basis: str | None = Field(default=None, sa_type=Text)  # sharp | consensus | import:<source>
    clv_prob: float | None = Field(default=None, sa_type=Float)  # close_prob - 1 / price_decimal
    closed_at: datetime | None = _ts()  # when the close was filled
    result: str | None = Field(default=None, sa_type=Text)  # win | loss | push | void
    profit: float | None = Field(default=None, sa_type=Float)
    settled_at: datetime | None = _ts()
    created_at: datetime = _created()
    updated_at: datetime = _created()
