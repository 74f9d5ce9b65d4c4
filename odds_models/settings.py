"""Settings: one pydantic-settings class, validated and built lazily.

Every variable is documented in `.env.example`. Read settings through `get_settings()`; to change them (tests,
the demo), set the environment variables and call `get_settings.cache_clear()`, as the `settings_env` fixture
of `tests/conftest.py` and the demo's stage (`replay/stage.py`) do.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from odds_models.dburl import normalise_database_url
from odds_models.errors import ConfigError

__all__ = ["Settings", "default_odds_home", "get_settings", "load_settings", "normalise_database_url"]


def _can_create_in(folder: Path) -> bool:
    """Whether a folder can really be made in `folder` (made and removed again): `os.access` says yes to
    root everywhere, even in /proc or on a read-only mount."""
    import tempfile

    try:
        Path(tempfile.mkdtemp(prefix=".odds-home-probe-", dir=folder)).rmdir()
    except OSError:
        return False
    return True


def default_odds_home() -> Path:
    """The data home: `~/.odds-pipeline`, or `/var/lib/odds-pipeline` when running as root.

    The embedded PostgreSQL, run as root, starts the server as a separate system user and loosens the
    permissions of every folder on the data path; keeping the data home out of `/root` avoids opening it.
    """
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/lib/odds-pipeline")
    return Path.home() / ".odds-pipeline"


class Settings(BaseSettings):
    """Every setting of the pipeline. Environment variables use the field names in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        enable_decoding=False,  # comma lists are split by _split_commas, JSON lists too
    )

    # --- storage -------------------------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql:// or postgresql+asyncpg://). Unset: embedded PostgreSQL "
        "under ODDS_HOME.",
    )
    odds_home: Path = Field(
        default_factory=default_odds_home,
        description="Data home: embedded database, reports, models, spooled responses.",
    )
    scheduler_backend: Literal["local", "aws"] = Field(
        default="local", description="local: pool of 5 connections; aws: NullPool (serverless)."
    )
    db_pool_size: int = Field(default=5, ge=1, le=50)

    # --- The Odds API ------------------------------------------------------------------------------------
    odds_api_key: SecretStr | None = Field(default=None, description="The Odds API key (never logged).")
    odds_api_base_url: str = Field(default="https://api.the-odds-api.com")
    odds_api_sport: str = Field(default="basketball_nba")
    regions: list[str] = Field(default=["us"], description="Comma list of regions (us, us2, uk, eu, au).")
    markets: list[str] = Field(default=["h2h", "spreads", "totals"])
    bookmakers: list[str] = Field(
        default_factory=list, description="Comma list of bookmaker keys; overrides regions when set."
    )
    odds_format: Literal["decimal", "american"] = Field(default="decimal")
    monthly_credit_budget: int = Field(
        default=20_000,
        ge=0,
        description="Paid Odds API credits allowed per month; paid calls stop before it.",
    )
    quota_warn_fractions: list[float] = Field(default=[0.2, 0.1])
    tier_boundaries_hours: list[float] = Field(
        default=[72.0, 24.0, 12.0, 3.0], description="Tier edges in hours to tip-off, descending."
    )
    tier_intervals_minutes: list[float] = Field(
        default=[2880.0, 1440.0, 720.0, 180.0, 30.0],
        description="Snapshot cadence per tier (>72 h, 24-72 h, 12-24 h, 3-12 h, <3 h), in minutes.",
    )
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    http_max_attempts: int = Field(default=5, ge=1, le=10)
    http_max_retry_wait_seconds: float = Field(default=30.0, gt=0)

    # --- validation -------------------------------------------------------------------------------------
    reject_invalid_odds: bool = Field(
        default=False, description="true: drop invalid odds rows (raw snapshot kept); false: keep and log."
    )

    # --- Polymarket -------------------------------------------------------------------------------------
    polymarket_gamma_url: str = Field(default="https://gamma-api.polymarket.com")
    polymarket_clob_url: str = Field(default="https://clob.polymarket.com")
    polymarket_series_id: str = Field(default="10345")
    polymarket_game_tag_id: str = Field(default="100639")
    polymarket_fee_rate: float = Field(default=0.0, ge=0, le=0.2, description="Taker fee as a fraction.")
    polymarket_books_all_markets: bool = Field(
        default=False,
        description="Store order books for every market (game moneylines, spreads and totals always).",
    )
    polymarket_backfill_concurrency: int = Field(default=4, ge=1, le=32)
    polymarket_history_route: Literal["clob", "data-api"] = Field(
        default="clob",
        description="Price-history route: clob (/prices-history) or data-api (its successor, /v2/prices-history).",
    )
    polymarket_data_api_url: str = Field(
        default="https://data-api.polymarket.com", description="Base URL of the data-api history route."
    )
    polymarket_backfill_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="How far back the price-history backfill reaches (fine grains expire ~30 d).",
    )
    price_poll_interval: int = Field(default=300, ge=10, description="Polymarket poll cadence, seconds.")

    # --- analytics --------------------------------------------------------------------------------------
    sharp_books: list[str] = Field(default=["pinnacle", "circasports", "lowvig", "betonlineag"])
    devig_method: Literal["multiplicative", "additive", "power", "shin"] = Field(default="multiplicative")
    max_staleness_minutes: float = Field(
        default=24 * 60.0, gt=0, description="As-of read window and the model features' staleness."
    )
    max_quote_age_minutes: float = Field(
        default=90.0,
        gt=0,
        description="A price older than this at the decision is not bet or compared (backtests, live picks).",
    )

    # --- execution and staking (odds_analytics.execution, odds_analytics.staking) ------------------------
    bankroll: float = Field(
        default=1000.0, gt=0, description="Dollars; each pick's stake is a fraction of it (`--bankroll`)."
    )
    kelly_fraction: float = Field(default=0.25, gt=0, le=1, description="Fraction of full Kelly staked.")
    max_stake_fraction: float = Field(
        default=0.02, gt=0, le=1, description="Most one bet may stake, as a fraction of the bankroll."
    )
    polymarket_default_fee_rate: float = Field(
        default=0.03,
        ge=0,
        le=1,
        description="Taker fee rate assumed (and flagged) for a Polymarket market whose fee terms Gamma "
        "does not state; never 0 by default.",
    )
    polymarket_default_fee_exponent: float = Field(
        default=1.0, ge=0, description="Exponent of the assumed fee: rate x (p (1 - p)) ^ exponent per share."
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalise_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return normalise_database_url(value)

    @field_validator(
        "regions", "markets", "bookmakers", "sharp_books", "quota_warn_fractions", "tier_boundaries_hours",
        "tier_intervals_minutes", mode="before",
    )  # fmt: skip
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("odds_home")
    @classmethod
    def _usable_home(cls, value: Path) -> Path:
        """A folder we can write in, or one we can create (its nearest existing parent is a writable folder)."""
        path = value.expanduser()
        existing = path
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(
                f"{existing} is not a folder" + ("" if existing == path else f", so {path} cannot be one")
            )
        if not os.access(existing, os.W_OK | os.X_OK) or not _can_create_in(existing):
            raise ValueError(
                f"{existing} is not writable" + ("" if existing == path else f", so {path} cannot be created")
            )
        return path

    @field_validator("odds_api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def reports_dir(self) -> Path:
        return self.odds_home / "reports"

    @property
    def models_dir(self) -> Path:
        return self.odds_home / "models"

    @property
    def spool_dir(self) -> Path:
        """Paid responses that could not be stored wait here for the next run."""
        return self.odds_home / "spool"

    @property
    def embedded_pgdata(self) -> Path:
        return self.odds_home / "pgdata"

    def api_key_value(self) -> str | None:
        return self.odds_api_key.get_secret_value() if self.odds_api_key else None


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning a validation error into a `ConfigError` that names the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "_".join(str(p) for p in err["loc"] if not isinstance(p, int)).upper() or "?"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError("invalid setting " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Call `get_settings.cache_clear()` after changing the env."""
    return load_settings()
