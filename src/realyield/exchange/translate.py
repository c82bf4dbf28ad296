"""ccxt exceptions become realyield exceptions here, with secrets scrubbed.

Why: callers must be able to catch ``RealyieldError`` subclasses only, decide to retry
from the class alone (``TemporarySourceError`` and below are worth retrying, the rest
are not), and read a message that names the exchange, the operation and what to do.
ccxt messages often carry the request URL and response body; those are kept (after
scrubbing) because they are the best clue, except for authentication failures, whose
messages are dropped entirely so a key can never leak through them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import ccxt

from realyield.core.errors import (
    DataError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RealyieldError,
    SourceError,
    SourceUnavailableError,
    TemporarySourceError,
)

CREDENTIAL_FIELDS: Final = (
    "apiKey",
    "secret",
    "password",
    "uid",
    "login",
    "twofa",
    "privateKey",
    "walletAddress",
    "token",
    "accountId",
)
_MAX_DETAIL: Final = 300
_REDACTED: Final = "***"
_SECRET_PARAM = re.compile(
    r"(?i)(signature|api[-_]?key|api[-_]?sign|secret|x-mbx-apikey|passphrase|token)"
    r"([\"']?\s*[=:]\s*[\"']?)[^&\s\"',}]+"
)
_UNREACHABLE_MARKERS: Final = (
    "Failed to establish a new connection",
    "Name or service not known",
    "nodename nor servname",
    "Temporary failure in name resolution",
    "getaddrinfo failed",
    "Network is unreachable",
    "No route to host",
    "Connection refused",
)


def credential_values(api: Any) -> list[str]:
    """The non-trivial credential strings set on a ccxt exchange object (to scrub)."""
    found: list[str] = []
    for name in CREDENTIAL_FIELDS:
        value = getattr(api, name, None)
        if isinstance(value, str) and len(value) >= 4:
            found.append(value)
    return found


def has_credentials(api: Any) -> bool:
    """Whether any credential is set on ``api`` (never says which or what)."""
    return bool(credential_values(api))


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret value and signature-like parameter replaced."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + m.group(2) + _REDACTED, text)


def scrub_exception_chain(exc: BaseException, secrets: Iterable[str]) -> None:
    """Scrub the string arguments of ``exc`` and its causes in place.

    The translated error chains the original (``raise ... from exc``), so a traceback
    prints the original's message too; it must not carry a key either.
    """
    secret_list = list(secrets)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(
            scrub(arg, secret_list) if isinstance(arg, str) else arg for arg in current.args
        )
        current = current.__cause__ or current.__context__


def _is_unreachable(exc: BaseException) -> bool:
    texts = [str(exc)]
    if exc.__cause__ is not None:
        texts.append(str(exc.__cause__))
    return any(marker in text for text in texts for marker in _UNREACHABLE_MARKERS)


def translate_error(
    exc: Exception,
    *,
    exchange_id: str,
    operation: str,
    attempt: int,
    max_attempts: int,
    timeout_s: float,
    secrets: Iterable[str] = (),
) -> RealyieldError:
    """The realyield error for a ccxt error raised while doing ``operation``.

    Mapping (checked in this order):
        ``OrderNotFound`` -> ``OrderNotFoundError``; ``InsufficientFunds`` ->
        ``InsufficientFundsError``; ``InvalidOrder`` (and ``DuplicateOrderId``) ->
        ``InvalidOrderError`` (these three are never retried); ``BadSymbol`` ->
        ``DataError``; ``AuthenticationError`` (and ``PermissionDenied``)
        -> ``SourceError`` without the exchange's message; ``ExchangeNotAvailable`` and
        an unreachable network -> ``SourceUnavailableError``; ``RateLimitExceeded``,
        ``DDoSProtection``, ``RequestTimeout`` and other ``NetworkError`` ->
        ``TemporarySourceError``; any other ``ccxt.BaseError`` -> ``SourceError``.

    The caller chains the original (``raise translate_error(...) from exc``); this
    function scrubs secrets from that original in place first.
    """
    secret_list = list(secrets)
    scrub_exception_chain(exc, secret_list)
    kind = type(exc).__name__
    detail = scrub(str(exc), secret_list)
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL] + "..."
    where = f"{exchange_id}: {operation} failed"
    tried = f" (attempt {attempt} of {max_attempts})"
    seen = f"ccxt {kind}: {detail}"

    if isinstance(exc, ccxt.OrderNotFound):
        return OrderNotFoundError(
            f"{where}: the exchange has no such order ({seen}).", broker=exchange_id
        )
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFundsError(
            f"{where}: the account's balance is too small for this order ({seen}). What to "
            "do: nothing is retried; re-plan from fresh balances (`realyield rebalance "
            "--dry-run`), or lower the amounts.",
            broker=exchange_id,
        )
    if isinstance(exc, ccxt.InvalidOrder):
        return InvalidOrderError(
            f"{where}: the exchange refused the order as invalid ({seen}). What to do: "
            "nothing is retried; check the market's minimum notional, lot size and price "
            "precision (the planner rounds to them from the exchange's markets) and the "
            "order type.",
            broker=exchange_id,
        )
    if isinstance(exc, ccxt.BadSymbol):
        return DataError(
            f"{where}: the exchange does not know this market ({seen}). What to do: check "
            f"the symbol against ExchangeClient({exchange_id!r}).markets(); the market may "
            "be delisted or named differently on this exchange."
        )
    if isinstance(exc, ccxt.AuthenticationError):
        return SourceError(
            f"{where}: the exchange rejected the credentials or their permissions "
            f"(ccxt {kind}; message withheld because it may echo credentials). What to do: "
            "public market data needs no API key, so remove it for public calls; for "
            "private calls check the key's permissions and IP allow-list, and that it "
            "comes from the environment or the OS keyring.",
            source=exchange_id,
        )
    if isinstance(exc, ccxt.ExchangeNotAvailable):
        return SourceUnavailableError(
            f"{where}{tried}: the exchange is down or in maintenance ({seen}). What to do: "
            "retry later, or read the same data from another exchange.",
            source=exchange_id,
        )
    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        return TemporarySourceError(
            f"{where}{tried}: the exchange is rate limiting our requests ({seen}). What to "
            "do: wait a minute and retry, and make fewer or smaller requests.",
            source=exchange_id,
        )
    if isinstance(exc, ccxt.RequestTimeout):
        return TemporarySourceError(
            f"{where}{tried}: no answer within {timeout_s:g} s ({seen}). What to do: retry "
            "later, or raise timeout_s if the network is slow.",
            source=exchange_id,
        )
    if isinstance(exc, ccxt.NetworkError):
        if _is_unreachable(exc):
            return SourceUnavailableError(
                f"{where}{tried}: the exchange cannot be reached ({seen}). What to do: check "
                "the internet connection, DNS and any proxy, then retry.",
                source=exchange_id,
            )
        return TemporarySourceError(
            f"{where}{tried}: the network failed during the request ({seen}). What to do: "
            "retry later.",
            source=exchange_id,
        )
    return SourceError(
        f"{where}: the exchange returned an error that retrying will not fix ({seen}). "
        "What to do: check the request (symbol, dates); if it persists, the exchange's API "
        "or ccxt may have changed, so update ccxt or report it.",
        source=exchange_id,
    )
