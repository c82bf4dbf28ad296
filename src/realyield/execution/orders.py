"""Target weights -> orders that each market accepts: the rebalancing arithmetic.

Pure (no I/O): balances, prices and market rules in, a plan out, so the arithmetic is
tested on its own and ``--dry-run`` shows exactly what would be sent.

Rules followed:

* The portfolio is the quote currency (cash) plus the currencies named in the targets;
  anything else held is left untouched and listed. Give a currency weight 0 to sell it.
* ``cash_buffer`` (a fraction of the portfolio) stays in cash, for fees and slippage.
* Sells come first; buys are then sized to the cash there will be (free cash plus the
  sells' proceeds after fees, less the buffer) and scaled down together if short.
* Every amount is rounded **down** to the market's lot size (never more than planned);
  a leg that would then break the market's minimum amount or notional, or exceed its
  maximum, is skipped with the reason, not sent to be refused.
* Limit orders are priced ``slippage_bps`` through the reference price, rounded to the
  tick in the safe direction (buys down, sells up).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import Any

from realyield.core.errors import ConfigError, DataError
from realyield.exchange.orders import ZERO, Balances, MarketRules, OrderRequest

BPS = Decimal(10_000)
#: Fee assumed when neither the caller nor the market gives one (0.1%, a common taker fee).
DEFAULT_FEE = Decimal("0.001")


@dataclass(frozen=True)
class PlannedOrder:
    """One order of a plan, with the reference price and cost it was sized on."""

    request: OrderRequest
    reference_price: Decimal
    cost: Decimal  # amount x reference price, quote currency
    fee: Decimal  # estimated, quote currency
    current_value: Decimal
    target_value: Decimal

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "client_order_id": r.client_order_id,
            "symbol": r.symbol,
            "side": r.side,
            "type": r.type,
            "amount": str(r.amount),
            "price": None if r.price is None else str(r.price),
            "reference_price": str(self.reference_price),
            "cost": str(self.cost.quantize(Decimal("0.01"))),
            "fee": str(self.fee.quantize(Decimal("0.0001"))),
            "current_value": str(self.current_value.quantize(Decimal("0.01"))),
            "target_value": str(self.target_value.quantize(Decimal("0.01"))),
        }


@dataclass(frozen=True)
class SkippedLeg:
    symbol: str
    side: str
    amount: Decimal
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side,
            "amount": str(self.amount),
            "reason": self.reason,
        }


@dataclass
class OrderPlan:
    """What a rebalance would send, and why each leg is or is not there."""

    run_id: str
    quote: str
    portfolio_value: Decimal
    cash: Decimal
    cash_buffer: Decimal
    orders: list[PlannedOrder] = field(default_factory=list)
    skipped: list[SkippedLeg] = field(default_factory=list)
    untouched: dict[str, Decimal] = field(default_factory=dict)
    weights_before: dict[str, Decimal] = field(default_factory=dict)
    weights_target: dict[str, Decimal] = field(default_factory=dict)

    @property
    def untouched_reason(self) -> str | None:
        """Why holdings stay as they are, and how to bring them in (None: none do)."""
        if not self.untouched:
            return None
        names = ", ".join(sorted(self.untouched))
        first = sorted(self.untouched)[0]
        return (
            f"{names}: not in the targets, so outside this rebalance and not counted in its "
            f"portfolio value; to include them give each a target weight (--target "
            f"{first}=0 sells it, --target {first}=20% holds it at a fifth)"
        )

    @property
    def sells(self) -> list[PlannedOrder]:
        return [o for o in self.orders if o.request.side == "sell"]

    @property
    def buys(self) -> list[PlannedOrder]:
        return [o for o in self.orders if o.request.side == "buy"]

    def as_dict(self) -> dict[str, Any]:
        def pct(m: Mapping[str, Decimal]) -> dict[str, float]:
            return {k: round(float(v) * 100, 4) for k, v in m.items()}

        return {
            "run_id": self.run_id,
            "quote": self.quote,
            "portfolio_value": str(self.portfolio_value.quantize(Decimal("0.01"))),
            "cash": str(self.cash),
            "cash_buffer": str(self.cash_buffer),
            "orders": [o.as_dict() for o in self.orders],
            "skipped": [s.as_dict() for s in self.skipped],
            "untouched": {k: str(v) for k, v in self.untouched.items()},
            "untouched_reason": self.untouched_reason,
            "weights_before_pct": pct(self.weights_before),
            "weights_target_pct": pct(self.weights_target),
        }


def check_targets(targets: Mapping[str, float | Decimal], quote: str) -> dict[str, Decimal]:
    """Targets as Decimals; weights in [0, 1] summing to at most 1 (the rest is cash).

    Raises:
        ConfigError: a negative, non-finite or too large weight, or the quote listed.
    """
    out: dict[str, Decimal] = {}
    for base, weight in targets.items():
        w = Decimal(str(weight))
        if not w.is_finite() or w < 0 or w > 1:
            raise ConfigError(f"target weight of {base} = {weight}: give a fraction in [0, 1]")
        if base == quote:
            raise ConfigError(f"{quote} is the quote currency: its weight is what is left over")
        out[base] = w
    total = sum(out.values(), ZERO)
    if total > Decimal("1.000001"):
        raise ConfigError(f"target weights sum to {total}, more than 1")
    return out


def make_run_id(*parts: Any) -> str:
    """A short id for a plan, from its inputs (hex, 10 characters)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def _limit_price(rules: MarketRules, reference: Decimal, side: str, slippage: Decimal) -> Decimal:
    raw = reference * (1 + slippage if side == "buy" else 1 - slippage)
    step = rules.price_step
    if not step:
        return raw
    rounding = ROUND_DOWN if side == "buy" else ROUND_CEILING
    return (raw / step).to_integral_value(rounding=rounding) * step


def plan_orders(
    targets: Mapping[str, float | Decimal],
    balances: Balances,
    prices: Mapping[str, Decimal],
    rules: Mapping[str, MarketRules],
    *,
    quote: str,
    run_id: str,
    cash_buffer: Decimal = Decimal("0.01"),
    fee_rate: Decimal | None = None,
    order_type: str = "market",
    slippage_bps: Decimal = Decimal(50),
) -> OrderPlan:
    """The orders that move ``balances`` to ``targets`` (base currency -> weight).

    ``prices`` and ``rules`` are keyed by ``BASE/QUOTE``; ``fee_rate`` defaults to each
    market's taker fee (0.1% when the market does not say).

    Raises:
        ConfigError: bad targets, buffer or order type.
        DataError: a target currency without a ``BASE/QUOTE`` market or price.
    """
    goal = check_targets(targets, quote)
    if not (ZERO <= cash_buffer < 1):
        raise ConfigError(f"cash buffer {cash_buffer}: give a fraction in [0, 1)")
    if order_type not in ("market", "limit"):
        raise ConfigError(f"order type {order_type!r}: use market or limit")
    slippage = Decimal(slippage_bps) / BPS
    missing = [b for b in goal if f"{b}/{quote}" not in rules or f"{b}/{quote}" not in prices]
    if missing:
        raise DataError(
            f"no {quote} market or price for {', '.join(sorted(missing))}: trade them against "
            f"another quote (--quote) or leave them out of the targets"
        )
    held = balances.total
    free = balances.free
    cash = free.get(quote, ZERO)
    values = {b: held.get(b, ZERO) * prices[f"{b}/{quote}"] for b in goal}
    total = held.get(quote, ZERO) + sum(values.values(), ZERO)
    plan = OrderPlan(run_id, quote, total, cash, cash_buffer)
    plan.untouched = {c: a for c, a in held.items() if c != quote and c not in goal and a}
    if total <= 0:
        return plan
    plan.weights_before = {b: v / total for b, v in values.items()}
    investable = total * (1 - cash_buffer)
    plan.weights_target = {b: w * investable / total for b, w in goal.items()}
    counter = 0

    def fee_of(symbol: str) -> Decimal:
        market_fee = rules[symbol].taker_fee
        if fee_rate is not None:
            return fee_rate
        return market_fee if market_fee is not None else DEFAULT_FEE

    def add(base: str, side: str, raw_amount: Decimal) -> PlannedOrder | None:
        nonlocal counter
        symbol = f"{base}/{quote}"
        market, ref = rules[symbol], prices[symbol]
        amount = market.amount(raw_amount)
        price = _limit_price(market, ref, side, slippage) if order_type == "limit" else None
        problems = market.problems(amount, price or ref, market_order=order_type == "market")
        if problems:
            plan.skipped.append(SkippedLeg(symbol, side, raw_amount, "; ".join(problems)))
            return None
        counter += 1
        request = OrderRequest(f"ry{run_id}{counter:02d}", symbol, side, amount, order_type, price)
        cost = amount * (price or ref)
        order = PlannedOrder(
            request, ref, cost, cost * fee_of(symbol), values[base], goal[base] * investable
        )
        plan.orders.append(order)
        return order

    proceeds = ZERO
    for base in sorted(goal, key=lambda b: values[b] - goal[b] * investable, reverse=True):
        excess = values[base] - goal[base] * investable
        if excess <= 0:
            continue
        symbol = f"{base}/{quote}"
        raw = min(excess / prices[symbol], free.get(base, ZERO))
        order = add(base, "sell", raw)
        if order is not None:
            proceeds += order.cost - order.fee
    wanted = {b: goal[b] * investable - values[b] for b in goal if goal[b] * investable > values[b]}
    budget = cash + proceeds - total * cash_buffer
    need = sum((v * (1 + fee_of(f"{b}/{quote}")) for b, v in wanted.items()), ZERO)
    scale = (
        min(Decimal(1), budget / need)
        if need > 0 and budget > 0
        else (Decimal(1) if need == 0 else ZERO)
    )
    for base in sorted(wanted, key=lambda b: wanted[b], reverse=True):
        symbol = f"{base}/{quote}"
        ref = prices[symbol]
        unit = _limit_price(rules[symbol], ref, "buy", slippage) if order_type == "limit" else ref
        add(base, "buy", wanted[base] * scale / unit)
    return plan
