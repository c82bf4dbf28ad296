"""``CcxtBroker``: orders on a real exchange, never sent twice.

How an order is placed (``place``):

1. The journal gets the order, status ``submitting``, before anything is sent.
2. One attempt to send it (``TradingClient.submit_order``).
3. ``InsufficientFundsError``/``InvalidOrderError``: journal ``rejected``, raise; these
   are never retried.
4. A temporary failure (timeout, 5xx, rate limit, dropped connection): the order may
   exist. Look it up by its client id. Found: that is the order (no second one).
   Not found: send it again **with the same client id** (an exchange that did receive
   the first copy refuses a duplicate client id while it is open), up to
   ``max_submit_attempts`` sends, backing off in between.
5. If the lookup itself keeps failing, the state is ``unknown``: journaled, raised as
   ``OrderStateUnknownError``, and nothing else is sent; the next run's ``reconcile``
   looks it up before planning anything.
6. A market order acknowledged but not yet reported filled is read back a few times so
   its fills are recorded (``_settle``); one still open is reconciled on the next run.

The ``reconcile`` step also re-reads orders left ``open`` and records their fills.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

from sqlalchemy import Engine

from realyield.core.errors import (
    ConfigError,
    ExecutionError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderStateUnknownError,
    RealyieldError,
    TemporarySourceError,
)
from realyield.exchange.orders import Balances, MarketRules, OrderRequest, OrderState
from realyield.exchange.trading import TradingClient
from realyield.execution import journal


class CcxtBroker:
    """A ``Broker`` over ``TradingClient``; ``live`` unless the client is in sandbox.

    Raises:
        ConfigError: ``max_submit_attempts`` < 1.
    """

    def __init__(
        self,
        client: TradingClient,
        engine: Engine,
        *,
        max_submit_attempts: int = 3,
        settle_polls: int = 3,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_submit_attempts < 1:
            raise ConfigError("max_submit_attempts must be >= 1")
        self._client = client
        self._engine = engine
        self._max_submit = max_submit_attempts
        self._settle_polls = settle_polls
        self._backoff = backoff_s
        self._sleep = sleep
        self._rules: dict[str, MarketRules] | None = None

    def __repr__(self) -> str:
        return f"CcxtBroker({self._client!r})"

    @property
    def name(self) -> str:
        return f"ccxt:{self._client.exchange_id}" + (":sandbox" if self._client.sandbox else "")

    @property
    def live(self) -> bool:
        return not self._client.sandbox

    @property
    def client(self) -> TradingClient:
        return self._client

    def rules(self) -> Mapping[str, MarketRules]:
        if self._rules is None:
            self._rules = self._client.rules()
        return self._rules

    def balances(self) -> Balances:
        return self._client.balances()

    def prices(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        return self._client.last_prices(symbols)

    def place(self, request: OrderRequest, run_id: str) -> OrderState:
        known = journal.get(self._engine, request.client_order_id)
        if known is not None:
            state, broker, _ = known
            if broker != self.name:
                raise ExecutionError(
                    f"client order id {request.client_order_id} was used by {broker}",
                    broker=self.name,
                    client_order_id=request.client_order_id,
                )
            if state.status not in ("submitting", "unknown"):
                return state  # placed (or refused) before: never send it again
            return self._resolve(request, run_id, already_sent=True)  # look it up first
        journal.record_request(self._engine, self.name, run_id, request)
        return self._resolve(request, run_id, already_sent=False)

    def _resolve(self, request: OrderRequest, run_id: str, *, already_sent: bool) -> OrderState:
        sends = 0
        last_error: RealyieldError | None = None
        while True:
            if already_sent or sends > 0:
                found = self._lookup(request)
                if found is not None:
                    journal.record_state(self._engine, found)
                    return found
                if sends >= self._max_submit:
                    break
                self._sleep(self._backoff * 2 ** max(sends - 1, 0))
            try:
                sends += 1
                state = self._client.submit_order(request)
            except (InsufficientFundsError, InvalidOrderError) as exc:
                journal.mark(self._engine, request.client_order_id, "rejected", str(exc))
                raise
            except TemporarySourceError as exc:
                last_error = exc
                continue  # it may exist: look it up before anything else
            journal.record_state(self._engine, state)
            return self._settle(state)
        message = (
            f"{self.name}: order {request.client_order_id} ({request.side} {request.amount} "
            f"{request.symbol}) was sent {sends} time(s) without an answer and is not on the "
            f"exchange; last error: {last_error}. Nothing more is sent; check the exchange, "
            "then run again (the journal resolves it first)."
        )
        journal.mark(self._engine, request.client_order_id, "unknown", message)
        raise OrderStateUnknownError(
            message, broker=self.name, client_order_id=request.client_order_id
        )

    def _settle(self, state: OrderState) -> OrderState:
        """A market order the exchange acknowledged but has not reported filled yet is
        read back a few times (``settle_polls``, backing off) so its fills are recorded;
        one still open is left to the next run's ``reconcile``."""
        for attempt in range(self._settle_polls):
            if state.final or state.type != "market":
                break
            self._sleep(self._backoff * 2**attempt)
            try:
                found = self._client.find_order(state.symbol, state.client_order_id)
            except (TemporarySourceError, ExecutionError):
                break
            if found is not None:
                state = found
                journal.record_state(self._engine, state)
        return state

    def _lookup(self, request: OrderRequest) -> OrderState | None:
        try:
            return self._client.find_order(request.symbol, request.client_order_id)
        except (TemporarySourceError, ExecutionError) as exc:
            message = (
                f"{self.name}: cannot confirm whether order {request.client_order_id} exists "
                f"({exc}); nothing more is sent for it. Check the exchange's order history "
                "for this client id, then run again."
            )
            journal.mark(self._engine, request.client_order_id, "unknown", message)
            raise OrderStateUnknownError(
                message, broker=self.name, client_order_id=request.client_order_id
            ) from exc

    def reconcile(self) -> list[OrderState]:
        """Look up every unresolved journal entry of this broker and record its state;
        one still unknown is left as it is (and reported by the returned list)."""
        out: list[OrderState] = []
        for pending in journal.orders(self._engine, broker=self.name, statuses=journal.UNRESOLVED):
            try:
                found = self._client.find_order(pending.symbol, pending.client_order_id)
            except (TemporarySourceError, ExecutionError):
                out.append(pending)
                continue
            if found is None:
                if pending.status in ("submitting", "unknown"):
                    # Journaled but not on the exchange now: it never got there.
                    journal.mark(self._engine, pending.client_order_id, "canceled", "never placed")
                    found = OrderState(
                        pending.client_order_id,
                        pending.symbol,
                        pending.side,
                        "canceled",
                        pending.amount,
                    )
                else:
                    out.append(pending)
                    continue
            else:
                journal.record_state(self._engine, found)
            out.append(found)
        return out
