"""Fills and paper deposits as ledger events: a trade made through realyield becomes a
tax lot the moment it happens.

Why here and in the same transaction as the fill: the ledger is the one owner of what
is held (``portfolio``); a fill that reached the order journal but not the ledger would
make the holdings and the tax lots disagree with the broker. The event's key is the
order journal's client order id, so writing it twice (a retry, a replayed run) stores
it once (``insert_events`` skips a known ``(source, account, key)``).

Values: a quote in dollars or a dollar stablecoin (USD, USDT, USDC) is taken at par, as
the paper broker prices it; a fill against another quote is stored without a value and
says so (``warning``), to be valued by a later import with prices.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy import Connection

from realyield.exchange.orders import MarketRules, OrderState
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.ledger import insert_events

#: Ledger source of every event the paper broker writes.
PAPER_SOURCE: Final = "paper"
USD_LIKE: Final = frozenset({"USD", "USDT", "USDC"})


def _par(asset: str, amount: Decimal) -> Decimal | None:
    return amount if asset.upper() in USD_LIKE else None


def fill_event(
    source: str, account: str, state: OrderState, market: MarketRules, when: datetime
) -> LedgerEvent | None:
    """The trade event of a (partly) filled order, or None when nothing filled.

    A buy receives ``filled`` base for ``cost`` quote; a sale receives ``cost`` quote for
    ``filled`` base; the fee is in the quote (``fee_currency``).
    """
    if not state.filled > 0 or not state.cost > 0:
        return None
    buy = state.side == "buy"
    asset, amount = (market.base, state.filled) if buy else (market.quote, state.cost)
    counter, counter_amount = (market.quote, state.cost) if buy else (market.base, state.filled)
    fee_asset = state.fee_currency or market.quote
    has_fee = state.fee > 0
    value = _par(market.quote, state.cost)
    return LedgerEvent(
        kind="trade",
        time=when,
        asset=asset,
        amount=amount,
        key=state.client_order_id,
        source=source,
        account=account,
        counter_asset=counter,
        counter_amount=counter_amount,
        fee_asset=fee_asset if has_fee else None,
        fee_amount=state.fee if has_fee else None,
        value=value,
        fee_value=_par(fee_asset, state.fee) if has_fee else None,
        price_source="fill" if value is not None else None,
        warning=None if value is not None else f"quote {market.quote} is not a dollar: no value",
        note=f"{state.side} {state.symbol} at {state.average} ({state.exchange_order_id})",
    )


def deposit_event(
    source: str, account: str, asset: str, amount: Decimal, when: datetime, key: str
) -> LedgerEvent:
    """A deposit into a paper account (its starting capital), valued at par if a dollar."""
    value = _par(asset, amount)
    return LedgerEvent(
        kind="deposit",
        time=when,
        asset=asset,
        amount=amount,
        key=key,
        source=source,
        account=account,
        value=value,
        price_source="par" if value is not None else None,
        note="paper deposit",
    )


def record(conn: Connection, event: LedgerEvent | None) -> int:
    """Write ``event`` on the caller's transaction; 1 if new, 0 if known or None."""
    return insert_events(conn, [event]) if event is not None else 0


__all__ = ["PAPER_SOURCE", "USD_LIKE", "deposit_event", "fill_event", "record"]
