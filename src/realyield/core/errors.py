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


class FieldError(DataError):
    """One field of one row could not be read (``core.parsing`` raises it).

    ``column`` names the field, ``value`` is the raw value as shown to a user (cut to
    60 characters, control characters escaped, so a NUL or a 1 MB cell cannot garble a
    terminal or a log), ``reason`` says what is wrong and what to do, ``code`` is a
    short stable name for counting rejections. Importers add the file and row number.
    """

    def __init__(self, column: str, value: object, reason: str, *, code: str = "bad_value") -> None:
        self.column = column
        self.value = shown_value(value)
        self.reason = reason
        self.code = code
        super().__init__(f"column {column!r}: '{self.value}' {reason}")


def shown_value(value: object, limit: int = 60) -> str:
    """``value`` as safe one-line text: at most ``limit`` characters, control and other
    unprintable characters escaped (``\\x00``), the full length named when cut."""
    text = value if isinstance(value, str) else repr(value)
    cut = text[:limit]
    safe = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in cut
    )
    return safe if len(text) <= limit else f"{safe}... ({len(text):,} characters)"


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


class ExecutionError(RealyieldError):
    """An order could not be placed, or what happened to it is not known.

    Carries the exchange (or broker) and, where there is one, the client order id, so a
    user can look the order up on the exchange.
    """

    def __init__(self, message: str, *, broker: str = "", client_order_id: str = "") -> None:
        self.broker = broker
        self.client_order_id = client_order_id
        super().__init__(message)


class InsufficientFundsError(ExecutionError):
    """The account lacks the balance for an order. Never retried: it will not pass."""


class InvalidOrderError(ExecutionError):
    """The exchange refused an order as malformed or outside a market's limits (minimum
    notional, lot size, precision, price band). Never retried: it will not pass."""


class OrderNotFoundError(ExecutionError):
    """The exchange does not know an order with that id (it was never placed)."""


class OrderStateUnknownError(ExecutionError):
    """An order was sent but neither its placement nor its absence could be confirmed.

    Nothing is resubmitted under a new id while this is unresolved: the order journal
    keeps it, and the next run looks it up by its client order id first.
    """


class WorkerPoolError(RealyieldError):
    """A batch of tasks (sweep, plan batch) could not be completed by its executor: a
    worker process died, a task was lost, or the Dask scheduler cannot be reached. Not
    an order problem (that is ``ExecutionError``)."""


class UnsafeKeyError(ConfigError):
    """An exchange API key carries a permission realyield refuses to hold (withdrawals)."""


class NotifyError(RealyieldError):
    """A notification (webhook, email) could not be delivered; the alert stays stored
    and its delivery is retried on the next run."""


class TemporaryNotifyError(NotifyError):
    """A delivery failed in a way that may pass: timeout, refused connection, 429, 5xx,
    an SMTP 4xx reply."""


class AuthError(RealyieldError):
    """A request needs a valid API key and has none, a wrong one, or a revoked one."""


class ForbiddenError(AuthError):
    """The caller is known but may not do this: the dashboard token on a route that
    needs an API key, or a browser request from another origin (HTTP 403)."""


class LimitError(RealyieldError):
    """A request exceeds a limit (rate, queue, jobs per key); ``retry_after_s`` says when
    trying again may succeed (``None``: not by waiting)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)
