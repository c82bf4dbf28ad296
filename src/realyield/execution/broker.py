"""The broker interface: what rebalancing needs from anything that can trade.

Two implementations: ``PaperBroker`` (the default; simulated fills, balances in the
store) and ``CcxtBroker`` (a real exchange through ``exchange.TradingClient``). Both
place orders idempotently by client order id and journal them, so the rebalancer does
not care which one it drives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from realyield.exchange.orders import Balances, MarketRules, OrderRequest, OrderState


class Broker(Protocol):
    """Markets, balances, prices and idempotent order placement."""

    @property
    def name(self) -> str:
        """``paper:ACCOUNT`` or ``ccxt:EXCHANGE`` (the journal's broker column)."""
        ...

    @property
    def live(self) -> bool:
        """Whether orders move real money."""
        ...

    def rules(self) -> Mapping[str, MarketRules]:
        """Tradable spot markets by unified symbol (``BTC/USDT``)."""
        ...

    def balances(self) -> Balances: ...

    def prices(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        """A current price per symbol, in its quote currency."""
        ...

    def place(self, request: OrderRequest, run_id: str) -> OrderState:
        """Place ``request`` once and only once: a request whose client id was already
        placed returns that order's state instead of trading again.

        Raises:
            InsufficientFundsError / InvalidOrderError: refused, never retried.
            OrderStateUnknownError: sent, but its fate could not be confirmed.
        """
        ...

    def reconcile(self) -> list[OrderState]:
        """Resolve journal entries left ``submitting``/``unknown``/``open`` by an earlier
        run (look each up, record its fills); return their current states."""
        ...
