"""odds_states: each event's book as of every snapshot time, kept by triggers on odds (issue 17)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 15:00:00+00:00

The table, its refresh function and the four statement triggers on `odds` (see `odds_models/odds_states.py`),
then the states of the odds already stored, built event by event in batches.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

from odds_models.odds_states import DROP_STATEMENTS, INSTALL_STATEMENTS

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL_BATCH = 200  # events per refresh call


def upgrade() -> None:
    op.create_table(
        "odds_states",
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("snapshot_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("markets", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("bookmakers", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("outcomes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("descriptions", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("points", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("prices", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("prices_american", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("valid", postgresql.ARRAY(sa.Boolean()), nullable=False),
        sa.Column("snapshot_times", postgresql.ARRAY(sa.DateTime(timezone=True)), nullable=False),
        sa.Column("snapshot_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "snapshot_time"),
    )
    for statement in INSTALL_STATEMENTS:
        op.execute(statement)
    if context.is_offline_mode():
        return  # SQL script: the states of existing odds are built by `SELECT odds_states_refresh(...)`
    bind = op.get_bind()
    ids = [row[0] for row in bind.execute(sa.text(
        "SELECT id FROM events AS e WHERE EXISTS (SELECT 1 FROM odds_snapshots AS s WHERE s.event_id = e.id) "
        "ORDER BY id"
    ))]  # fmt: skip
    for start in range(0, len(ids), _BACKFILL_BATCH):
        bind.execute(
            sa.text(
                "SELECT odds_states_refresh(CAST(:ids AS text[]), "
                "array_fill('-infinity'::timestamptz, ARRAY[cardinality(CAST(:ids AS text[]))]))"
            ),
            {"ids": ids[start : start + _BACKFILL_BATCH]},
        )


def downgrade() -> None:
    for statement in DROP_STATEMENTS:
        op.execute(statement)
    op.drop_table("odds_states")
