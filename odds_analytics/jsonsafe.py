"""The one JSON-safe converter: what JSONB columns, report files and `--json` output receive.

    >>> json_safe({"roi": float("nan"), "n": np.int64(3), "at": datetime(2026, 1, 2, tzinfo=UTC)})
    {'roi': None, 'n': 3, 'at': '2026-01-02T00:00:00+00:00'}

- NaN, infinities, `NaT` and `pd.NA` become `None` (strict JSON; PostgreSQL's JSONB refuses NaN);
- numpy scalars and Decimals become Python numbers, times ISO 8601 in UTC (a naive time is read as UTC),
  dates ISO 8601, timedeltas seconds, enums their value, paths strings;
- dicts (keys as strings), lists, tuples and sets item by item; pydantic models and dataclasses as objects,
  DataFrames as lists of records, Series and arrays as lists;
- anything else becomes its `str()`.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe"]


def json_safe(value: Any) -> Any:
    """A copy of `value` that `json.dumps(..., allow_nan=False)` accepts (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(json_safe(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, datetime):  # pandas Timestamps too; a naive time is read as UTC
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if hasattr(value, "model_dump"):
        return json_safe(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_safe(dataclasses.asdict(value))
    if isinstance(value, pd.DataFrame):
        return json_safe(value.to_dict(orient="records"))
    if isinstance(value, pd.Series | np.ndarray):
        return json_safe(value.tolist())
    if str(value) in ("<NA>", "NaT", "nan"):
        return None
    return str(value)
