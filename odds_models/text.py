"""Text that PostgreSQL can store: the one NUL scrubber every writer and parser uses."""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["strip_nul"]


def strip_nul(value: Any) -> Any:
    """Drop NUL characters from every string (keys too) inside `value`: PostgreSQL text and JSONB cannot
    store them (`\\u0000`); they turn up only in hostile or corrupted input. A lone UTF-16 surrogate
    (`"\\ud800"` in JSON, which no UTF-8 text can hold) becomes U+FFFD, so one bad name cannot make the
    database refuse a whole paid response. Other values pass unchanged.

    The common case (no NUL anywhere in a dict or list) returns `value` itself: one orjson serialisation
    (C, ~1 ms per MB) finds out, instead of rebuilding every dict and list of a multi-MB response in Python
    (a third of the importer's parse time before issue 17)."""
    if isinstance(value, dict | list):
        try:
            if b"\\u0000" not in orjson.dumps(value):
                return value
        except (TypeError, orjson.JSONEncodeError):  # not plain JSON data (e.g. an int beyond 64 bits)
            pass
    return _strip_nul(value)


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        try:
            value.encode()
        except UnicodeEncodeError:  # lone surrogates (a valid pair written as two escapes is joined)
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value
