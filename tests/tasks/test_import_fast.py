"""The import's fast parser (`tasks.import_fast`, issue 17) returns exactly what the general parser returns.

`parse_payload_file(..., fast=True)` must give, for every file, the same snapshot items (identity, tier, raw JSON,
markets key, findings) and the same odds rows, byte for byte in the binary COPY format, as
`parse_payload_file` followed by the writer's encoding, or raise the same `PayloadError`. Checked on every
real file, on hand-made hostile variants of a real event (each finding, NUL bytes, huge integers, unix-second
times, duplicates, partial files...) and on generated payloads; then in the database, the whole import of
those files against the reference writer, row for row, with `REJECT_INVALID_ODDS` off and on.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odds_analytics.tiers import TierSpec
from odds_models.errors import PayloadError
from tasks.import_oddsapi import import_oddsapi_paths, iter_payload_files, parse_payload_file
from tasks.storage.odds import SnapshotItem, json_text
from tasks.storage.odds_copy import encode_row, snapshot_head

_BASE_FILE = "2022-2023/odds_2023-01-16_full_game_first_half.json.gz"
USED: dict[str, int] = {"fast": 0, "general": 0}


def _canon(item: SnapshotItem) -> tuple[Any, ...]:
    """Everything the writer stores of an item; rows as the binary COPY rows of snapshot id 1 (all valid:
    the findings, compared too, decide `is_valid` and `notes`)."""
    if item.copy_rows is not None:
        assert not item.findings
        head = snapshot_head(1, item.event.id, item.snapshot_time)
        rows = [head + r for r in item.copy_rows]
        assert item.raw == []
        raw, count = item.raw_json, item.raw_count
        featured = item.featured
    else:
        rows = [
            encode_row(
                (
                    1,
                    r.event_id,
                    item.snapshot_time,
                    r.bookmaker,
                    r.market,
                    r.outcome,
                    r.description,
                    r.point,
                    r.price_decimal,
                    r.price_american,
                    r.bookmaker_last_update,
                    r.market_last_update,
                    True,
                    None,
                )
            )
            for r in item.rows
        ]
        raw, count = json_text(item.raw), len(item.raw)
        featured = any(r.market in ("h2h", "spreads", "totals") for r in item.rows)
    return (item.event, item.source, item.snapshot_time, item.fetch_tier, item.hours_to_commence, raw,
            count, item.markets, item.findings, featured, rows)  # fmt: skip


def _outcome(path: Path, parse: Callable[[Path, TierSpec], Any]) -> Any:
    try:
        items, events = parse(path, TierSpec())
    except PayloadError as exc:
        return ("error", str(exc))
    try:
        return ([_canon(it) for it in items], events)
    except UnicodeEncodeError as exc:  # a lone surrogate: stored by neither (the database refuses the batch)
        return ("unicode", exc.reason)
    except OverflowError as exc:  # an American price beyond int4: neither can store it
        return ("overflow", str(exc))


def _assert_same(path: Path) -> Any:
    expected = _outcome(path, parse_payload_file)
    got = _outcome(path, partial(parse_payload_file, fast=True))
    assert got == expected, path
    try:
        for item in parse_payload_file(path, TierSpec(), fast=True)[0]:
            USED["fast" if item.copy_rows is not None else "general"] += 1
    except PayloadError:
        pass
    return got


@pytest.mark.shared
def test_every_real_file_parses_the_same(data_dir: Path) -> None:
    files = iter_payload_files([data_dir / "oddsapi_historical" / "odds"])
    assert len(files) > 500
    USED.update(fast=0, general=0)
    for path in files:
        _assert_same(path)
    # the fast path is the common one, and the general one is exercised too (events with findings)
    assert USED["fast"] > 0.9 * (USED["fast"] + USED["general"])
    assert USED["general"] > 10


def _base(data_dir: Path) -> dict[str, Any]:
    with gzip.open(data_dir / "oddsapi_historical" / "odds" / _BASE_FILE) as f:
        return json.load(f)


def _first_market(payload: dict[str, Any], key: str) -> dict[str, Any]:
    return next(m for m in payload["data"][0]["bookmakers"][0]["markets"] if m["key"] == key)


def _variants() -> dict[str, Callable[[dict[str, Any]], Any]]:
    """Name → a change of the base payload (in place, or returning the new payload)."""

    def outcome(key: str, i: int, **changes: Any) -> Callable[[dict[str, Any]], None]:
        def change(p: dict[str, Any]) -> None:
            _first_market(p, key)["outcomes"][i].update(changes)

        return change

    def market(which: str, **changes: Any) -> Callable[[dict[str, Any]], None]:
        def change(p: dict[str, Any]) -> None:
            _first_market(p, which).update(changes)

        return change

    def book(**changes: Any) -> Callable[[dict[str, Any]], None]:
        def change(p: dict[str, Any]) -> None:
            p["data"][0]["bookmakers"][0].update(changes)

        return change

    def event(**changes: Any) -> Callable[[dict[str, Any]], None]:
        def change(p: dict[str, Any]) -> None:
            p["data"][0].update(changes)

        return change

    def repeat_market(p: dict[str, Any]) -> None:
        markets = p["data"][0]["bookmakers"][0]["markets"]
        markets.append(copy.deepcopy(markets[0]))

    def repeat_book(p: dict[str, Any]) -> None:
        books = p["data"][0]["bookmakers"]
        books.append(copy.deepcopy(books[0]))

    def duplicate_outcome(p: dict[str, Any]) -> None:
        outs = _first_market(p, "h2h")["outcomes"]
        outs.append(dict(outs[0]))

    def third_outcome(p: dict[str, Any]) -> None:
        _first_market(p, "totals")["outcomes"].append({"name": "Over", "price": -120, "point": 240.5})

    def props(p: dict[str, Any]) -> None:
        p["data"][0]["bookmakers"][0]["markets"].append({
            "key": "player_points", "last_update": "2023-01-16T11:54:12Z",
            "outcomes": [{"name": "Over", "description": "Jayson Tatum", "price": -115, "point": 30.5},
                         {"name": "Under", "description": "Jayson Tatum", "price": -105, "point": 30.5},
                         {"name": "Over", "description": "Jaylen Brown", "price": 1.91, "point": 25.5}],
        })  # fmt: skip

    def props_decimal_hundreds(p: dict[str, Any]) -> None:  # floats of 100 and more: decimal, not American
        p["data"][0]["bookmakers"][0]["markets"].append({
            "key": "player_points", "outcomes": [{"name": "Over", "description": "A", "price": 150.0, "point": 9.5},
                                                 {"name": "Over", "description": "B", "price": 250, "point": 9.5}],
        })  # fmt: skip

    def plain_list(p: dict[str, Any]) -> Any:
        return p["data"]  # an /odds response: the snapshot time is the latest last_update

    def event_odds(p: dict[str, Any]) -> Any:
        return p["data"][0]  # an /events/{id}/odds response

    def nul_everywhere(p: dict[str, Any]) -> None:
        b = p["data"][0]["bookmakers"][0]
        b["key"] = "draft\x00kings"
        b["markets"][0]["outcomes"][0]["name"] += "\x00"
        b["title\x00"] = "x"

    def wide_markets(p: dict[str, Any]) -> None:  # a markets key over 512 characters (hashed)
        for i in range(60):
            p["data"][0]["bookmakers"][0]["markets"].append(
                {
                    "key": f"player_prop_number_{i:03d}",
                    "outcomes": [{"name": "Over", "price": 1.9, "point": 1.5}],
                }
            )

    return {
        "as_is": lambda p: None,
        "american_price_out_of_range": outcome("h2h", 0, price=50),
        "decimal_price_one": outcome("h2h", 0, price=1.0),
        "decimal_market": lambda p: [outcome("h2h", i, price=v)(p) for i, v in ((0, 1.3), (1, 3.9))],
        "decimal_ints": lambda p: [outcome("h2h", i, price=v)(p) for i, v in ((0, 2), (1, 2))],
        "price_huge": outcome("h2h", 0, price=10**30),
        "price_20_digits": outcome("h2h", 0, price=12345678901234567890),
        "point_20_digits": outcome("spreads", 0, point=-12345678901234567890),
        "price_beyond_max": outcome("h2h", 1, price=250000),
        "american_overflow": lambda p: [
            outcome("h2h", i, price=v)(p) for i, v in ((0, 1.00000001), (1, 500.0))
        ],
        "decimal_near_one": lambda p: [
            outcome("h2h", i, price=v)(p) for i, v in ((0, 1.0000001), (1, 500.0))
        ],
        "price_bool": outcome("h2h", 0, price=True),
        "price_string": outcome("h2h", 0, price="-110"),
        "price_null": outcome("h2h", 0, price=None),
        "price_nan": outcome("h2h", 0, price=float("nan")),
        "point_nan": outcome("spreads", 0, point=float("nan")),
        "point_infinite": outcome("totals", 1, point=float("inf")),
        "price_infinite": outcome("h2h", 1, price=float("-inf")),
        "point_string": outcome("spreads", 0, point="8.5"),
        "point_int": lambda p: [outcome("spreads", i, point=v)(p) for i, v in ((0, -8), (1, 8))],
        "point_zero": lambda p: [outcome("spreads", i, point=v)(p) for i, v in ((0, 0.0), (1, -0.0))],
        "point_negative_zero": lambda p: [
            outcome("spreads", i, point=v)(p) for i, v in ((0, -0.0), (1, 0.0))
        ],
        "point_zero_int": lambda p: [outcome("spreads", i, point=v)(p) for i, v in ((0, 0), (1, 0))],
        "spread_not_mirrored": outcome("spreads", 0, point=-7.5),
        "spread_no_point": lambda p: _first_market(p, "spreads")["outcomes"][0].pop("point"),
        "totals_mismatch": outcome("totals", 0, point=230.5),
        "unknown_team": outcome("h2h", 0, name="Boston Celtic"),
        "unknown_total_side": outcome("totals", 1, name="under"),
        "negative_overround": lambda p: [outcome("h2h", i, price=v)(p) for i, v in ((0, 150), (1, 150))],
        "overround_too_large": lambda p: [outcome("h2h", i, price=v)(p) for i, v in ((0, -400), (1, -400))],
        "missing_outcome": lambda p: _first_market(p, "h2h")["outcomes"].pop(),
        "third_outcome": third_outcome,
        "duplicate_outcome": duplicate_outcome,
        "repeated_market": repeat_market,
        "repeated_bookmaker": repeat_book,
        "description": outcome("h2h", 0, description="first half"),
        "description_not_text": outcome("h2h", 0, description=5),
        "name_blank": outcome("h2h", 0, name="  "),
        "name_missing": lambda p: _first_market(p, "h2h")["outcomes"][0].pop("name"),
        "outcome_not_object": lambda p: _first_market(p, "h2h")["outcomes"].append("x"),
        "outcomes_not_list": market("h2h", outcomes={"a": 1}),
        "outcomes_empty": market("h2h", outcomes=[]),
        "market_key_missing": lambda p: _first_market(p, "h2h").pop("key"),
        "market_lay": market("h2h", key="h2h_lay"),
        "market_first_half": market("spreads", key="spreads_h1"),
        "future_market_update": market("h2h", last_update="2023-01-16T12:30:00Z"),
        "future_book_update": book(last_update="2023-01-16T12:01:00Z"),
        "near_future_update": book(last_update="2023-01-16T11:59:00Z"),
        "unix_seconds_update": book(last_update=1673870052),
        "bad_update": market("h2h", last_update="yesterday"),
        "update_out_of_range": market("h2h", last_update="1999-12-31T23:00:00Z"),
        "update_offset": market("h2h", last_update="2023-01-16T12:54:12+01:00"),
        "no_updates": lambda p: [b.pop("last_update", None) for b in p["data"][0]["bookmakers"]],
        "bookmakers_null": event(bookmakers=None),
        "bookmakers_empty": event(bookmakers=[]),
        "bookmakers_missing": lambda p: p["data"][0].pop("bookmakers"),
        "bookmakers_not_list": event(bookmakers={"a": 1}),
        "book_not_object": lambda p: p["data"][0]["bookmakers"].append(7),
        "book_key_blank": book(key=""),
        "markets_not_list": book(markets="h2h"),
        "event_id_missing": lambda p: p["data"][0].pop("id"),
        "commence_bad": event(commence_time="soon"),
        "event_not_object": lambda p: p["data"].append([1, 2]),
        "timestamp_bad": lambda p: p.update(timestamp="later"),
        "previous_timestamp_bad": lambda p: p.update(previous_timestamp=True),
        "props": props,
        "props_decimal_hundreds": props_decimal_hundreds,
        "plain_list": plain_list,
        "event_odds": event_odds,
        "nul_everywhere": nul_everywhere,
        "lone_surrogate": outcome("h2h", 0, name="Boston \ud800Celtics"),
        "wide_markets": wide_markets,
        "started_game": event(commence_time="2023-01-16T10:00:00Z"),
    }


_RETURN_NEW = ("plain_list", "event_odds")  # these return the new payload; the others change it in place


def _write_variants(data_dir: Path, folder: Path) -> list[Path]:
    paths = []
    for name, change in _variants().items():
        payload = _base(data_dir)
        changed = change(payload)
        body = json.dumps(changed if name in _RETURN_NEW else payload)  # NaN as NaN, a surrogate as \ud800
        path = folder / f"{name}.json.gz"
        path.write_bytes(gzip.compress(body.encode()))
        paths.append(path)
    return paths


@pytest.mark.shared
def test_hostile_variants_parse_the_same(data_dir: Path, tmp_path: Path) -> None:
    USED.update(fast=0, general=0)
    results = {
        path.stem.removesuffix(".json"): _assert_same(path) for path in _write_variants(data_dir, tmp_path)
    }
    errors = {name for name, r in results.items() if r[0] in ("error", "unicode", "overflow")}
    assert {"outcome_not_object", "bad_update", "timestamp_bad"} <= errors
    # stored, not refused: the surrogate becomes U+FFFD, the price just above 1 an invalid row
    assert not {"lone_surrogate", "american_overflow"} & errors
    assert "as_is" not in errors
    assert "props" not in errors
    assert USED["fast"] > 50
    assert USED["general"] > 20
    # partial files: cut anywhere, still the same verdict (and a broken file is refused whole)
    blob = (tmp_path / "as_is.json.gz").read_bytes()
    raw = gzip.decompress(blob)
    for cut in (10, 1000, len(raw) // 2, len(raw) - 1):
        (tmp_path / "cut.json").write_bytes(raw[:cut])
        assert _assert_same(tmp_path / "cut.json")[0] == "error"
    (tmp_path / "cut.json.gz").write_bytes(blob[: len(blob) // 2])
    assert _assert_same(tmp_path / "cut.json.gz")[0] == "error"


outcomes = st.fixed_dictionaries(
    {"name": st.sampled_from(["Boston Celtics", "Charlotte Hornets", "Over", "Under", "x"]),
     "price": st.sampled_from([-110, -105, 100, 120, 250, 50, 1.91, 2.05, 1.0, 2, -110.0, True, None, "1"]),
     "point": st.sampled_from([None, 8.5, -8.5, 231.5, 0.0, -0.0, 3, "x"])},
    optional={"description": st.sampled_from(["", "a", 3])},
)  # fmt: skip
markets = st.fixed_dictionaries(
    {"key": st.sampled_from(["h2h", "spreads", "totals", "h2h_lay", "player_points", ""]),
     "outcomes": st.lists(outcomes, max_size=3)},
    optional={"last_update": st.sampled_from(["2023-01-16T11:54:12Z", "2023-01-16T13:00:00Z", 1673870052, None])},
)  # fmt: skip
books = st.fixed_dictionaries(
    {"key": st.sampled_from(["dk", "fd", "pinnacle"]), "markets": st.lists(markets, max_size=3)},
    optional={"last_update": st.sampled_from(["2023-01-16T11:54:12Z", "2023-01-16T11:00:00Z", "bad"])},
)  # fmt: skip
events = st.fixed_dictionaries({
    "id": st.sampled_from(["e1", "e2"]), "home_team": st.just("Charlotte Hornets"),
    "away_team": st.just("Boston Celtics"), "commence_time": st.just("2023-01-16T18:10:00Z"),
    "bookmakers": st.lists(books, max_size=3),
})  # fmt: skip
payloads = st.one_of(
    st.fixed_dictionaries(
        {"timestamp": st.just("2023-01-16T11:55:38Z"), "data": st.lists(events, max_size=3)}
    ),
    st.lists(events, max_size=3),
    events,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payloads)
def test_generated_payloads_parse_the_same(tmp_path: Path, payload: Any) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(payload))
    _assert_same(path)


# ---- the whole import against the reference writer, in the database ------------------------------------


@pytest.mark.db
@pytest.mark.shared
@pytest.mark.parametrize("reject", [False, True])
async def test_import_of_hostile_files_stores_what_the_reference_writer_stores(
    db: str, data_dir: Path, tmp_path: Path, reject: bool
) -> None:
    """Real files and the hostile variants that parse, through `import_oddsapi_paths` (fast parser, binary
    COPY, `copy_odds_bulk`) and through the general parser and the trigger-path writer: every table equal."""
    from tests.tasks.test_import_oddsapi_bulk import _dump, _reset, _sample, _write

    folder = tmp_path / "files"
    folder.mkdir()
    variants = []
    for path in _write_variants(data_dir, folder):
        if _outcome(path, parse_payload_file)[0] in ("unicode", "overflow"):
            path.unlink()  # the database refuses these batches (tested by parsing above)
        elif _outcome(path, parse_payload_file)[0] != "error":
            variants.append(path)
    (folder / "broken.json").write_bytes(b'{"timestamp": "2023-01-16T11:55:38Z", "data": [')
    files = [*_sample(data_dir)[:4], folder]
    ordered = iter_payload_files(files)
    items: list[SnapshotItem] = []
    for path in ordered:
        try:
            items += parse_payload_file(path, TierSpec())[0]
        except PayloadError:
            continue  # refused whole, by both
    assert len(variants) > 40
    await _write([items], bulk=False, reject_invalid=reject)
    expected = await _dump()
    await _reset()
    summary = await import_oddsapi_paths(files, reject_invalid=reject, batch_rows=10**9, writers=1)
    errors = [e for e in summary.errors if "broken.json" in e]
    assert len(errors) == 1
    assert summary.files_failed == len(summary.errors) > 10
    assert await _dump() == expected
    assert any('"is_valid": false' in r for r in expected["odds"]) != reject
    assert expected["data_quality_logs"]
    again = await import_oddsapi_paths(files, reject_invalid=reject, writers=2, batch_rows=5_000)
    assert (again.events_new, again.snapshots, again.odds_rows, again.quality_issues) == (0, 0, 0, 0)
    assert await _dump() == expected


@pytest.mark.shared
def test_caches_emptied_when_full_parse_the_same(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The value caches (prices, outcome parts, market families) empty themselves when full: still the same."""
    import tasks.import_fast as fast

    monkeypatch.setattr(fast, "_CACHE_MAX", 3)
    monkeypatch.setattr(fast, "_CACHE", fast._Caches())
    files = iter_payload_files([data_dir / "oddsapi_historical" / "odds"])[::25]
    for path in [*files, *_write_variants(data_dir, tmp_path)]:
        _assert_same(path)
    assert 0 < len(fast._CACHE.outcome) <= 3
