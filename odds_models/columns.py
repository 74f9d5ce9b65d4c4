"""Column helpers shared by the table modules (`odds_models.tables`, `odds_models.polymarket_tables`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, text
from sqlmodel import Field

__all__ = ["check_in", "created_field", "ts_field", "utc_now"]


def utc_now() -> datetime:
    """Default for created/updated columns."""
    return datetime.now(UTC)


def check_in(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's SQL: `column IN ('a', 'b', ...)`."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


def ts_field(*, nullable: bool = True, index: bool = False) -> Any:
    """A `timestamptz` column (aware UTC datetimes in Python)."""
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable, index=index)


def created_field() -> Any:
    """A created/updated column: now() in Python and as the server default."""
    return Field(
        default_factory=utc_now,
        sa_type=DateTime(timezone=True),
        nullable=False,
        sa_column_kwargs={"server_default": text("now()")},
    )
