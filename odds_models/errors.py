"""The pipeline's typed errors.

```
OddsPipelineError
 ├── ConfigError                 a setting is missing or malformed (names the variable)
 ├── BadArgument                 a command argument is not one of the valid values (lists them)
 ├── UnsafeDatabaseError         tests pointed at a database whose name does not end in `_test`
 ├── UpstreamError               an API answered badly                     (endpoint, status)
 │    ├── TransientUpstreamError retryable: the client's tenacity layer retries these
 │    │    ├── TransportFailure  connect/read timeout, connection reset
 │    │    ├── RateLimited       HTTP 429 (retry_after seconds)
 │    │    └── ServerError       HTTP 5xx
 │    └── FinalUpstreamError     never retried
 │         ├── AuthRejected      401 MISSING_KEY / INVALID_KEY / DEACTIVATED_KEY
 │         ├── QuotaExhausted    401 OUT_OF_USAGE_CREDITS
 │         ├── BadRequest        422 (and 400) parameter validation, error_code kept
 │         ├── NotFound          404 unknown sport / event / token
 │         └── UpstreamStatusError any other status
 ├── PayloadError                the response broke the contract (bad JSON, missing fields)
 ├── BudgetExceeded              a paid call would exceed the configured monthly credit budget
 ├── NoDataError                 the database holds nothing for the request (e.g. no games in a window)
 └── DataQualityError            strict validation (REJECT_INVALID_ODDS) refused the data
```

The `odds` command exits 2 for `ConfigError`, `BadArgument` and `UnsafeDatabaseError` (fix the input) and 1
for the others (the run failed). Messages say what failed, where (endpoint, event id) and what to try. They never contain an API key:
`redact()` strips it from any URL or text before it reaches a message.
"""

from __future__ import annotations

import re

__all__ = [
    "AuthRejected",
    "BadArgument",
    "BadRequest",
    "BudgetExceeded",
    "ConfigError",
    "DataQualityError",
    "FinalUpstreamError",
    "NoDataError",
    "NotFound",
    "OddsPipelineError",
    "PayloadError",
    "QuotaExhausted",
    "RateLimited",
    "ServerError",
    "TransientUpstreamError",
    "TransportFailure",
    "UnsafeDatabaseError",
    "UpstreamError",
    "UpstreamStatusError",
    "redact",
]

_KEY_PARAM = re.compile(r"(?i)(api_?key=)[^&\s'\"]+")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove `apiKey=...` query values and any given secret strings from `text`."""
    text = _KEY_PARAM.sub(r"\1***", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class OddsPipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""


class ConfigError(OddsPipelineError):
    """A setting is missing or malformed."""


class BadArgument(OddsPipelineError):
    """An argument is not one of the valid values (found once the data is read); the CLI exits 2."""


class UnsafeDatabaseError(OddsPipelineError):
    """Refused to touch a database (tests only run on databases named `*_test`)."""


class UpstreamError(OddsPipelineError):
    """An upstream API answered with an error."""

    def __init__(self, message: str, *, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(redact(message))
        self.endpoint = redact(endpoint)
        self.status = status


class TransientUpstreamError(UpstreamError):
    """Worth retrying after a pause."""


class TransportFailure(TransientUpstreamError):
    """The request did not complete (timeout, connection error)."""


class RateLimited(TransientUpstreamError):
    """HTTP 429."""

    def __init__(
        self, message: str, *, endpoint: str = "", status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.retry_after = retry_after


class ServerError(TransientUpstreamError):
    """HTTP 5xx."""


class FinalUpstreamError(UpstreamError):
    """Retrying will not help."""

    def __init__(
        self, message: str, *, endpoint: str = "", status: int | None = None, error_code: str | None = None
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status)
        self.error_code = error_code


class AuthRejected(FinalUpstreamError):
    """The API key is missing, wrong or deactivated."""


class QuotaExhausted(FinalUpstreamError):
    """The monthly usage quota is used up (Odds API 401 OUT_OF_USAGE_CREDITS)."""


class BadRequest(FinalUpstreamError):
    """The API refused the parameters (422/400)."""


class NotFound(FinalUpstreamError):
    """Unknown sport, event, market or token (404)."""


class UpstreamStatusError(FinalUpstreamError):
    """Any other non-success status."""


class PayloadError(OddsPipelineError):
    """A response or file broke the expected contract (bad JSON, missing required fields)."""

    def __init__(self, message: str, *, endpoint: str = "") -> None:
        super().__init__(redact(message))
        self.endpoint = redact(endpoint)


class BudgetExceeded(OddsPipelineError):
    """A paid call would exceed the monthly credit budget."""


class NoDataError(OddsPipelineError):
    """The database holds nothing for the request (no games in the window, say)."""


class DataQualityError(OddsPipelineError):
    """Strict validation refused the data."""
