"""The fault plan: spec parsing, seeded draws, the bound on consecutive faults, schema drift."""

from __future__ import annotations

import json

import pytest

from replay.faults import FaultPlan, _drift


def test_spec_parsing_picks_the_first_matching_rule() -> None:
    plan = FaultPlan.from_spec("/clob/*:truncated=0.5,latency=10;*:429=0.1,5xx=0.2,retry_after=2")
    clob = plan.rule_for("/clob/book")
    other = plan.rule_for("/oddsapi/v4/sports")
    assert clob is not None
    assert other is not None
    assert (clob.rate_truncated, clob.latency_ms, clob.rate_429) == (0.5, 10.0, 0.0)
    assert (other.rate_429, other.rate_5xx, other.retry_after) == (0.1, 0.2, 2)
    with pytest.raises(ValueError, match="bad fault spec"):
        FaultPlan.from_spec("*:explode=1")


def test_draws_are_seeded_and_rates_are_respected() -> None:
    def fates(seed: int) -> list[str | None]:
        plan = FaultPlan.from_spec("*:429=0.2,5xx=0.1,extra=0.1,max_consecutive=99", seed=seed)
        return [plan.decide(f"/p{i % 7}")[1] for i in range(3000)]

    a, b = fates(1), fates(1)
    assert a == b
    assert a != fates(2)
    assert 0.17 < a.count("429") / len(a) < 0.23
    assert 0.07 < a.count("5xx") / len(a) < 0.13


def test_consecutive_failures_are_bounded_per_path() -> None:
    plan = FaultPlan.from_spec("*:5xx=1,max_consecutive=2")
    fates = [plan.decide("/x")[1] for _ in range(9)]
    assert fates == ["5xx", "5xx", None] * 3
    assert plan.injected["5xx"] == 6
    assert plan.requests == 9


def test_drift_adds_unknown_fields_and_drops_only_optional_ones() -> None:
    body = [{"id": "a", "sport_title": "NBA", "bookmakers": [{"key": "dk", "markets": [
        {"key": "h2h", "last_update": "x", "outcomes": [{"name": "A", "price": 1.9}]}]}]}]  # fmt: skip
    extra = _drift(body, "extra")
    assert extra[0]["replay_drift_field"]
    assert extra[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"] == 1.9
    missing = _drift(body, "missing")
    assert "sport_title" not in missing[0]
    assert "last_update" not in missing[0]["bookmakers"][0]["markets"][0]
    assert missing[0]["bookmakers"][0]["markets"][0]["outcomes"] == [{"name": "A", "price": 1.9}]
    assert json.dumps(body)  # the original is untouched
    assert body[0]["sport_title"] == "NBA"


def test_drift_leaves_id_keyed_maps_alone() -> None:
    prices = {"1234567": {"BUY": "0.41", "SELL": "0.43"}}
    assert _drift(prices, "extra") == prices
    assert "replay_drift_field" in _drift([{"market": "0x1", "bids": []}], "extra")[0]
