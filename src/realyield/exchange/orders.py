"""Order, balance and market-limit records in exact decimals.

Why our own records: ccxt's unified structures are dicts of floats and strings whose
keys vary by exchange. Execution needs exact amounts (a lot size of 0.00001 BTC does not
survive a float round trip everywhere), typed statuses, and the same record from the
paper broker and from a live exchange; so ccxt's dicts are converted here, once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any, Final

from realyield.core.errors import ConfigError, DataError

SIDES: Final = ("buy", "sell")
ORDER_TYPES: Final = ("market", "limit")
#: Order states: ccxt's unified ones plus ``submitting`` (sent, no answer yet),
#: ``rejected`` (refused by the exchange) and ``unknown`` (sent, state not confirmable).
STATUSES: Final = ("submitting", "open", "closed", "canceled", "expired", "rejected", "unknown")
FINAL_STATUSES: Final = frozenset({"closed", "canceled", "expired", "rejected"})

ZERO: Final = Decimal(0)


def dec(value: Any, *, what: str = "amount") -> Decimal | None:
    """A ccxt number (float, int, numeric string, None) as an exact Decimal.

    Floats go through ``repr`` (shortest round-trip), so 0.1 stays 0.1.

    Raises:
        DataError: a value that is not a finite number.
    """
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise DataError(f"{what}: {value!r} is not a number")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"{what}: {value!r} is not finite")
        result = Decimal(repr(value))
    else:
        try:
            result = Decimal(str(value))
        except ArithmeticError as exc:
            raise DataError(f"{what}: {value!r} is not a number") from exc
    if not result.is_finite():
        raise DataError(f"{what}: {value!r} is not finite")
    return result


def floor_to_step(value: Decimal, step: Decimal | None) -> Decimal:
    """``value`` rounded down to a whole number of ``step`` (unchanged without a step)."""
    if step is None or step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def round_to_step(value: Decimal, step: Decimal | None) -> Decimal:
    """``value`` rounded to the nearest multiple of ``step`` (half to even)."""
    if step is None or step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step


@dataclass(frozen=True, slots=True)
class MarketRules:
    """What one spot market accepts: steps (precision) and limits, in exact decimals.

    ``amount_step``/``price_step`` are the increments of base amount and price;
    ``min_cost`` is the minimum notional (amount x price, in the quote currency).
    ``taker_fee`` is a fraction (0.001 = 0.1%).
    """

    symbol: str
    base: str
    quote: str
    amount_step: Decimal | None = None
    price_step: Decimal | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    min_cost: Decimal | None = None
    max_cost: Decimal | None = None
    max_market_amount: Decimal | None = None
    taker_fee: Decimal | None = None
    active: bool = True

    def amount(self, raw: Decimal) -> Decimal:
        """``raw`` rounded down to the amount step (never more than asked)."""
        return floor_to_step(raw, self.amount_step)

    def price(self, raw: Decimal) -> Decimal:
        """``raw`` rounded to the price step."""
        return round_to_step(raw, self.price_step)

    def problems(self, amount: Decimal, price: Decimal, *, market_order: bool) -> list[str]:
        """Why an order of ``amount`` at about ``price`` would be refused (empty: fine)."""
        out: list[str] = []
        if not self.active:
            out.append(f"{self.symbol} is not active on the exchange")
        if amount <= 0:
            out.append("amount rounds to zero at the market's lot size")
        if self.amount_step and amount % self.amount_step != 0:
            out.append(f"amount {amount} is not a multiple of the lot size {self.amount_step}")
        if self.min_amount is not None and amount < self.min_amount:
            out.append(f"amount {amount} is below the minimum {self.min_amount} {self.base}")
        cap = self.max_market_amount if market_order and self.max_market_amount else self.max_amount
        if cap is not None and cap > 0 and amount > cap:
            out.append(f"amount {amount} is above the maximum {cap} {self.base}")
        cost = amount * price
        if self.min_cost is not None and cost < self.min_cost:
            out.append(f"notional {cost:.8f} {self.quote} is below the minimum {self.min_cost}")
        if self.max_cost is not None and self.max_cost > 0 and cost > self.max_cost:
            out.append(f"notional {cost:.2f} {self.quote} is above the maximum {self.max_cost}")
        return out


def _step(value: Any, precision_mode: int, what: str) -> Decimal | None:
    number = dec(value, what=what)
    if number is None:
        return None
    if precision_mode == 4:  # ccxt.TICK_SIZE: the value is the increment
        return number
    if precision_mode == 2:  # ccxt.DECIMAL_PLACES: the value is a count of decimals
        return Decimal(1).scaleb(-int(number))
    raise ConfigError(
        f"{what}: precision mode {precision_mode} (significant digits) is not supported; "
        "trade on an exchange whose ccxt precision mode is TICK_SIZE or DECIMAL_PLACES"
    )


def rules_from_market(market: Mapping[str, Any], precision_mode: int) -> MarketRules:
    """``MarketRules`` from a ccxt unified market structure.

    Raises:
        DataError: non-numeric precision or limits.
        ConfigError: an unsupported precision mode.
    """
    symbol = str(market.get("symbol"))
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}

    def limit(kind: str, end: str) -> Decimal | None:
        return dec((limits.get(kind) or {}).get(end), what=f"{symbol} limits.{kind}.{end}")

    return MarketRules(
        symbol=symbol,
        base=str(market.get("base")),
        quote=str(market.get("quote")),
        amount_step=_step(precision.get("amount"), precision_mode, f"{symbol} precision.amount"),
        price_step=_step(precision.get("price"), precision_mode, f"{symbol} precision.price"),
        min_amount=limit("amount", "min"),
        max_amount=limit("amount", "max"),
        min_cost=limit("cost", "min"),
        max_cost=limit("cost", "max"),
        max_market_amount=limit("market", "max"),
        taker_fee=dec(market.get("taker"), what=f"{symbol} taker fee"),
        active=market.get("active") is not False,
    )


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order to place. ``client_order_id`` makes placing it idempotent.

    Raises:
        ConfigError: unknown side/type, a non-positive amount, a limit without price, or
            a client order id that exchanges would refuse (1-32 of ``[A-Za-z0-9_-]``).
    """

    client_order_id: str
    symbol: str
    side: str
    amount: Decimal
    type: str = "market"
    price: Decimal | None = None

    def __post_init__(self) -> None:
        cid = self.client_order_id
        if not (1 <= len(cid) <= 32) or not all(c.isalnum() or c in "-_" for c in cid):
            raise ConfigError(f"client order id {cid!r}: use 1-32 letters, digits, - or _")
        if self.side not in SIDES:
            raise ConfigError(f"order side {self.side!r}: use buy or sell")
        if self.type not in ORDER_TYPES:
            raise ConfigError(f"order type {self.type!r}: use market or limit")
        if not self.amount > 0:
            raise ConfigError(f"order amount {self.amount}: must be positive")
        if self.type == "limit" and (self.price is None or not self.price > 0):
            raise ConfigError("a limit order needs a positive price")


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the exchange (or the paper broker) says about an order."""

    client_order_id: str
    symbol: str
    side: str
    status: str
    amount: Decimal
    filled: Decimal = ZERO
    average: Decimal | None = None
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    fee_currency: str | None = None
    exchange_order_id: str | None = None
    type: str = "market"
    price: Decimal | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def as_dict(self) -> dict[str, Any]:
        return {
            "client_order_id": self.client_order_id,
            "exchange_order_id": self.exchange_order_id,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.type,
            "status": self.status,
            "amount": str(self.amount),
            "price": None if self.price is None else str(self.price),
            "filled": str(self.filled),
            "average": None if self.average is None else str(self.average),
            "cost": str(self.cost),
            "fee": str(self.fee),
            "fee_currency": self.fee_currency,
        }


def order_from_ccxt(order: Mapping[str, Any], fallback: OrderRequest | None = None) -> OrderState:
    """An ``OrderState`` from a ccxt unified order structure (fees summed when one
    currency; the first currency's fees when several, which spot orders do not have).

    Raises:
        DataError: malformed numbers.
    """
    fees = list(order.get("fees") or ([] if order.get("fee") is None else [order["fee"]]))
    fee_total = ZERO
    fee_currency: str | None = None
    for fee in fees:
        if not fee:
            continue
        currency = fee.get("currency")
        cost = dec(fee.get("cost"), what="fee") or ZERO
        if fee_currency is None:
            fee_currency = currency
        if currency == fee_currency:
            fee_total += cost
    amount = dec(order.get("amount"), what="amount")
    filled = dec(order.get("filled"), what="filled") or ZERO
    average = dec(order.get("average"), what="average")
    reported = dec(order.get("cost"), what="cost")
    estimated = filled * average if average is not None else ZERO
    cost = reported if reported is not None else estimated
    status = order.get("status") or "open"
    if status not in STATUSES:
        status = "open"
    cid = order.get("clientOrderId") or (fallback.client_order_id if fallback else "")
    return OrderState(
        client_order_id=str(cid),
        symbol=str(order.get("symbol") or (fallback.symbol if fallback else "")),
        side=str(order.get("side") or (fallback.side if fallback else "")),
        status=str(status),
        amount=amount if amount is not None else (fallback.amount if fallback else filled),
        filled=filled,
        average=average,
        cost=cost,
        fee=fee_total,
        fee_currency=fee_currency,
        exchange_order_id=None if order.get("id") is None else str(order.get("id")),
        type=str(order.get("type") or (fallback.type if fallback else "market")),
        price=dec(order.get("price"), what="price"),
    )


@dataclass(frozen=True)
class Balances:
    """Per currency: free (available to trade) and total amounts."""

    free: Mapping[str, Decimal] = field(default_factory=dict)
    total: Mapping[str, Decimal] = field(default_factory=dict)

    def available(self, currency: str) -> Decimal:
        return self.free.get(currency, ZERO)
