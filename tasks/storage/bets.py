"""The bet ledger in PostgreSQL (table `bets`): record manual and paper bets, settle them, read them back.

    async with async_session_maker() as session:
        rows, errors = await resolve_drafts(session=session, drafts=[(1, draft)], now=now(), default_fee_rate=0.0)
        added = await insert_bets(session=session, rows=rows)
        await session.commit()

Plain functions take a session (the CLI and tests call them); the Prefect tasks below open their own:
`record_paper_bets_task` (the `predict` flow, for every published pick), `settle_bets_task` (the
`settle-bets` flow) and `read_ledger_task`. Writes are `INSERT ... ON CONFLICT (bet_key) DO NOTHING` and
`UPDATE ... WHERE <still empty>`: running any of them twice changes nothing. The pure rules are in
`odds_analytics.ledger`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NONE
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.fair import closing_fair_prices
from odds_analytics.ledger import (
    BetDraft,
    BetsRejected,
    GameFacts,
    GameRef,
    InvalidBet,
    TokenFacts,
    duplicate_lines,
    paper_bet_rows,
    parse_game_ref,
    pick_event,
    resolve_bet,
    sample_bet_rows,
    settlement_updates,
)
from odds_models.clock import now as clock_now
from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from odds_models.teams import resolve_team
from tasks.retry import DB_WRITE_RETRY
from tasks.storage.event_reads import read_events_between
from tasks.storage.reads import read_closing_lines, read_odds_at_times

__all__ = [
    "LEDGER_COLUMNS",
    "RecordResult",
    "insert_bets",
    "read_game_facts",
    "read_ledger",
    "read_ledger_frame",
    "read_ledger_task",
    "record_bets",
    "record_paper_bets",
    "record_paper_bets_task",
    "record_sample_bets",
    "record_sample_bets_task",
    "resolve_drafts",
    "settle_bets",
    "settle_bets_task",
]

_BET_FIELDS = (
    "bet_key", "source", "placed_at", "event_id", "market", "side", "outcome", "line", "venue", "token_id",
    "price_decimal", "fill_price", "fee_rate", "shares", "stake", "model_id", "expected_return", "note",
)  # fmt: skip
_TYPES = {
    "placed_at": "timestamptz[]", "line": "float8[]", "price_decimal": "float8[]", "fill_price": "float8[]",
    "fee_rate": "float8[]", "shares": "float8[]", "stake": "float8[]", "model_id": "bigint[]",
    "expected_return": "float8[]",
}  # fmt: skip
# The ledger as `read_ledger` returns it: the bet, its game and the model that suggested it.
LEDGER_COLUMNS = [
    "id", "source", "placed_at", "event_id", "home_team", "away_team", "commence_time", "game_status",
    "home_score", "away_score", "market", "side", "outcome", "line", "venue", "token_id", "price_decimal",
    "fill_price", "fee_rate", "shares", "stake", "model_id", "model", "prediction_id", "expected_return",
    "close_prob", "close_line", "close_basis", "clv_prob", "closed_at", "result", "profit", "settled_at",
    "note", "created_at",
]  # fmt: skip
_TIME_COLUMNS = ("placed_at", "commence_time", "closed_at", "settled_at", "created_at")


@dataclass
class RecordResult:
    """What recording bets did: ids added, bets already in the ledger (id by bet_key), rows left out."""

    added: list[int] = field(default_factory=list)
    existing: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"added": len(self.added), "already_recorded": len(self.existing), "skipped": len(self.skipped),
                "ids": self.added, "skipped_reasons": self.skipped[:10]}  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# What a bet is checked against
# --------------------------------------------------------------------------------------------------------

_GAMES_SQL = """
SELECT id, home_team, away_team, commence_time, status FROM events
WHERE id = ANY(:ids) OR (home_team = ANY(:homes) AND away_team = ANY(:aways))
"""
_BOOKS_SQL = "SELECT DISTINCT event_id, bookmaker FROM odds WHERE event_id = ANY(:ids)"
_TOKENS_SQL = """
SELECT pe.event_id, m.market_type, m.team, m.line, tok.token_id, tok.outcome
FROM polymarket_events AS pe
JOIN polymarket_markets AS m ON m.polymarket_event_id = pe.id
CROSS JOIN LATERAL unnest(m.token_ids, m.outcomes) AS tok(token_id, outcome)
WHERE pe.event_id = ANY(:ids) AND m.period = 'game' AND m.market_type IN ('moneyline', 'spread', 'total')
ORDER BY pe.event_id, m.id, tok.token_id
"""
_GAME_OF_TOKENS_SQL = """
SELECT DISTINCT pe.event_id FROM polymarket_markets AS m
JOIN polymarket_events AS pe ON pe.id = m.polymarket_event_id
WHERE m.token_ids && CAST(:tokens AS text[]) AND pe.event_id IS NOT NULL
"""


async def read_game_facts(
    *, session: AsyncSession, event_ids: Sequence[str] = (), teams: Sequence[tuple[str, str]] = ()
) -> list[GameFacts]:
    """The stored games with these ids or these (away, home) teams, each with the books that priced it and
    its linked Polymarket game tokens."""
    params = {"ids": list(event_ids), "homes": [h for _, h in teams], "aways": [a for a, _ in teams]}
    games = (await session.execute(text(_GAMES_SQL), params)).all()
    ids = [g[0] for g in games]
    books: dict[str, set[str]] = {}
    tokens: dict[str, list[TokenFacts]] = {}
    if ids:
        for event_id, book in (await session.execute(text(_BOOKS_SQL), {"ids": ids})).all():
            books.setdefault(event_id, set()).add(book)
        for event_id, kind, team, line, token, outcome in (
            await session.execute(text(_TOKENS_SQL), {"ids": ids})
        ).all():
            tokens.setdefault(event_id, []).append(TokenFacts(str(token), kind, outcome or "", team, line))
    return [
        GameFacts(g[0], g[1], g[2], g[3], g[4], frozenset(books.get(g[0], ())), tuple(tokens.get(g[0], ())))
        for g in games
    ]


async def resolve_drafts(
    *, session: AsyncSession, drafts: Sequence[tuple[int, BetDraft]], now: datetime, default_fee_rate: float
) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, InvalidBet]]]:
    """Check numbered drafts against the database: (line, ledger row) for the good ones, (line, error) for the
    others and for repeats within the drafts."""
    refs: dict[int, GameRef | None] = {}
    errors: list[tuple[int, InvalidBet]] = []
    ids: set[str] = set()
    for line, draft in drafts:
        try:
            refs[line] = parse_game_ref(draft.event) if draft.event else None
        except InvalidBet as exc:
            errors.append((line, exc))
            continue
        if refs[line] is None and draft.event:
            ids.add(draft.event)
    tokens = [d.token for _, d in drafts if d.token and not d.event]
    if tokens:
        ids.update(r[0] for r in (await session.execute(text(_GAME_OF_TOKENS_SQL), {"tokens": tokens})).all())
    teams = [(r.away_team, r.home_team) for r in refs.values() if r is not None]
    facts = await read_game_facts(session=session, event_ids=sorted(ids), teams=teams)
    token_event = {t.token_id: g.event_id for g in facts for t in g.tokens}
    resolved = []
    for line, draft in drafts:
        if line not in refs:
            continue
        try:
            game = _game_of(draft, refs[line], facts, token_event=token_event, now=now)
            resolved.append((line, resolve_bet(draft, game, now=now, default_fee_rate=default_fee_rate)))
        except InvalidBet as exc:
            errors.append((line, exc))
    return resolved, errors + duplicate_lines(resolved)


def _game_of(
    draft: BetDraft,
    ref: GameRef | None,
    facts: list[GameFacts],
    *,
    token_event: dict[str, str],
    now: datetime,
) -> GameFacts:
    """The game a draft names: by teams (and date), by event id, or by its Polymarket token."""
    by_id = {g.event_id: g for g in facts}
    if ref is not None:
        return pick_event(ref, facts, draft.placed_at or now)
    if draft.event:
        if draft.event not in by_id:
            raise InvalidBet(
                f"event {draft.event!r} is not a stored game (give an event id, or 'Away @ Home [YYYY-MM-DD]')",
                "event",
            )
        return by_id[draft.event]
    if draft.token not in token_event:
        raise InvalidBet(
            f"token {draft.token!r} is not a Polymarket game token linked to a stored game", "token"
        )
    return by_id[token_event[draft.token]]


# --------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------

_INSERT_SQL = """
INSERT INTO bets ({columns}, prediction_id, created_at, updated_at)
SELECT {u_columns},
       (SELECT p.id FROM predictions AS p
        WHERE p.model_id = u.model_id AND p.event_id = u.event_id AND p.market = u.market
          AND p.outcome = u.outcome AND p.decision_time = u.placed_at),
       now(), now()
FROM unnest({arrays}) AS u({columns})
ORDER BY u.bet_key
ON CONFLICT (bet_key) DO NOTHING
RETURNING id, bet_key
"""


async def insert_bets(*, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> RecordResult:
    """Insert bets not in the ledger yet (by `bet_key`); the caller commits. A paper bet is linked to its
    prediction (same model, game, market, outcome and decision time) when that prediction is stored."""
    result = RecordResult()
    if not rows:
        return result
    columns = ", ".join(_BET_FIELDS)
    sql = _INSERT_SQL.format(
        columns=columns,
        u_columns=", ".join(f"u.{c}" for c in _BET_FIELDS),
        arrays=", ".join(f"CAST(:{c} AS {_TYPES.get(c, 'text[]')})" for c in _BET_FIELDS),
    )
    params = {c: [r.get(c) for r in rows] for c in _BET_FIELDS}
    inserted = (await session.execute(text(sql), params)).all()
    result.added = sorted(r[0] for r in inserted)
    new_keys = {r[1] for r in inserted}
    old_keys = [r["bet_key"] for r in rows if r["bet_key"] not in new_keys]
    if old_keys:
        found = await session.execute(
            text("SELECT bet_key, id FROM bets WHERE bet_key = ANY(:k)"), {"k": old_keys}
        )
        result.existing = {r[0]: r[1] for r in found.all()}
    return result


async def record_bets(
    drafts: Sequence[tuple[int, BetDraft]],
    *,
    now: datetime | None = None,
    errors: Sequence[tuple[int, InvalidBet]] = (),
) -> RecordResult:
    """Check every draft, then insert them all in one transaction; or raise BetsRejected (every bad line, each
    with its reason, with `errors` found earlier, e.g. while reading the file) and write nothing."""
    moment = now or clock_now()
    fee = get_settings().polymarket_fee_rate
    async with async_session_maker() as session:
        resolved, found = await resolve_drafts(
            session=session, drafts=drafts, now=moment, default_fee_rate=fee
        )
        if errors or found:
            raise BetsRejected([*errors, *found])
        result = await insert_bets(session=session, rows=[row for _, row in resolved])
        await session.commit()
    return result


async def record_paper_bets(picks: Sequence[dict[str, Any]], *, default_stake: float = 1.0) -> RecordResult:
    """Record published picks as paper bets (`odds_analytics.ledger.PAPER_PICK_COLUMNS`), once per side of a
    game's market: a pick published again on a later tick adds nothing."""
    if not picks:
        return RecordResult()
    settings = get_settings()
    async with async_session_maker() as session:
        tokens = await _moneyline_tokens(
            [p["event_id"] for p in picks if p.get("best_venue") == "polymarket"], session=session
        )
        rows, skipped = paper_bet_rows(picks, default_stake=default_stake, fee_rate=settings.polymarket_fee_rate,
                                       tokens=tokens)  # fmt: skip
        result = await insert_bets(session=session, rows=rows)
        await session.commit()
    result.skipped = skipped
    return result


async def _moneyline_tokens(event_ids: list[str], *, session: AsyncSession) -> dict[tuple[str, str], str]:
    """(event_id, team full name) -> token of the game's moneyline market."""
    if not event_ids:
        return {}
    out = {}
    for event_id, kind, _, _, token, outcome in (
        await session.execute(text(_TOKENS_SQL), {"ids": event_ids})
    ).all():
        team = resolve_team(outcome or "")
        if kind == "moneyline" and team is not None:
            out.setdefault((event_id, team.name), str(token))
    return out


# --------------------------------------------------------------------------------------------------------
# Settling
# --------------------------------------------------------------------------------------------------------

_TO_SETTLE_SQL = """
SELECT b.id, b.event_id, b.market, b.side, b.outcome, b.line, b.venue, b.price_decimal, b.stake, b.close_prob,
       b.result, e.commence_time, e.status, e.home_score, e.away_score
FROM bets AS b JOIN events AS e ON e.id = b.event_id
WHERE (b.close_prob IS NULL AND e.commence_time <= :now) OR (b.result IS NULL AND e.status IN ('final', 'cancelled'))
ORDER BY b.id
"""
_CLOSE_SQL = """
UPDATE bets SET close_prob = u.close_prob, close_line = u.close_line, close_basis = u.close_basis,
                clv_prob = u.clv_prob, closed_at = :now, updated_at = :now
FROM unnest(CAST(:ids AS bigint[]), CAST(:close_prob AS float8[]), CAST(:close_line AS float8[]),
            CAST(:close_basis AS text[]), CAST(:clv_prob AS float8[]))
     AS u(id, close_prob, close_line, close_basis, clv_prob)
WHERE bets.id = u.id AND bets.close_prob IS NULL
"""
_RESULT_SQL = """
UPDATE bets SET result = u.result, profit = u.profit, settled_at = :now, updated_at = :now
FROM unnest(CAST(:ids AS bigint[]), CAST(:result AS text[]), CAST(:profit AS float8[])) AS u(id, result, profit)
WHERE bets.id = u.id AND bets.result IS NULL
"""


async def settle_bets(*, session: AsyncSession, now: datetime) -> dict[str, int]:
    """Fill the close of every bet whose game has started and the result of every bet whose game is over;
    the caller commits. Returns counts (`closes`, `results`, and `without_close`: started, still no close)."""
    frame = _frame_of((await session.execute(text(_TO_SETTLE_SQL), {"now": now})).mappings().all())
    if frame.empty:
        return {"checked": 0, "closes": 0, "results": 0, "without_close": 0}
    settings = get_settings()
    need = frame[frame["close_prob"].isna()]
    closing = await read_closing_lines(
        need["event_id"].unique().tolist(), session=session, markets=sorted(set(need["market"]))
    )
    fair = closing_fair_prices(closing, basis="sharp_consensus", method=settings.devig_method,
                               sharp_books=settings.sharp_books)  # fmt: skip
    closes, results = settlement_updates(frame, fair, now=now)
    if closes:
        await session.execute(text(_CLOSE_SQL), {
            "now": now, "ids": [c["id"] for c in closes], "close_prob": [c["close_prob"] for c in closes],
            "close_line": [c["close_line"] for c in closes], "close_basis": [c["close_basis"] for c in closes],
            "clv_prob": [c["clv_prob"] for c in closes]})  # fmt: skip
    if results:
        await session.execute(text(_RESULT_SQL), {
            "now": now, "ids": [r["id"] for r in results], "result": [r["result"] for r in results],
            "profit": [r["profit"] for r in results]})  # fmt: skip
    return {"checked": len(frame), "closes": len(closes), "results": len(results),
            "without_close": len(need) - len(closes)}  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------------

_LEDGER_SQL = """
SELECT b.id, b.source, b.placed_at, b.event_id, e.home_team, e.away_team, e.commence_time, e.status AS game_status,
       e.home_score, e.away_score, b.market, b.side, b.outcome, b.line, b.venue, b.token_id, b.price_decimal,
       b.fill_price, b.fee_rate, b.shares, b.stake, b.model_id, m.name AS model, b.prediction_id, b.expected_return,
       b.close_prob, b.close_line, b.close_basis, b.clv_prob, b.closed_at, b.result, b.profit, b.settled_at,
       b.note, b.created_at
FROM bets AS b
JOIN events AS e ON e.id = b.event_id
LEFT JOIN models AS m ON m.id = b.model_id
WHERE (CAST(:since AS timestamptz) IS NULL OR b.placed_at >= :since)
  AND (CAST(:source AS text) IS NULL OR b.source = :source)
ORDER BY b.placed_at, b.id
"""


def _frame_of(rows: Sequence[Any], columns: Sequence[str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame([dict(r) for r in rows], columns=list(columns) if columns else None)
    for column in _TIME_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _since(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(0), tzinfo=UTC)


async def read_ledger(
    *, session: AsyncSession, since: date | datetime | None = None, source: str | None = None
) -> pd.DataFrame:
    """Every bet (placed on or after `since`: a date is midnight UTC), with its game and model: `LEDGER_COLUMNS`,
    times tz-aware UTC (`datetime64[..., UTC]`, even when a column is all empty)."""
    if isinstance(since, datetime) and since.tzinfo is None:
        raise ValueError(f"since {since.isoformat()} has no time zone")
    params = {"since": _since(since), "source": source}
    rows = (await session.execute(text(_LEDGER_SQL), params)).mappings().all()
    return _frame_of(rows, LEDGER_COLUMNS)


async def read_ledger_frame(
    *, since: date | datetime | None = None, source: str | None = None
) -> pd.DataFrame:
    """`read_ledger` in a session of its own (notebooks: `flows.notebook.load_bets`); time columns
    `datetime64[ns, UTC]` like every notebook reader's."""
    from tasks.storage.notebook import utc_columns

    async with async_session_maker() as session:
        frame = await read_ledger(session=session, since=since, source=source)
    return utc_columns(frame, [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])])


# --------------------------------------------------------------------------------------------------------
# Prefect tasks
# --------------------------------------------------------------------------------------------------------


@task(**DB_WRITE_RETRY, task_run_name="record-paper-bets")
async def record_paper_bets_task(picks: list[dict[str, Any]], default_stake: float = 1.0) -> dict[str, Any]:
    """Record the published picks as paper bets, once each (columns: `odds_analytics.ledger.PAPER_PICK_COLUMNS`)."""
    result = await record_paper_bets(picks, default_stake=default_stake)
    if result.skipped:
        get_run_logger().warning(
            "paper bets: %d pick(s) left out: %s", len(result.skipped), "; ".join(result.skipped[:3])
        )
    return result.summary()


async def record_sample_bets(*, placed_at: datetime, horizon: timedelta, stake: float = 1.0) -> RecordResult:
    """Record the manual sample bets of `odds_analytics.ledger.sample_bet_rows` at `placed_at` (as-of reads)."""
    settings = get_settings()
    max_age = timedelta(minutes=settings.max_quote_age_minutes)
    async with async_session_maker() as session:
        events = await read_events_between(
            placed_at.date(), (placed_at + horizon).date() + timedelta(days=1), session=session
        )
        pairs = [(e, placed_at) for e in events["event_id"]]
        odds = await read_odds_at_times(pairs, session=session, markets=["spreads"], max_staleness=max_age)
        rows = sample_bet_rows(
            odds, events, placed_at=placed_at, horizon=horizon, max_age=max_age, stake=stake
        )
        result = await insert_bets(session=session, rows=rows)
        await session.commit()
    return result


@task(**DB_WRITE_RETRY, task_run_name="record-sample-bets")
async def record_sample_bets_task(placed_at: datetime, horizon_hours: float = 3.0) -> dict[str, Any]:
    """Record one manual sample bet per game tipping off within the horizon (see `sample_bet_rows`)."""
    result = await record_sample_bets(placed_at=placed_at, horizon=timedelta(hours=horizon_hours))
    return result.summary()


@task(**DB_WRITE_RETRY, task_run_name="settle-bets")
async def settle_bets_task() -> dict[str, int]:
    """Fill closes (after tip-off) and results (after the game) of the open bets."""
    async with async_session_maker() as session:
        counts = await settle_bets(session=session, now=clock_now())
        await session.commit()
    return counts


@task(cache_policy=NONE, task_run_name="read-ledger")
async def read_ledger_task(since: date | datetime | None = None, source: str | None = None) -> pd.DataFrame:
    """The ledger as a DataFrame (`LEDGER_COLUMNS`)."""
    return await read_ledger_frame(since=since, source=source)
