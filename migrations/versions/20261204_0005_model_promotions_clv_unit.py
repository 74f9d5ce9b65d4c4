"""model promotions and one CLV unit: `model_promotions`; `predictions.exp_return` beside `expected_clv`

`model_promotions` is the promotion history: the newest row of a market names its live model (who, when,
why, the gate's verdict). `predictions.expected_clv` becomes probability points (p_close - 1 / price), the
unit of every other CLV; the return on stake it held until now (p_close x price - 1) moves to the new
column `exp_return`. Existing rows are converted exactly: old = p d - 1, so p - 1/d = old / d.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 18:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("market", sa.Text(), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("previous_model_id", sa.BigInteger(), nullable=True),
        sa.Column("promoted_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("gate", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["previous_model_id"], ["models.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_model_promotions_market", "model_promotions", ["market", "promoted_at"], unique=False)
    op.add_column("predictions", sa.Column("exp_return", sa.Float(), nullable=True))
    op.execute(
        "UPDATE predictions SET exp_return = expected_clv, expected_clv = expected_clv / best_price_decimal "
        "WHERE expected_clv IS NOT NULL AND best_price_decimal > 1"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE predictions SET expected_clv = exp_return WHERE exp_return IS NOT NULL"
    )
    op.drop_column("predictions", "exp_return")
    op.drop_index("ix_model_promotions_market", table_name="model_promotions")
    op.drop_table("model_promotions")
