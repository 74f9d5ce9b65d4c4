"""snapshot key with markets, per-event odds request time, credit reservations

- `odds_snapshots.markets` (the sorted market keys a snapshot holds) joins the snapshot key, so a featured
  file and a player-props file of the same event and moment are two snapshots instead of one silently lost.
  Existing rows get their key from their raw bookmakers (the same rule as `odds_analytics.oddsapi.markets_key`).
- `events.odds_requested_at`: the last paid /odds call that could have returned the game.
- `fetch_logs.settled_at`: NULL while a paid call's credit reservation is open; existing rows are settled.

The downgrade is lossy where the new key made a difference: of two snapshots that differ only by their
markets it keeps the older one (and its odds rows).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Keep in step with odds_analytics.oddsapi.markets_key (MARKETS_KEY_MAX = 512, 475 characters + "+md5:" + 32).
_MARKETS_FROM_RAW = """
UPDATE odds_snapshots AS s SET markets = COALESCE((
    SELECT string_agg(k.key, ',' ORDER BY k.key COLLATE "C")
    FROM (
        SELECT DISTINCT m->>'key' AS key
        FROM jsonb_array_elements(CASE WHEN jsonb_typeof(s.raw) = 'array' THEN s.raw ELSE '[]'::jsonb END) AS b,
             jsonb_array_elements(CASE WHEN jsonb_typeof(b->'markets') = 'array' THEN b->'markets'
                                       ELSE '[]'::jsonb END) AS m
        WHERE jsonb_typeof(m->'key') = 'string'
    ) AS k
), '')
"""
_LONG_KEYS = """
UPDATE odds_snapshots SET markets = left(markets, 475) || '+md5:' || md5(markets) WHERE length(markets) > 512
"""
_KEEP_OLDEST = """
DELETE FROM odds_snapshots AS s USING odds_snapshots AS o
WHERE s.event_id = o.event_id AND s.source = o.source AND s.snapshot_time = o.snapshot_time AND s.id > o.id
"""


def upgrade() -> None:
    op.add_column('odds_snapshots', sa.Column('markets', sa.Text(), nullable=True))
    op.execute(_MARKETS_FROM_RAW)
    op.execute(_LONG_KEYS)
    op.alter_column('odds_snapshots', 'markets', nullable=False, server_default=sa.text("''"))
    op.drop_constraint('uq_odds_snapshots_event_source_time', 'odds_snapshots', type_='unique')
    op.create_unique_constraint('uq_odds_snapshots_event_source_time_markets', 'odds_snapshots',
                                ['event_id', 'source', 'snapshot_time', 'markets'])
    op.add_column('events', sa.Column('odds_requested_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('fetch_logs', sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True))
    op.execute('UPDATE fetch_logs SET settled_at = created_at')


def downgrade() -> None:
    op.drop_column('fetch_logs', 'settled_at')
    op.drop_column('events', 'odds_requested_at')
    op.drop_constraint('uq_odds_snapshots_event_source_time_markets', 'odds_snapshots', type_='unique')
    op.execute(_KEEP_OLDEST)
    op.create_unique_constraint('uq_odds_snapshots_event_source_time', 'odds_snapshots',
                                ['event_id', 'source', 'snapshot_time'])
    op.drop_column('odds_snapshots', 'markets')
