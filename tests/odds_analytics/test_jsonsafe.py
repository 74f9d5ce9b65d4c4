"""The one JSON-safe converter (`odds_analytics.jsonsafe`): strict JSON out of numpy, pandas and NaN."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from odds_analytics.jsonsafe import json_safe


class _Model(BaseModel):
    name: str
    edge: float


def test_nan_infinities_and_missing_times_become_null() -> None:
    value = {
        "a": float("nan"),
        "b": float("inf"),
        "c": -np.inf,
        "d": pd.NaT,
        "e": pd.NA,
        "f": np.float64("nan"),
    }
    assert json_safe(value) == dict.fromkeys("abcdef")


def test_numpy_scalars_become_python_numbers() -> None:
    out = json_safe([np.int64(3), np.float32(0.5), np.bool_(True)])
    assert out == [3, 0.5, True]
    assert [type(v) for v in out] == [int, float, bool]


def test_times_are_iso_8601_in_utc_and_dates_iso() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert json_safe(datetime(2026, 1, 2, 19, 0, tzinfo=eastern)) == "2026-01-03T00:00:00+00:00"
    assert json_safe(pd.Timestamp("2026-01-02T03:04:05Z")) == "2026-01-02T03:04:05+00:00"
    assert json_safe(date(2026, 1, 2)) == "2026-01-02"


def test_containers_keys_models_and_other_values() -> None:
    out = json_safe({1: (1, "x"), "m": _Model(name="a", edge=float("nan")), "p": Path("/tmp/r")})
    assert out == {"1": [1, "x"], "m": {"name": "a", "edge": None}, "p": "/tmp/r"}


def test_the_output_is_strict_json() -> None:
    frame = pd.DataFrame({"t": [pd.Timestamp("2026-01-01", tz=UTC), pd.NaT], "x": [1.5, np.nan]})
    records = json_safe(frame.to_dict(orient="records"))
    assert json.loads(json.dumps(records, allow_nan=False)) == [
        {"t": "2026-01-01T00:00:00+00:00", "x": 1.5},
        {"t": None, "x": None},
    ]
