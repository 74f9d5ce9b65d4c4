"""Text that PostgreSQL can store: the one NUL scrubber every writer and parser uses."""

from __future__ import annotations

from typing import Any

__all__ = ["strip_nul"]


def strip_nul(value: Any) -> Any:
    """Drop NUL characters from every string (keys too) inside `value`: PostgreSQL text and JSONB cannot
    store them (`\\u0000`); they turn up only in hostile or corrupted input. Other values pass unchanged."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {strip_nul(k): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value
