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
its from-time: state(T) = for each combination, its rows of the greatest snapshot time <= T (= the rows stored
at T + the previous state's combinations absent at T), computed for all of a call's times at once, on top of
the stored state before the from-time; so an out-of-order write (a backfill older than stored polls) is
handled like an in-order one. Writers of the same event queue on a transaction-level advisory lock (taken in
event order: no deadlock). No plan of it is quadratic in a call's width (see `_REFRESH_FUNCTION`).

The SQL lives here so that `create_all` (tests, benchmarks) and the migration install the same objects.
"""

from __future__ import annotations

__all__ = [
    "DROP_STATEMENTS",
    "FUNCTION_SETTINGS",
    "INSTALL_STATEMENTS",
    "PLAN_CACHE_SETTING",
    "REFRESH_FUNCTION",
    "REFRESH_SQL",
    "STATE_MARKETS",
]

STATE_MARKETS = ("h2h", "spreads", "totals")
_MARKETS_SQL = ", ".join(f"'{m}'" for m in STATE_MARKETS)
# pg_advisory_xact_lock(class, key): the class keeps these locks apart from any other advisory lock user.
_LOCK_CLASS = 1869833580

# Every statement of the refresh is planned with its arguments' values (custom plans), never from a cached
# generic plan (which cannot see the arrays' lengths and, built while a table is empty, misjudges it); revision
# 0007 set it on databases made before. Since revision 0008 the shape of every plan is safe whatever the plan
# cache keeps (see `_REFRESH_FUNCTION`), so the setting only keeps the estimates right.
PLAN_CACHE_SETTING = "plan_cache_mode=force_custom_plan"
# No sequential scan inside the function (revision 0008): every table is read by index probes driven by the
# call's events. Right after TRUNCATE + ANALYZE a table looks empty, and the planner would scan it whole once
# per event inside a LATERAL subquery (events x table: quadratic as it grows, until autovacuum analyses it).
SEQSCAN_SETTING = "enable_seqscan=off"
FUNCTION_SETTINGS = [PLAN_CACHE_SETTING, SEQSCAN_SETTING]
"""`pg_proc.proconfig` of `odds_states_refresh` (the settings hold only while it runs)."""
_SETTINGS = "SET plan_cache_mode = force_custom_plan SET enable_seqscan = off"

_ARRAYS = ("markets", "bookmakers", "outcomes", "descriptions", "points", "prices", "prices_american", "valid",
           "snapshot_times", "snapshot_ids")  # fmt: skip
_ELEMENTS = ("market", "bookmaker", "outcome", "description", "point", "price", "price_american", "valid",
             "snapshot_time", "snapshot_id")  # fmt: skip
_ORDER = "x.market, x.bookmaker, x.outcome, x.description, x.snapshot_id DESC, x.point"
_AGGREGATES = ",\n               ".join(f"array_agg(x.{c} ORDER BY {_ORDER})" for c in _ELEMENTS)
_AGGREGATES_BY_SEQ = ",\n               ".join(f"array_agg(x.{c} ORDER BY x.seq)" for c in _ELEMENTS)
_UNNEST = f"unnest({', '.join('s.' + a for a in _ARRAYS)})"
_COLUMNS = (
    "o.market, o.bookmaker, o.outcome, o.description, o.point, o.price_decimal AS price, o.price_american, "
    "o.is_valid AS valid, o.snapshot_time, o.snapshot_id"
)


def _events(ids: str, times: str) -> str:
    """The call's events as a relation `a(n, event_id, from_time)`, in `n` order (the planner knows it)."""
    return f"""(
            SELECT u.n, u.event_id, u.from_time
            FROM unnest({ids}, {times}) WITH ORDINALITY AS u(event_id, from_time, n)
            ORDER BY u.n
        ) AS a"""


# The plan's shape, whatever the statistics or the plan cache: every join is a LATERAL subquery, so a nested
# loop driven by the call's events (or an event's snapshots) with an index probe inside (odds_snapshots by
# (event_id, snapshot_time), odds by snapshot_id, odds_states by its key; sequential scans are off): linear in
# the rows read. Every
# other step is a sort, a window function or an aggregation over the rows read, sorted per event (the rows
# come out in event order: incremental sorts): no join between two computed sets, so nothing a planner could
# run as a nested loop over a round's events x fresh rows (the `kept` step before revision 0008).
_REFRESH_FUNCTION = f"""
CREATE OR REPLACE FUNCTION odds_states_refresh(p_event_ids text[], p_from_times timestamptz[])
RETURNS integer LANGUAGE plpgsql VOLATILE {_SETTINGS} AS $fn$
DECLARE
    ev text[];
    ft timestamptz[];
    dead tid[];
    one_events text[];
    one_times timestamptz[];
    many_events text[];
    many_times timestamptz[];
    n_written integer;
    written integer := 0;
BEGIN
    IF p_event_ids IS NULL OR cardinality(p_event_ids) = 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock({_LOCK_CLASS}, hashtext(x.e))
    FROM (SELECT DISTINCT unnest(p_event_ids) AS e ORDER BY 1) AS x;
    -- Each event once, with its earliest changed time.
    SELECT array_agg(a.event_id), array_agg(a.from_time) INTO ev, ft
    FROM (SELECT u.event_id, min(u.from_time) AS from_time
          FROM unnest(p_event_ids, p_from_times) AS u(event_id, from_time)
          GROUP BY u.event_id) AS a;
    -- The states at or after an event's from-time are rebuilt: found by one index probe per event, deleted by
    -- row address (an append-only write, every new time later than the stored states, runs no DELETE). The
    -- event check guards the addresses: only this call, holding the events' locks, writes their states.
    SELECT array_agg(d.ctid) INTO dead
    FROM unnest(ev, ft) AS a(event_id, from_time)
    CROSS JOIN LATERAL (
        SELECT s.ctid FROM odds_states AS s
        WHERE s.event_id = a.event_id AND s.snapshot_time >= a.from_time
        OFFSET 0
    ) AS d;
    IF dead IS NOT NULL THEN
        DELETE FROM odds_states AS s WHERE s.ctid = ANY (dead) AND s.event_id = ANY (ev);
    END IF;
    -- Events with at most one snapshot time to build and no stored state before it (a new game's first write,
    -- most of an import) get that time's rows, sorted; the others take the general statement below.
    SELECT array_agg(a.event_id) FILTER (WHERE c.one), array_agg(a.from_time) FILTER (WHERE c.one),
           array_agg(a.event_id) FILTER (WHERE NOT c.one), array_agg(a.from_time) FILTER (WHERE NOT c.one)
    INTO one_events, one_times, many_events, many_times
    FROM unnest(ev, ft) AS a(event_id, from_time)
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT s.snapshot_time) <= 1
               AND NOT EXISTS (SELECT 1 FROM odds_states AS b
                               WHERE b.event_id = a.event_id AND b.snapshot_time < a.from_time) AS one
        FROM odds_snapshots AS s
        WHERE s.event_id = a.event_id AND s.snapshot_time >= a.from_time
    ) AS c;
    IF one_events IS NOT NULL THEN
        INSERT INTO odds_states (event_id, snapshot_time, {", ".join(_ARRAYS)})
        SELECT a.event_id, x.state_time,
               {_AGGREGATES}
        FROM {_events("one_events", "one_times")}
        CROSS JOIN LATERAL (
            SELECT sn.snapshot_time AS state_time, {_COLUMNS}
            FROM odds_snapshots AS sn
            CROSS JOIN LATERAL (
                SELECT * FROM odds AS o
                WHERE o.snapshot_id = sn.id AND o.market IN ({_MARKETS_SQL})
                OFFSET 0
            ) AS o
            WHERE sn.event_id = a.event_id AND sn.snapshot_time >= a.from_time
        ) AS x
        GROUP BY a.n, a.event_id, x.state_time;
        GET DIAGNOSTICS n_written = ROW_COUNT;
        written := written + n_written;
    END IF;
    -- The general case (several times, or a stored state before them: a backfill, an update, a delete). Rank r of
    -- an event's time = its r-th snapshot time at or after the from-time; r = 0 holds the stored state before it.
    -- state(k) = for each (market, bookmaker), its rows of the greatest rank <= k (the rows of every source at
    -- that time), when the event has rows at rank k. So the rows of one combination at rank r belong to the
    -- states r .. (the combination's next rank - 1, or the event's last rank): window functions over the rows
    -- sorted per event by (market, bookmaker, r, outcome, description, snapshot_id DESC, point), whose
    -- position `seq` is then each state's array order.
    IF many_events IS NOT NULL THEN
        WITH e AS (
            SELECT a.n, a.event_id, x.*
            FROM {_events("many_events", "many_times")}
            CROSS JOIN LATERAL (
                SELECT sn.r, sn.snapshot_time AS state_time, {_COLUMNS}
                FROM (
                    SELECT s.id, s.snapshot_time, dense_rank() OVER (ORDER BY s.snapshot_time) AS r
                    FROM odds_snapshots AS s
                    WHERE s.event_id = a.event_id AND s.snapshot_time >= a.from_time
                ) AS sn
                CROSS JOIN LATERAL (
                    SELECT * FROM odds AS o
                    WHERE o.snapshot_id = sn.id AND o.market IN ({_MARKETS_SQL})
                    OFFSET 0
                ) AS o
                UNION ALL
                SELECT 0, s.snapshot_time, u.*
                FROM (
                    SELECT * FROM odds_states AS s
                    WHERE s.event_id = a.event_id AND s.snapshot_time < a.from_time
                    ORDER BY s.snapshot_time DESC
                    LIMIT 1
                ) AS s
                CROSS JOIN LATERAL {_UNNEST} AS u({", ".join(_ELEMENTS)})
            ) AS x
        ),
        spans AS (
            SELECT e.*,
                   row_number() OVER (PARTITION BY e.n ORDER BY e.market, e.bookmaker, e.r, e.outcome,
                                                                 e.description, e.snapshot_id DESC, e.point) AS seq,
                   min(e.r) OVER (PARTITION BY e.n, e.market, e.bookmaker ORDER BY e.r
                                  RANGE BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS r_next,
                   max(e.r) OVER (PARTITION BY e.n) AS r_last
            FROM e
        )
        INSERT INTO odds_states (event_id, snapshot_time, {", ".join(_ARRAYS)})
        SELECT min(x.event_id), max(x.state_time),
               {_AGGREGATES_BY_SEQ}
        FROM spans AS x
        CROSS JOIN LATERAL generate_series(greatest(x.r, 1), coalesce(x.r_next - 1, x.r_last)) AS k
        GROUP BY x.n, k
        HAVING bool_or(x.r = k);
        GET DIAGNOSTICS n_written = ROW_COUNT;
        written := written + n_written;
    END IF;
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
REFRESH_FUNCTION = _REFRESH_FUNCTION.strip().rstrip(";")
"""`CREATE OR REPLACE FUNCTION odds_states_refresh(...)`: one statement (revision 0008 installs it)."""

INSTALL_STATEMENTS: list[str] = [
    REFRESH_FUNCTION,
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
