"""Rebalancing through a broker: resolve what an earlier run left open, plan, execute.

Order of work and why:

1. ``broker.reconcile()``: orders an earlier run sent without a final answer are looked
   up first. If any is still unresolved, nothing is planned (balances would be wrong and
   an order could be doubled); the error says which order to check.
2. Plan from fresh balances and prices (``execution.orders.plan_orders``).
3. ``dry_run``: return the plan; nothing is sent.
4. Sells, then buys. Before the buys, balances are read again and the buys scaled down
   if the sells brought in less than planned (partial fills, slippage).
5. ``InsufficientFundsError`` or an order whose state is unknown halts the run (what
   remains is reported, not sent): the plan's premises no longer hold. An
   ``InvalidOrderError`` skips that leg and goes on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from realyield.core import clock
from realyield.core.errors import (
    InsufficientFundsError,
    InvalidOrderError,
    OrderStateUnknownError,
)
from realyield.exchange.orders import ZERO, OrderRequest, OrderState
from realyield.execution.broker import Broker
from realyield.execution.orders import (
    OrderPlan,
    PlannedOrder,
    SkippedLeg,
    make_run_id,
    plan_orders,
)


@dataclass
class RebalanceResult:
    """The plan, what was filled, what failed, and why a run stopped early (if it did)."""

    broker: str
    live: bool
    dry_run: bool
    plan: OrderPlan
    fills: list[OrderState] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (client id, error)
    halted: str | None = None
    reconciled: list[OrderState] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "broker": self.broker,
            "live": self.live,
            "dry_run": self.dry_run,
            "plan": self.plan.as_dict(),
            "fills": [f.as_dict() for f in self.fills],
            "failed": [{"client_order_id": c, "error": e} for c, e in self.failed],
            "halted": self.halted,
            "reconciled": [o.as_dict() for o in self.reconciled],
        }


def _unresolved(states: list[OrderState]) -> list[OrderState]:
    return [s for s in states if s.status in ("submitting", "unknown")]


def plan_rebalance(
    broker: Broker,
    targets: Mapping[str, float | Decimal],
    *,
    quote: str,
    cash_buffer: Decimal = Decimal("0.01"),
    order_type: str = "market",
    slippage_bps: Decimal = Decimal(50),
    run_id: str | None = None,
) -> OrderPlan:
    """The plan from the broker's current balances, prices and markets.

    Raises:
        ConfigError / DataError: bad targets, a target without a market or price.
    """
    balances = broker.balances()
    symbols = [f"{b}/{quote}" for b in targets if b != quote]
    prices = broker.prices(symbols)
    run_id = run_id or make_run_id(
        broker.name, sorted((k, str(v)) for k, v in targets.items()), clock.now().isoformat()
    )
    return plan_orders(
        targets,
        balances,
        prices,
        broker.rules(),
        quote=quote,
        run_id=run_id,
        cash_buffer=cash_buffer,
        order_type=order_type,
        slippage_bps=slippage_bps,
    )


def _scaled_buys(broker: Broker, plan: OrderPlan) -> list[PlannedOrder]:
    """The planned buys, scaled down (and re-rounded) to the cash actually free now."""
    buys = plan.buys
    free = broker.balances().available(plan.quote)
    spare = free - plan.portfolio_value * plan.cash_buffer
    need = sum((b.cost + b.fee for b in buys), ZERO)
    if need <= spare or need == 0:
        return buys
    scale = max(spare, ZERO) / need
    rules = broker.rules()
    out: list[PlannedOrder] = []
    for b in buys:
        market = rules[b.request.symbol]
        amount = market.amount(b.request.amount * scale)
        price = b.request.price or b.reference_price
        problems = market.problems(amount, price, market_order=b.request.type == "market")
        if problems:
            plan.skipped.append(_skip(b, amount, "after the sells, " + "; ".join(problems)))
            continue
        r = b.request
        request = OrderRequest(r.client_order_id, r.symbol, r.side, amount, r.type, r.price)
        cost = amount * price
        out.append(
            PlannedOrder(
                request, b.reference_price, cost, b.fee * scale, b.current_value, b.target_value
            )
        )
    return out


def _skip(order: PlannedOrder, amount: Decimal, reason: str) -> SkippedLeg:
    return SkippedLeg(order.request.symbol, order.request.side, amount, reason)


def execute_plan(broker: Broker, plan: OrderPlan) -> RebalanceResult:
    """Send the plan's orders (sells, then buys sized to the cash now free)."""
    result = RebalanceResult(broker.name, broker.live, False, plan)
    for phase in ("sell", "buy"):
        legs = plan.sells if phase == "sell" else _scaled_buys(broker, plan)
        for leg in legs:
            try:
                state = broker.place(leg.request, plan.run_id)
            except InvalidOrderError as exc:
                result.failed.append((leg.request.client_order_id, str(exc)))
                continue
            except (InsufficientFundsError, OrderStateUnknownError) as exc:
                result.failed.append((leg.request.client_order_id, str(exc)))
                result.halted = (
                    f"stopped at {leg.request.client_order_id}: {type(exc).__name__}; the "
                    "remaining orders were not sent. Re-plan from fresh balances."
                )
                return result
            if state.status == "rejected":  # refused on an earlier attempt: not sent again
                result.failed.append(
                    (leg.request.client_order_id, "refused earlier; see the order journal")
                )
                continue
            result.fills.append(state)
    return result


def rebalance(
    broker: Broker,
    targets: Mapping[str, float | Decimal],
    *,
    quote: str,
    dry_run: bool = False,
    cash_buffer: Decimal = Decimal("0.01"),
    order_type: str = "market",
    slippage_bps: Decimal = Decimal(50),
) -> RebalanceResult:
    """Reconcile, plan, and (unless ``dry_run``) execute.

    Raises:
        OrderStateUnknownError: an earlier order is still unresolved (nothing planned).
        ConfigError / DataError: bad targets or missing markets/prices.
    """
    reconciled = broker.reconcile()
    stuck = _unresolved(reconciled)
    if stuck:
        ids = ", ".join(s.client_order_id for s in stuck)
        raise OrderStateUnknownError(
            f"{broker.name}: earlier order(s) {ids} could not be confirmed; nothing is planned "
            "until they are. Look them up on the exchange by client id, then run again.",
            broker=broker.name,
            client_order_id=stuck[0].client_order_id,
        )
    plan = plan_rebalance(
        broker,
        targets,
        quote=quote,
        cash_buffer=cash_buffer,
        order_type=order_type,
        slippage_bps=slippage_bps,
    )
    if dry_run:
        return RebalanceResult(broker.name, broker.live, True, plan, reconciled=reconciled)
    result = execute_plan(broker, plan)
    result.reconciled = reconciled
    return result
