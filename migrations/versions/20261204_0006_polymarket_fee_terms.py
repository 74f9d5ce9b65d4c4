"""polymarket fee terms: each market's feesEnabled / feeSchedule / feeType as Gamma states them

Adds six nullable columns to `polymarket_markets` and fills them from the stored Gamma payload (`raw`) of
the markets already there; discovery refreshes them on every run. NULL means Gamma stated nothing: the
execution price then uses the conservative default, flagged (`odds_analytics.execution.fee_terms`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NUMBER = r"^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$"

# jsonb `->` of a missing key (or of a non-object) is NULL; numbers and numeric strings are read alike.
_BACKFILL = f"""
UPDATE polymarket_markets SET
    fees_enabled = CASE WHEN jsonb_typeof(raw -> 'feesEnabled') = 'boolean'
                        THEN (raw ->> 'feesEnabled')::boolean END,
    fee_rate = CASE WHEN (raw -> 'feeSchedule' ->> 'rate') ~ '{_NUMBER}'
                    THEN (raw -> 'feeSchedule' ->> 'rate')::float8 END,
    fee_exponent = CASE WHEN (raw -> 'feeSchedule' ->> 'exponent') ~ '{_NUMBER}'
                        THEN (raw -> 'feeSchedule' ->> 'exponent')::float8 END,
    fee_taker_only = CASE WHEN jsonb_typeof(raw -> 'feeSchedule' -> 'takerOnly') = 'boolean'
                          THEN (raw -> 'feeSchedule' ->> 'takerOnly')::boolean END,
    fee_rebate_rate = CASE WHEN (raw -> 'feeSchedule' ->> 'rebateRate') ~ '{_NUMBER}'
                           THEN (raw -> 'feeSchedule' ->> 'rebateRate')::float8 END,
    fee_type = NULLIF(CASE WHEN jsonb_typeof(raw -> 'feeType') = 'string' THEN raw ->> 'feeType' END, '')
WHERE jsonb_typeof(raw) = 'object'
"""


def upgrade() -> None:
    op.add_column('polymarket_markets', sa.Column('fees_enabled', sa.Boolean(), nullable=True))
    op.add_column('polymarket_markets', sa.Column('fee_rate', sa.Float(), nullable=True))
    op.add_column('polymarket_markets', sa.Column('fee_exponent', sa.Float(), nullable=True))
    op.add_column('polymarket_markets', sa.Column('fee_taker_only', sa.Boolean(), nullable=True))
    op.add_column('polymarket_markets', sa.Column('fee_rebate_rate', sa.Float(), nullable=True))
    op.add_column('polymarket_markets', sa.Column('fee_type', sa.Text(), nullable=True))
    op.execute(_BACKFILL)


def downgrade() -> None:
    for column in ('fee_type', 'fee_rebate_rate', 'fee_taker_only', 'fee_exponent', 'fee_rate', 'fees_enabled'):
        op.drop_column('polymarket_markets', column)
