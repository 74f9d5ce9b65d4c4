"""odds_states_refresh without a join that a plan can make quadratic, and cheaper (issue 17)

Revision 0007's function rebuilt an event's states one snapshot time ("round") after the other, each round a
statement whose `kept` step tested "this event has fresh rows" and "this combination is not fresh" by joins
the planner could run as a nested loop over the round's events x fresh rows (quadratic in the round's width;
seen with a cached generic plan and, after TRUNCATE + ANALYZE of the empty tables, with custom plans). This
revision builds every state of the call in one statement: each (market, bookmaker) group of rows belongs to
the states from its snapshot time's rank to the rank before the combination's next one (window functions over
sorted rows, then one aggregation), fed by index probes per event and per snapshot (forced nested loops with
LATERAL); the states to rebuild are found by one index probe per event and deleted by row address, so an
append-only write (every new time later than the stored states) runs no DELETE. The states are the same
(tests/odds_models/test_odds_states_refresh.py; docs/DATABASE.md, "odds_states refresh"). The downgrade puts
revision 0007's function back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 00:30:00.000000+00:00
"""

from collections.abc import Sequence

from alembic import op

from odds_models.odds_states import REFRESH_FUNCTION

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Revision 0007's function, verbatim (the downgrade's target; tests and benchmarks/states_refresh.py compare
# the new one with it).
REFRESH_FUNCTION_0007 = r"""
CREATE OR REPLACE FUNCTION odds_states_refresh(p_event_ids text[], p_from_times timestamptz[])
RETURNS integer LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_custom_plan AS $fn$
DECLARE
    todo_events text[];
    todo_times timestamptz[];
    round_ends integer[];
    n_written integer;
    written integer := 0;
BEGIN
    IF p_event_ids IS NULL OR cardinality(p_event_ids) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(1869833580, hashtext(x.e))
    FROM (SELECT DISTINCT unnest(p_event_ids) AS e ORDER BY 1) AS x;
    -- Drop every state at or after each event's earliest changed time, then list the times to rebuild
    -- (round k = the k-th time of each event).
    WITH affected AS (
        SELECT a.event_id, min(a.from_time) AS from_time
        FROM unnest(p_event_ids, p_from_times) AS a(event_id, from_time)
        GROUP BY a.event_id
    ),
    gone AS (
        DELETE FROM odds_states AS s USING affected AS a
        WHERE s.event_id = a.event_id AND s.snapshot_time >= a.from_time
    ),
    ranked AS (
        SELECT t.event_id, t.snapshot_time,
               row_number() OVER (PARTITION BY t.event_id ORDER BY t.snapshot_time)::int AS round
        FROM (
            SELECT DISTINCT sn.event_id, sn.snapshot_time
            FROM affected AS a
            JOIN odds_snapshots AS sn ON sn.event_id = a.event_id AND sn.snapshot_time >= a.from_time
        ) AS t
    )
    SELECT array_agg(event_id ORDER BY round, event_id), array_agg(snapshot_time ORDER BY round, event_id),
           (SELECT array_agg(c.n ORDER BY c.round)
            FROM (SELECT round, (sum(count(*)) OVER (ORDER BY round))::int AS n FROM ranked GROUP BY round) AS c)
    INTO todo_events, todo_times, round_ends
    FROM ranked;
    FOR k IN 1..coalesce(cardinality(round_ends), 0) LOOP
        WITH todo AS (
            SELECT x.event_id, x.snapshot_time
            FROM unnest(todo_events[coalesce(round_ends[k - 1], 0) + 1:round_ends[k]],
                        todo_times[coalesce(round_ends[k - 1], 0) + 1:round_ends[k]]) AS x(event_id, snapshot_time)
        ),
        fresh AS (
            SELECT x.event_id, x.snapshot_time AS state_time, o.market, o.bookmaker, o.outcome, o.description,
                   o.point, o.price_decimal AS price, o.price_american, o.is_valid AS valid, o.snapshot_time,
                   o.snapshot_id
            FROM todo AS x
            CROSS JOIN LATERAL (
                SELECT sn.id FROM odds_snapshots AS sn
                WHERE sn.event_id = x.event_id AND sn.snapshot_time = x.snapshot_time
                OFFSET 0
            ) AS sn
            CROSS JOIN LATERAL (
                SELECT * FROM odds AS o
                WHERE o.snapshot_id = sn.id AND o.market IN ('h2h', 'spreads', 'totals')
                OFFSET 0
            ) AS o
        ),
        kept AS (
            SELECT x.event_id, x.snapshot_time AS state_time, u.*
            FROM todo AS x
            CROSS JOIN LATERAL (
                SELECT * FROM odds_states AS s
                WHERE s.event_id = x.event_id AND s.snapshot_time < x.snapshot_time
                ORDER BY s.snapshot_time DESC
                LIMIT 1
            ) AS s
            CROSS JOIN LATERAL unnest(s.markets, s.bookmakers, s.outcomes, s.descriptions, s.points, s.prices, s.prices_american, s.valid, s.snapshot_times, s.snapshot_ids) AS u(market, bookmaker, outcome, description, point, price, price_american, valid, snapshot_time, snapshot_id)
            WHERE EXISTS (SELECT 1 FROM fresh AS f WHERE f.event_id = x.event_id)
              AND NOT EXISTS (SELECT 1 FROM fresh AS f
                              WHERE f.event_id = x.event_id AND f.market = u.market AND f.bookmaker = u.bookmaker)
        ),
        e AS (
            SELECT * FROM fresh UNION ALL SELECT * FROM kept
        )
        INSERT INTO odds_states (event_id, snapshot_time, markets, bookmakers, outcomes, descriptions, points, prices, prices_american, valid, snapshot_times, snapshot_ids)
        SELECT e.event_id, e.state_time,
               array_agg(e.market ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.bookmaker ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.outcome ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.description ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.point ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.price ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.price_american ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.valid ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.snapshot_time ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point),
               array_agg(e.snapshot_id ORDER BY e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point)
        FROM e
        GROUP BY e.event_id, e.state_time;
        GET DIAGNOSTICS n_written = ROW_COUNT;
        written := written + n_written;
    END LOOP;
    RETURN written;
END
$fn$
"""


def upgrade() -> None:
    op.execute(REFRESH_FUNCTION)


def downgrade() -> None:
    op.execute(REFRESH_FUNCTION_0007)
