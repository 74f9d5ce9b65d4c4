"""Reading saved API responses from disk (`odds import oddsapi`, `odds import polymarket`).

One reader for both importers: `.json` or gzip (by the `.gz` name or the gzip magic bytes), read with a size
cap so a gzip bomb stops after `MAX_PAYLOAD_BYTES` instead of filling memory, and every problem a
`PayloadError` that names the file.
"""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import orjson

from odds_models.errors import PayloadError

__all__ = ["MAX_PAYLOAD_BYTES", "read_payload_file"]

# The largest real responses are a few MB (a full slate with every market); 64 MiB is room to spare.
MAX_PAYLOAD_BYTES = 64 * 2**20
_LONG_DIGITS = b"0" * 20
# every digit byte to `0`, every other byte to `x`: `_LONG_DIGITS in blob.translate(_DIGITS_TO_ZERO)` is the
# regular expression `[0-9]{20}`, at C speed (the expression took 0.3-0.8 s over the three seasons, this 0.05 s)
_DIGITS_TO_ZERO = bytes(0x30 if 0x30 <= i <= 0x39 else 0x78 for i in range(256))


def _has_long_digits(blob: bytes) -> bool:
    """True when `blob` holds 20 digits in a row (an integer the orjson reader would read differently)."""
    return _LONG_DIGITS in blob.translate(_DIGITS_TO_ZERO)


def read_payload_file(path: Path, *, max_bytes: int | None = None) -> Any:
    """The JSON inside `path`; `PayloadError` naming the file when it cannot be read, is larger than
    `max_bytes` (default `MAX_PAYLOAD_BYTES`, counted after decompression) or is not JSON."""
    limit = MAX_PAYLOAD_BYTES if max_bytes is None else max_bytes
    where = str(path)
    compressed = False
    try:
        with path.open("rb") as raw:
            compressed = path.name.endswith(".gz") or raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            if compressed:
                with gzip.GzipFile(fileobj=raw) as unzipped:
                    blob = unzipped.read(limit + 1)
            else:
                blob = raw.read(limit + 1)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise PayloadError(f"{where}: corrupt or truncated gzip data ({exc})"[:300], endpoint=where) from None
    except OSError as exc:
        reason = exc.strerror or f"{type(exc).__name__}: {exc}"
        raise PayloadError(f"{where}: cannot read ({reason})"[:300], endpoint=where) from None
    if len(blob) > limit:
        grown = " once decompressed" if compressed else ""
        raise PayloadError(f"{where}: larger than {limit:,} bytes{grown}; not imported", endpoint=where)
    # orjson (C, 2-4x faster) when it reads the blob exactly as the standard library does: it reads an
    # integer of 20+ digits as a float, and refuses NaN and lone surrogates, which keep their old meaning; a
    # real syntax error gets the standard library's message
    if not _has_long_digits(blob):
        try:
            return orjson.loads(blob)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(blob)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"{where}: not valid JSON ({exc})"[:300], endpoint=where) from None
    except RecursionError:
        raise PayloadError(f"{where}: JSON nested too deeply", endpoint=where) from None
