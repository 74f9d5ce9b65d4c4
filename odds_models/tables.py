"""Every table of the pipeline, as SQLModel classes.

Rules the schema states itself (see docs/DATABASE.md):
- every time is `timestamptz` (aware UTC datetimes in Python);
- raw payloads are JSONB;
- statuses and kinds are text with CHECK constraints, never PostgreSQL enums (adding a value is a
  one-line migration, not an `ALTER TYPE`);
- every table that receives data from outside has the unique key that makes re-running a write a no-op.
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
    event,
    inspect,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from odds_models.columns import check_in, created_field, ts_field, utc_now
from odds_models.odds_states import INSTALL_STATEMENTS
from odds_models.polymarket_tables import (
    LINK_STATUSES,
    MARKET_PERIODS,
    MARKET_TYPES,
    PRICE_SOURCES,
    PolymarketBackfillWatermark,
    PolymarketEvent,
    PolymarketMarket,
    PolymarketOrderbookSnapshot,
    PolymarketPriceSnapshot,
)

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
CLOSING_KINDS = ("open", "close")
BACKTEST_STATUSES = ("completed", "failed")
BET_SOURCES = ("manual", "paper")
BET_MARKETS = ("h2h", "spreads", "totals")
BET_SIDES = ("home", "away", "over", "under")
BET_RESULTS = ("win", "loss", "push", "void")


# --------------------------------------------------------------------------------------------------------
# Sportsbook side (The Odds API)
# --------------------------------------------------------------------------------------------------------


class Event(SQLModel, table=True):
    """A game. `id` is The Odds API's 32-hex id (shared by /events, /odds, /scores); games created by an
    import that The Odds API never listed get a deterministic `imp_...` id."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(check_in("status", EVENT_STATUSES), name="ck_events_status"),
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
    scores_updated_at: datetime | None = ts_field()
    completed_at: datetime | None = ts_field()
    origin: str = Field(default="oddsapi", sa_type=Text, nullable=False)  # oddsapi | import:<name>
    # The last paid /odds call that could have returned this game (it was listed and upcoming): a game with
    # no odds yet is due again only on its tier's cadence from this time (see odds_analytics.tiers).
    odds_requested_at: datetime | None = ts_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


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
    created_at: datetime = created_field()


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
    bookmaker_last_update: datetime | None = ts_field()
    market_last_update: datetime | None = ts_field()
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
        CheckConstraint(check_in("kind", CLOSING_KINDS), name="ck_closing_lines_kind"),
        CheckConstraint(check_in("market", ("h2h", "spreads", "totals")), name="ck_closing_lines_market"),
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
    created_at: datetime = created_field()


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
    created_at: datetime = created_field()
    settled_at: datetime | None = ts_field()  # NULL: a credit reservation whose call has not been settled yet


class DataQualityLog(SQLModel, table=True):
    """A validation finding. `fingerprint` makes re-validating the same data a no-op."""

    __tablename__ = "data_quality_logs"
    __table_args__ = (
        CheckConstraint(check_in("severity", SEVERITIES), name="ck_data_quality_logs_severity"),
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
    snapshot_time: datetime | None = ts_field()
    detail: str = Field(sa_type=Text, nullable=False)
    action: str = Field(default="kept", sa_type=Text, nullable=False)  # kept | rejected
    created_at: datetime = created_field()


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
    data_from: datetime | None = ts_field()
    data_until: datetime | None = ts_field()
    artifact_path: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = created_field()


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
    promoted_at: datetime = created_field()


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
    created_at: datetime = created_field()


class BacktestRun(SQLModel, table=True):
    """A backtest: parameters, metrics and every bet. `run_key` (hash of parameters and data) makes the same
    backtest run twice one row."""

    __tablename__ = "backtest_runs"
    __table_args__ = (CheckConstraint(check_in("status", BACKTEST_STATUSES), name="ck_backtest_runs_status"),)

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
    created_at: datetime = created_field()


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
        CheckConstraint(check_in("source", BET_SOURCES), name="ck_bets_source"),
        CheckConstraint(check_in("market", BET_MARKETS), name="ck_bets_market"),
        CheckConstraint(check_in("side", BET_SIDES), name="ck_bets_side"),
        CheckConstraint(check_in("result", BET_RESULTS), name="ck_bets_result"),
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
    closed_at: datetime | None = ts_field()  # when the close was filled
    result: str | None = Field(default=None, sa_type=Text)  # win | loss | push | void
    profit: float | None = Field(default=None, sa_type=Float)
    settled_at: datetime | None = ts_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
