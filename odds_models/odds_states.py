"""`odds_states`: each event's book, as of every snapshot time, in one compact row (maintained by triggers).

A backtest asks, for every (game, decision time) pair, "what did each bookmaker quote at or before t?". Asked of
the `odds` table that is one index probe per (pair, market, bookmaker): 221,400 probes for a season, 5-8 s.
`odds_states` answers it with one probe per pair: its row `(event_id, snapshot_time)` holds, for every
(market, bookmaker) of the featured markets (`STATE_MARKETS`), the rows of that combination's newest snapshot
at or before `snapshot_time` (all sources stored at that instant, invalid rows included), as parallel arrays
sorted by (market, bookmaker, outcome, description, snapshot_id DESC, point). The state "at t" is the row with
the greatest `snapshot_time <= t`; its elements are then filtered by staleness (element time >= t - staleness)
and validity exactly as the per-combination read filters `odds` (see `tasks/storage/reads.py`).

It is derived data, maintained in the writer's own transaction by statement-level triggers on `odds` (insert,
update, delete, truncate): whatever writes odds (the collector's COPY, the importer, a test's ORM insert) keeps
the states exact. `odds_states_refresh(event_ids, from_times)` rebuilds, per event, every state at or after
its from-time, in time order (state(T) = the rows stored at T + the previous state's combinations absent at
T), so an out-of-order write (a backfill older than stored polls) is handled like an in-order one. Writers of
the same event queue on a transaction-level advisory lock (taken in event order: no deadlock).

The SQL lives here so that `create_all` (tests, benchmarks) and the migration install the same objects.
"""

from __future__ import annotations

__all__ = [
    "DROP_STATEMENTS",
    "INSTALL_STATEMENTS",
    "PLAN_CACHE_SETTING",
    "REFRESH_SQL",
    "STATE_MARKETS",
]

STATE_MARKETS = ("h2h", "spreads", "totals")
_MARKETS_SQL = ", ".join(f"'{m}'" for m in STATE_MARKETS)
# pg_advisory_xact_lock(class, key): the class keeps these locks apart from any other advisory lock user.
_LOCK_CLASS = 1869833580

# Every statement of the refresh is planned with its arguments' values (custom plans), never from the cached
# generic plan PL/pgSQL would settle on after five executions in a connection. The generic plan cannot see the
# arrays' lengths (it assumes 10 events per round) and, built when `odds_states` is empty (a new or truncated
# table), probes it by sequential scan; either way it turns the `kept` step into a nested loop over every
# (round's events x previous elements x fresh rows): quadratic in the round's width, kept for the connection's
# life. Measured and shown in docs/DATABASE.md ("odds_states refresh plans"); revision 0007 sets it on
# databases made before.
PLAN_CACHE_SETTING = "plan_cache_mode=force_custom_plan"
_PLAN_CACHE_SETTING = "plan_cache_mode = force_custom_plan"

_ORDER = "e.market, e.bookmaker, e.outcome, e.description, e.snapshot_id DESC, e.point"
_ARRAYS = ("markets", "bookmakers", "outcomes", "descriptions", "points", "prices", "prices_american", "valid",
           "snapshot_times", "snapshot_ids")  # fmt: skip
_ELEMENTS = ("market", "bookmaker", "outcome", "description", "point", "price", "price_american", "valid",
             "snapshot_time", "snapshot_id")  # fmt: skip
_AGGREGATES = ",\n               ".join(f"array_agg(e.{c} ORDER BY {_ORDER})" for c in _ELEMENTS)
_UNNEST = f"unnest({', '.join('s.' + a for a in _ARRAYS)})"

_REFRESH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION odds_states_refresh(p_event_ids text[], p_from_times timestamptz[])
RETURNS integer LANGUAGE plpgsql VOLATILE SET {_PLAN_CACHE_SETTING} AS $fn$
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
    PERFORM pg_advisory_xact_lock({_LOCK_CLASS}, hashtext(x.e))
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
                WHERE o.snapshot_id = sn.id AND o.market IN ({_MARKETS_SQL})
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
            CROSS JOIN LATERAL {_UNNEST} AS u({", ".join(_ELEMENTS)})
            WHERE EXISTS (SELECT 1 FROM fresh AS f WHERE f.event_id = x.event_id)
              AND NOT EXISTS (SELECT 1 FROM fresh AS f
                              WHERE f.event_id = x.event_id AND f.market = u.market AND f.bookmaker = u.bookmaker)
        ),
        e AS (
            SELECT * FROM fresh UNION ALL SELECT * FROM kept
        )
        INSERT INTO odds_states (event_id, snapshot_time, {", ".join(_ARRAYS)})
        SELECT e.event_id, e.state_time,
               {_AGGREGATES}
        FROM e
        GROUP BY e.event_id, e.state_time;
        GET DIAGNOSTICS n_written = ROW_COUNT;
        written := written + n_written;
    END LOOP;
    RETURN written;
END
$fn$;
"""

_TRIGGER_FUNCTIONS = {
    # event: (transition tables, the rows whose earliest featured time per event starts the refresh)
    "insert": (
        "REFERENCING NEW TABLE AS odds_states_new",
        "SELECT event_id, snapshot_time, market FROM odds_states_new",
    ),
    "update": (
        "REFERENCING OLD TABLE AS odds_states_old NEW TABLE AS odds_states_new",
        "SELECT event_id, snapshot_time, market FROM odds_states_new "
        "UNION ALL SELECT event_id, snapshot_time, market FROM odds_states_old",
    ),
    "delete": (
        "REFERENCING OLD TABLE AS odds_states_old",
        "SELECT event_id, snapshot_time, market FROM odds_states_old",
    ),
}


def _trigger_function(kind: str, rows: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION odds_states_after_{kind}() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM odds_states_refresh(array_agg(c.event_id), array_agg(c.t))
    FROM (SELECT r.event_id, min(r.snapshot_time) AS t FROM ({rows}) AS r
          WHERE r.market IN ({_MARKETS_SQL}) GROUP BY r.event_id) AS c;
    RETURN NULL;
END
$fn$"""


# DELETE, not TRUNCATE: `TRUNCATE odds, odds_states` (the tests' reset) has odds_states open already.
_TRUNCATE_FUNCTION = """
CREATE OR REPLACE FUNCTION odds_states_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    DELETE FROM odds_states;
    RETURN NULL;
END
$fn$"""

_KINDS = (*_TRIGGER_FUNCTIONS, "truncate")

# Statement-level triggers: one refresh per INSERT/COPY/UPDATE/DELETE statement, from the earliest touched time
# of each event. A trigger with transition tables serves one event only, hence one function per kind.
INSTALL_STATEMENTS: list[str] = [
    _REFRESH_FUNCTION.strip().rstrip(";"),
    *(_trigger_function(kind, rows).strip() for kind, (_, rows) in _TRIGGER_FUNCTIONS.items()),
    _TRUNCATE_FUNCTION.strip(),
    *(f"DROP TRIGGER IF EXISTS trg_odds_states_{kind} ON odds" for kind in _KINDS),
    *(
        f"CREATE TRIGGER trg_odds_states_{kind} AFTER {kind.upper()} ON odds {tables} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION odds_states_after_{kind}()"
        for kind, (tables, _) in _TRIGGER_FUNCTIONS.items()
    ),
    "CREATE TRIGGER trg_odds_states_truncate AFTER TRUNCATE ON odds "
    "FOR EACH STATEMENT EXECUTE FUNCTION odds_states_after_truncate()",
]
"""Creates (or replaces) the refresh function and the four triggers on `odds`, one statement each."""

DROP_STATEMENTS: list[str] = [
    *(f"DROP TRIGGER IF EXISTS trg_odds_states_{kind} ON odds" for kind in _KINDS),
    *(f"DROP FUNCTION IF EXISTS odds_states_after_{kind}()" for kind in _KINDS),
    "DROP FUNCTION IF EXISTS odds_states_refresh(text[], timestamptz[])",
]

REFRESH_SQL = "SELECT odds_states_refresh($1::text[], array_fill('-infinity'::timestamptz, ARRAY[cardinality($1::text[])]))"
"""Rebuilds every state of the events `$1` (text[]): after a bulk load with the triggers disabled."""
