"""The one JSON-safe converter: what JSONB columns, report files and `--json` output receive.

    >>> json_safe({"roi": float("nan"), "n": np.int64(3), "at": datetime(2026, 1, 2, tzinfo=UTC)})
    {'roi': None, 'n': 3, 'at': '2026-01-02T00:00:00+00:00'}

- NaN, infinities, `NaT` and `pd.NA` become `None` (strict JSON; PostgreSQL's JSONB refuses NaN);
- numpy scalars become Python numbers, aware times ISO 8601 in UTC, dates ISO 8601;
- dicts (keys as strings), lists and tuples are converted item by item; a pydantic model by its dump;
- anything else becomes its `str()`.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["json_safe"]


def json_safe(value: Any) -> Any:
    """A copy of `value` that `json.dumps(..., allow_nan=False)` accepts (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, datetime):  # pandas Timestamps too
        return (value.astimezone(UTC) if value.tzinfo is not None else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    if hasattr(value, "model_dump"):
        return json_safe(value.model_dump())
    return str(value)
