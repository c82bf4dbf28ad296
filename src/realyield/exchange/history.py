"""An account's own history through ccxt: trades (``fetch_my_trades``) and the ledger of
balance changes (``fetch_ledger``), paged to the end and deduplicated by id.

Why two paging modes: most exchanges answer "since T" oldest first, so the next page
starts at the newest timestamp seen (not +1 ms: several fills can share a
millisecond; ids deduplicate the overlap). Kraken answers newest first, 50 at a time,
and pages by offset (``ofs``); for it the pages are walked by offset instead. Either
way paging stops at an empty page or a page with nothing new.

Amounts become ``Decimal`` through the shortest repr of ccxt's floats (ccxt's unified
structures carry floats), so ``0.02`` stays ``Decimal("0.02")``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeVar

from realyield.core.errors import DataError
from realyield.core.money import to_decimal

T = TypeVar("T")
Call = Callable[[str, Callable[[], T]], T]

#: Exchanges whose private history pages by offset (newest first) rather than by time.
OFFSET_PAGED: Final = frozenset({"kraken"})
_MAX_PAGES: Final = 100_000


@dataclass(frozen=True, slots=True)
class Fee:
    cost: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class AccountTrade:
    """One fill of the account (ccxt's unified trade structure, checked)."""

    id: str
    timestamp_ms: int
    symbol: str
    side: str  # buy | sell
    base: str
    quote: str
    amount: Decimal  # base quantity
    cost: Decimal  # quote quantity
    fee: Fee | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One change of an account balance (ccxt's unified ledger entry structure)."""

    id: str
    timestamp_ms: int
    direction: str  # in | out
    type: str  # ccxt's unified type (trade, transaction, ...), or the exchange's own
    raw_type: str  # the exchange's own type (Kraken: staking, earn, deposit, ...)
    currency: str
    amount: Decimal
    fee: Fee | None
    reference_id: str | None


def _dec(value: Any, what: str) -> Decimal:
    return to_decimal(value, what=what)


def _fee(raw: Any, where: str) -> Fee | None:
    if not isinstance(raw, Mapping) or raw.get("cost") in (None, 0, 0.0):
        return None
    currency = raw.get("currency")
    if not currency:
        raise DataError(f"{where}: a fee of {raw.get('cost')!r} without its currency")
    cost = _dec(raw["cost"], f"{where} fee")
    return Fee(cost, str(currency)) if cost > 0 else None


def parse_trade(raw: Mapping[str, Any], exchange_id: str) -> AccountTrade:
    """Check one unified trade structure.

    Raises:
        DataError: a missing id, timestamp, symbol or side, or a bad amount/cost.
    """
    where = f"{exchange_id} trade {raw.get('id')!r}"
    symbol = raw.get("symbol")
    if not raw.get("id") or not isinstance(raw.get("timestamp"), int) or not symbol:
        raise DataError(f"{where}: missing id, timestamp or symbol in {dict(raw)!r}"[:300])
    if raw.get("side") not in ("buy", "sell"):
        raise DataError(f"{where}: side {raw.get('side')!r} is neither buy nor sell")
    base, _, quote = str(symbol).partition("/")
    quote = quote.split(":")[0]
    amount = _dec(raw.get("amount"), f"{where} amount")
    cost = raw.get("cost")
    if cost is None and raw.get("price") is not None:
        cost_dec = amount * _dec(raw["price"], f"{where} price")
    else:
        cost_dec = _dec(cost, f"{where} cost")
    if amount <= 0 or cost_dec <= 0:
        raise DataError(f"{where}: amount {amount} and cost {cost_dec} must be positive")
    return AccountTrade(
        id=str(raw["id"]),
        timestamp_ms=int(raw["timestamp"]),
        symbol=str(symbol),
        side=str(raw["side"]),
        base=base,
        quote=quote,
        amount=amount,
        cost=cost_dec,
        fee=_fee(raw.get("fee"), where),
    )


def parse_ledger_entry(raw: Mapping[str, Any], exchange_id: str) -> LedgerEntry:
    """Check one unified ledger entry.

    Raises:
        DataError: a missing id, timestamp, currency or direction, or a bad amount.
    """
    where = f"{exchange_id} ledger entry {raw.get('id')!r}"
    if not raw.get("id") or not isinstance(raw.get("timestamp"), int) or not raw.get("currency"):
        raise DataError(f"{where}: missing id, timestamp or currency")
    if raw.get("direction") not in ("in", "out"):
        raise DataError(f"{where}: direction {raw.get('direction')!r} is neither in nor out")
    info = raw.get("info") if isinstance(raw.get("info"), Mapping) else {}
    assert isinstance(info, Mapping)
    amount = abs(_dec(raw.get("amount"), f"{where} amount"))
    return LedgerEntry(
        id=str(raw["id"]),
        timestamp_ms=int(raw["timestamp"]),
        direction=str(raw["direction"]),
        type=str(raw.get("type") or ""),
        raw_type=str(info.get("type") or raw.get("type") or ""),
        currency=str(raw["currency"]),
        amount=amount,
        fee=_fee(raw.get("fee"), where),
        reference_id=raw.get("referenceId"),
    )


def page_through(
    exchange_id: str,
    operation: str,
    call: Call[list[dict[str, Any]]],
    fetch: Callable[..., list[dict[str, Any]]],
    *,
    since_ms: int | None,
    page_limit: int,
    args: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """Every item ``fetch(*args, since, limit, params)`` returns, page after page, once.

    ``call`` runs one request with the client's retries and error translation.
    """
    seen: dict[str, dict[str, Any]] = {}
    by_offset = exchange_id in OFFSET_PAGED
    cursor = since_ms
    offset = 0
    for _ in range(_MAX_PAGES):
        params: dict[str, Any] = {"ofs": offset} if by_offset else {}
        where = f"{operation} (offset {offset})" if by_offset else f"{operation} since {cursor}"
        request = functools.partial(
            fetch, *args, cursor if not by_offset else since_ms, page_limit, params
        )
        page = call(where, request)
        if not page:
            break
        new = [item for item in page if str(item.get("id")) not in seen]
        for item in new:
            seen[str(item.get("id"))] = item
        if not new:
            break
        if by_offset:
            offset += len(page)
        else:
            stamps = [item["timestamp"] for item in page if isinstance(item.get("timestamp"), int)]
            if not stamps or len(page) < page_limit:
                break
            cursor = max(stamps)
    return sorted(seen.values(), key=lambda item: (item.get("timestamp") or 0, str(item.get("id"))))
