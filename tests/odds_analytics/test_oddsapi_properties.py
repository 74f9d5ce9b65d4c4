"""Property-based tests: the Odds API parsers and the import-file reader never crash unexpectedly.

For any input they return typed values or raise `PayloadError`; validation then yields findings, never an
exception. Counts of generated inputs are printed with `-s` (see the closing note for the figures).
"""

from __future__ import annotations

import gzip
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odds_analytics.oddsapi import parse_events_payload, parse_odds_payload, parse_scores_payload
from odds_analytics.tiers import TierSpec
from odds_analytics.validation import validate_event_odds
from odds_models.errors import PayloadError
from tasks.import_oddsapi import parse_payload_file, read_payload_file
from tasks.storage.odds import build_snapshot_items

TRIED: dict[str, int] = {}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)  # fmt: skip
teams = st.sampled_from(["Boston Celtics", "Miami Heat", "Over", "Under", "Lakers"])
prices = st.one_of(
    st.floats(-500, 1200, allow_nan=False), st.integers(-2000, 2000), st.floats(allow_nan=True)
)
_naive_bounds = (datetime(2000, 1, 1), datetime(2040, 1, 1))  # noqa: DTZ001 - hypothesis wants naive bounds
stamps = st.datetimes(min_value=_naive_bounds[0], max_value=_naive_bounds[1], timezones=st.just(UTC)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
) | st.integers(0, 2_000_000_000)


def maybe(
    strategy: st.SearchStrategy[Any], junk: st.SearchStrategy[Any] = json_values
) -> st.SearchStrategy[Any]:
    """Mostly (58 in 60) the plausible value, else junk or missing (a sentinel key removed later)."""
    return st.integers(0, 59).flatmap(
        lambda i: junk if i == 0 else st.just("__missing__") if i == 1 else strategy
    )


def _drop_missing(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_missing(v) for k, v in obj.items() if v != "__missing__"}
    if isinstance(obj, list):
        return [_drop_missing(v) for v in obj]
    return obj


outcomes = st.fixed_dictionaries({"name": maybe(teams), "price": maybe(prices),
                                  "point": maybe(st.floats(-300, 300) | st.none()),
                                  "description": maybe(st.text(max_size=6))})  # fmt: skip
markets = st.fixed_dictionaries({"key": maybe(st.sampled_from(["h2h", "spreads", "totals", "h2h_lay", "player_points"])),
                                 "last_update": maybe(stamps), "outcomes": maybe(st.lists(outcomes, min_size=1, max_size=3))})  # fmt: skip
books = st.fixed_dictionaries({"key": maybe(st.sampled_from(["dk", "fd", "pinnacle"])), "last_update": maybe(stamps),
                               "markets": maybe(st.lists(markets, min_size=1, max_size=2))})  # fmt: skip
events = st.fixed_dictionaries({
    "id": maybe(st.text("0123456789abcdef", min_size=1, max_size=32)), "home_team": maybe(teams),
    "away_team": maybe(teams), "commence_time": maybe(stamps), "bookmakers": maybe(st.lists(books, max_size=2)),
    "completed": maybe(st.booleans()),
    "scores": maybe(st.none() | st.lists(st.fixed_dictionaries({"name": maybe(teams),
                                                                "score": maybe(st.text("0123456789", max_size=3))}),
                                         max_size=3)),
})  # fmt: skip
payloads = st.one_of(
    st.lists(events, max_size=3),
    events,
    st.fixed_dictionaries({"timestamp": maybe(stamps), "data": maybe(st.lists(events, max_size=3) | events)}),
    json_values,
).map(_drop_missing)


def _count(name: str) -> None:
    TRIED[name] = TRIED.get(name, 0) + 1


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_odds_parser_returns_or_raises_payload_error(payload: Any) -> None:
    _count("odds_parser")
    try:
        parsed = parse_odds_payload(payload, endpoint="/prop")
    except PayloadError as exc:
        assert "/prop" in str(exc)  # noqa: PT017 - any PayloadError is fine; it must name the endpoint
        return
    at = datetime(2030, 1, 1, tzinfo=UTC)
    for ev in parsed.events:
        for finding in validate_event_odds(ev, snapshot_time=at):
            assert finding.severity in ("info", "warning", "error")
        for row in ev.rows:
            assert isinstance(row.price_decimal, float)
    try:
        items = build_snapshot_items(parsed, source="live", snapshot_time=None, spec=TierSpec())
    except PayloadError:
        return
    assert len(items) == len(parsed.events)


@settings(max_examples=200, deadline=None)
@given(payloads)
def test_scores_and_events_parsers_return_or_raise_payload_error(payload: Any) -> None:
    _count("scores_events_parsers")
    for parser in (parse_scores_payload, parse_events_payload):
        try:
            result = parser(payload, endpoint="/prop")
        except PayloadError:
            continue
        assert isinstance(result, list)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.binary(max_size=200), payloads.map(lambda p: json.dumps(p, default=str).encode())),
       st.booleans(), st.integers(0, 40))  # fmt: skip
def test_import_file_reader_returns_or_raises_payload_error(
    tmp_path: Path, blob: bytes, gz: bool, cut: int
) -> None:
    _count("import_reader")
    if cut and len(blob) > cut:
        blob = blob[:-cut]  # truncated files
    path = tmp_path / ("f.json.gz" if gz else "f.json")
    path.write_bytes(gzip.compress(blob) if gz else blob)
    try:
        read_payload_file(path)
        parse_payload_file(path, TierSpec())
    except PayloadError as exc:
        assert str(path) in str(exc)  # noqa: PT017 - the message names the file


def test_zz_report_counts() -> None:
    """Runs last in this module: prints how many generated inputs were tried."""
    print(f"\nhypothesis inputs tried: {TRIED}")
    assert sum(TRIED.values()) > 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a": NaN}', "nan"),  # orjson refuses NaN; the standard library reads it (the old meaning)
        (b"[1, 123456789012345678901234567890]", [1, 123456789012345678901234567890]),  # exact, not a float
        (b'["\\ud800"]', ["\ud800"]),  # a lone surrogate
        (b'{"a": "\\u00e9", "b": [1.5, -110, null, true]}', {"a": "\u00e9", "b": [1.5, -110, None, True]}),
    ],
)
def test_read_payload_file_reads_what_the_standard_library_reads(
    tmp_path: Path, body: bytes, expected: Any
) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(body)
    value = read_payload_file(path)
    if expected == "nan":
        assert math.isnan(value["a"])
    else:
        assert value == expected
        assert json.dumps(value) == json.dumps(json.loads(body))


def test_strip_nul_removes_nul_everywhere_and_keeps_clean_data_as_is() -> None:
    from odds_models.text import strip_nul

    dirty = {"id\x00": ["a\x00b", {"k": "\x00"}], "n": 2**70, "ok": 1.5}
    assert strip_nul(dirty) == {"id": ["ab", {"k": ""}], "n": 2**70, "ok": 1.5}
    literal = ["\\u0000 is text, not a NUL"]
    assert strip_nul(literal) == literal
    clean = {"bookmakers": [{"key": "fanduel", "markets": [{"outcomes": [{"price": -110}]}]}]}
    assert strip_nul(clean) is clean
    assert strip_nul("x\x00") == "x"


def test_strip_nul_replaces_lone_surrogates_and_joins_split_pairs() -> None:
    """A lone surrogate (`"\\ud800"` in JSON) cannot be encoded as UTF-8: left in, PostgreSQL refuses the
    whole write and the paid response's good events with it. It becomes U+FFFD; a pair written as two escapes
    is one character."""
    from odds_models.text import strip_nul

    data = json.loads('{"name": "Boston \\ud800Celtics", "k\\udc00": ["\\ud83d\\ude00", "ok"]}')
    cleaned = strip_nul(data)
    assert cleaned == {"name": "Boston \ufffdCeltics", "k\ufffd": ["\U0001f600", "ok"]}
    json.dumps(cleaned).encode()  # encodable now
    assert "".join(cleaned["k\ufffd"]).encode("utf-8")
