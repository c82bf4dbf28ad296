"""``TradingClient``: balances, prices, orders and key permissions through ccxt.

Why placing an order is special: reading is idempotent, so a read that times out is
simply retried (``ExchangeClient._call``). Placing is not: a request that timed out may
have reached the exchange. ``submit_order`` therefore makes exactly one attempt and
lets the caller (``execution.live``) find out what happened by the order's client id
before it decides to send it again. ``InsufficientFunds`` and ``InvalidOrder`` come
back as ``InsufficientFundsError``/``InvalidOrderError``, which nothing retries.
"""

from __future__ import annotations

import difflib
import functools
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

import ccxt

from realyield.core import clock
from realyield.core.errors import (
    ConfigError,
    DataError,
    ExecutionError,
    OrderNotFoundError,
    UnsafeKeyError,
)
from realyield.core.secrets import remember
from realyield.exchange.client import ExchangeClient
from realyield.exchange.credentials import Credentials
from realyield.exchange.orders import (
    Balances,
    MarketRules,
    OrderRequest,
    OrderState,
    dec,
    order_from_ccxt,
    rules_from_market,
)
from realyield.exchange.permissions import READERS, KeyPermissions, unknown
from realyield.exchange.translate import credential_values, translate_error

#: Exchanges whose ccxt ``fetch_order`` finds an order by its client id (verified in
#: ccxt's source): the unified ``clientOrderId`` param is mapped to the exchange's own.
CLIENT_ID_LOOKUP: Final = frozenset({"binance", "okx"})
#: How far back ``find_order`` scans closed orders where there is no client-id lookup.
SCAN_BACK = timedelta(days=2)


class TradingClient(ExchangeClient):
    """An ``ExchangeClient`` that can also trade, with credentials that never show.

    Args:
        exchange_id: a ccxt id.
        credentials: the key pair (``exchange.credentials.load_credentials``); None for
            a client that only reads public data.
        sandbox: use the exchange's test environment (``ConfigError`` where ccxt knows
            none for this exchange).
        api: a ready ccxt object (tests); the credentials are then set on it.

    Raises:
        ConfigError: unknown exchange, or sandbox asked where there is none.
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        credentials: Credentials | None = None,
        sandbox: bool = False,
        api: Any = None,
        timeout_s: float = 20.0,
        max_attempts: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        config = credentials.ccxt_config() if credentials else {}
        for value in config.values():
            remember(value)
        if api is None:
            if exchange_id not in ccxt.exchanges:
                close = difflib.get_close_matches(exchange_id, list(ccxt.exchanges), n=3)
                raise ConfigError(f"unknown exchange id {exchange_id!r}; close: {close}")
            api = getattr(ccxt, exchange_id)(
                {"enableRateLimit": True, "timeout": round(timeout_s * 1000), **config}
            )
        else:
            for key, value in config.items():
                setattr(api, key, value)
        if sandbox:
            try:
                api.set_sandbox_mode(True)
            except ccxt.NotSupported:
                raise ConfigError(
                    f"{exchange_id} has no sandbox (test) environment in ccxt; use the paper "
                    "broker (--broker paper) to rehearse instead"
                ) from None
        super().__init__(
            exchange_id,
            api=api,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            sleep=sleep,
        )
        self._sandbox = sandbox

    def __repr__(self) -> str:
        return super().__repr__().replace("ExchangeClient(", "TradingClient(", 1)[:-1] + (
            f", sandbox={self._sandbox})"
        )

    @property
    def sandbox(self) -> bool:
        return self._sandbox

    # -- reads (retried) -------------------------------------------------------------

    def rules(self) -> dict[str, MarketRules]:
        """Every spot market's steps and limits, by unified symbol."""
        mode = int(getattr(self._api, "precisionMode", 4))
        return {
            symbol: rules_from_market(market, mode)
            for symbol, market in self.markets().items()
            if market.get("spot", True)
        }

    def balances(self) -> Balances:
        """Free and total balance per currency (zero balances left out)."""
        return parse_balances(self._call("fetch balances", self._api.fetch_balance))

    def last_prices(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        """The last trade price (else the bid/ask midpoint) of each symbol.

        Raises:
            DataError: an unknown symbol, or a ticker without any price.
        """
        out: dict[str, Decimal] = {}
        for symbol in symbols:
            self._market(symbol)
            fetch: Callable[[], Any] = functools.partial(self._api.fetch_ticker, symbol)
            ticker = self._call(f"fetch ticker {symbol}", fetch)
            last = dec(ticker.get("last") or ticker.get("close"), what=f"{symbol} last")
            if last is None:
                bid = dec(ticker.get("bid"), what="bid")
                ask = dec(ticker.get("ask"), what="ask")
                if bid is None or ask is None:
                    raise DataError(f"{self.exchange_id} {symbol}: the ticker has no price")
                last = (bid + ask) / 2
            out[symbol] = last
        return out

    def open_orders(self, symbol: str | None = None) -> list[OrderState]:
        orders = self._call(
            f"fetch open orders {symbol or ''}".strip(),
            lambda: self._api.fetch_open_orders(symbol),
        )
        return [order_from_ccxt(o) for o in orders]

    def find_order(self, symbol: str, client_order_id: str) -> OrderState | None:
        """The order with this client id, or ``None`` when the exchange does not have it.

        Uses ``fetch_order`` by client id where ccxt supports it (``CLIENT_ID_LOOKUP``),
        else scans open and recent closed orders of ``symbol``.

        Raises:
            ExecutionError: the exchange offers no way to look the order up (the caller
                must then treat the order's state as unknown).
            TemporarySourceError / SourceError: the lookup itself failed.
        """
        if self.exchange_id in CLIENT_ID_LOOKUP:
            params = {"clientOrderId": client_order_id}
            try:
                raw = self._call(
                    f"fetch order {client_order_id}",
                    lambda: self._api.fetch_order(client_order_id, symbol, params),
                )
            except OrderNotFoundError:
                return None
            return order_from_ccxt(raw)
        has = getattr(self._api, "has", {}) or {}
        if not (has.get("fetchOpenOrders") and has.get("fetchClosedOrders")):
            raise ExecutionError(
                f"{self.exchange_id}: cannot look orders up by client id (no fetchOrder by "
                "client id, no open/closed order lists in ccxt)",
                broker=self.exchange_id,
                client_order_id=client_order_id,
            )
        since = int((clock.now() - SCAN_BACK).timestamp() * 1000)
        candidates = list(
            self._call(f"fetch open orders {symbol}", lambda: self._api.fetch_open_orders(symbol))
        ) + list(
            self._call(
                f"fetch closed orders {symbol}",
                lambda: self._api.fetch_closed_orders(symbol, since),
            )
        )
        for raw in candidates:
            if raw.get("clientOrderId") == client_order_id:
                return order_from_ccxt(raw)
        return None

    # -- the one write (never retried here) ------------------------------------------

    def submit_order(self, request: OrderRequest) -> OrderState:
        """Send ``request`` once.

        Raises:
            InsufficientFundsError / InvalidOrderError: refused; do not retry.
            TemporarySourceError: no answer or a transient failure: the order may or may
                not exist; look it up by client id before sending it again.
            SourceError: any other failure.
        """
        self._market(request.symbol)
        params = {"clientOrderId": request.client_order_id}
        operation = f"place {request.side} {request.amount} {request.symbol}"
        try:
            raw = self._api.create_order(
                request.symbol,
                request.type,
                request.side,
                float(request.amount),
                None if request.price is None else float(request.price),
                params,
            )
        except ccxt.BaseError as exc:
            error = translate_error(
                exc,
                exchange_id=self.exchange_id,
                operation=operation,
                attempt=1,
                max_attempts=1,
                timeout_s=self._timeout_s,
                secrets=credential_values(self._api),
            )
            if isinstance(error, ExecutionError):
                error.client_order_id = request.client_order_id
            raise error from exc
        return order_from_ccxt(raw, fallback=request)

    # -- safety ------------------------------------------------------------------------

    def key_permissions(self) -> KeyPermissions:
        """What the key may do, where the exchange reports it (sandbox keys: unknown,
        test environments rarely serve these endpoints)."""
        reader = READERS.get(self.exchange_id)
        if reader is None or self._sandbox:
            return unknown(self.exchange_id)
        return self._call("read the API key's permissions", lambda: reader(self._api))

    def require_safe_key(self) -> KeyPermissions:
        """The key's permissions; refuses a key that can withdraw.

        Raises:
            UnsafeKeyError: the exchange reports withdrawal permission.
            SourceError: the permissions could not be read.
        """
        perms = self.key_permissions()
        if perms.can_withdraw:
            raise UnsafeKeyError(
                f"{self.exchange_id}: this API key can withdraw funds ({perms.source}). "
                "realyield refuses such keys: create a key with trading permission only "
                "(withdrawals disabled) and use that one."
            )
        return perms


def parse_balances(raw: Mapping[str, Any]) -> Balances:
    """``Balances`` from a ccxt balance structure (zero balances left out)."""
    out: list[dict[str, Decimal]] = []
    for part in ("free", "total"):
        amounts = {k: dec(v, what=f"{part} {k}") for k, v in (raw.get(part) or {}).items()}
        out.append({k: v for k, v in amounts.items() if v})
    return Balances(out[0], out[1])
