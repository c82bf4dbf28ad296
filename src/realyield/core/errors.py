"""One exception family for the whole package.

Third-party errors (httpx, ccxt, SQLAlchemy) are translated into these at the
boundary, so callers only ever catch ``RealyieldError`` subclasses. Every message says
what was wrong, where, and what to do about it.
"""

from __future__ import annotations

from typing import Any


class RealyieldError(Exception):
    """Base of every error realyield raises on purpose."""


class ConfigError(RealyieldError):
    """A setting, configuration file or command-line option is invalid."""


class DataError(RealyieldError):
    """Input data is malformed, implausible or inconsistent."""


class RecordError(DataError):
    """A domain record was constructed with an invalid field.

    Carries the record type, the field and the offending value so that importers can
    report them row by row.
    """

    def __init__(self, record: str, field: str, value: Any, problem: str) -> None:
        self.record = record
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{record}.{field} = {value!r}: {problem}")


class NotFoundError(DataError):
    """What was asked for (an opportunity, index or job) does not exist."""


class InsufficientDataError(DataError):
    """There is not enough data to compute what was asked (e.g. too short a history)."""


class SourceError(RealyieldError):
    """A data source (HTTP API, exchange) failed in a way that retrying will not fix."""

    def __init__(self, message: str, *, source: str = "", status: int | None = None) -> None:
        self.source = source
        self.status = status
        super().__init__(message)


class TemporarySourceError(SourceError):
    """A source failed in a way that may pass: timeout, connection reset, 429, 5xx."""

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, source=source, status=status)


class SourceUnavailableError(TemporarySourceError):
    """The source cannot be reached at all (offline, DNS failure, circuit open)."""


class CircuitOpenError(SourceUnavailableError):
    """The circuit breaker is skipping a source that failed repeatedly."""


class StoreError(RealyieldError):
    """The local database could not be read, written or migrated."""


class AuthError(RealyieldError):
    """A request needs a valid API key and has none, a wrong one, or a revoked one."""


class LimitError(RealyieldError):
    """A request exceeds a limit (rate, queue, jobs per key); ``retry_after_s`` says when
    trying again may succeed (``None``: not by waiting)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)
