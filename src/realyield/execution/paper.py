"""``PaperBroker``: simulated trading with balances that persist in the store.

The default broker, so that a rebalance is rehearsed before any money moves. Fills are
at the reference price moved against you by ``slippage_bps`` (buys higher, sells lower),
with a ``fee_bps`` fee in the quote currency; orders are checked against the same market
rules (lot size, minimum notional) and balances as on an exchange, and refused with the
same errors. A market order fills at once; a limit order fills when the slipped price
is at or better than its limit, else it expires (immediate-or-cancel).

Balances, orders and the fill's ledger event (``execution.fills``: source ``paper``,
account ``paper:ACCOUNT``, key the client order id) are written in one transaction per
order, so a crash leaves either the whole fill or none of it, and a restart sees the
balances where they were. Deposits reach the ledger the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import Connection, Engine, select

from realyield.core import clock
from realyield.core.errors import (
    ConfigError,
    DataError,
    ExecutionError,
    InsufficientFundsError,
    InvalidOrderError,
)
from realyield.exchange.orders import ZERO, Balances, MarketRules, OrderRequest, OrderState
from realyield.execution import journal
from realyield.execution.fills import PAPER_SOURCE, deposit_event, fill_event, record
from realyield.store import schema
from realyield.store.records import upsert
from realyield.universe.repository import load_assets, price_history_frame

BPS = Decimal(10_000)
#: Quote amounts (cost, fee) are kept to 8 decimals, as exchanges keep them.
QUOTE_STEP = Decimal("0.00000001")
USD_LIKE = frozenset({"USD", "USDT", "USDC"})


class PaperBroker:
    """Simulated fills against reference prices; balances in ``paper_balances``.

    Args:
        engine: the store.
        rules: the markets it trades (``paper_markets`` builds simple ones).
        price_of: symbol -> reference price (a mapping or a callable).
        account: separate paper accounts keep separate balances.

    Raises:
        ConfigError: negative slippage or fee, or an empty account name.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        rules: Mapping[str, MarketRules],
        price_of: Mapping[str, Decimal] | Callable[[str], Decimal],
        account: str = "default",
        slippage_bps: Decimal = Decimal(10),
        fee_bps: Decimal = Decimal(10),
    ) -> None:
        if not account.strip():
            raise ConfigError("paper account name must not be empty")
        if slippage_bps < 0 or fee_bps < 0:
            raise ConfigError("paper slippage and fee must be >= 0 basis points")
        self._engine = engine
        self._rules = dict(rules)
        self._price_of = price_of
        self._account = account
        self._slippage = Decimal(slippage_bps) / BPS
        self._fee = Decimal(fee_bps) / BPS

    def __repr__(self) -> str:
        return f"PaperBroker(account={self._account!r}, markets={len(self._rules)})"

    @property
    def name(self) -> str:
        return f"paper:{self._account}"

    @property
    def live(self) -> bool:
        return False

    @property
    def fee_rate(self) -> Decimal:
        return self._fee

    def rules(self) -> Mapping[str, MarketRules]:
        return self._rules

    def prices(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for symbol in symbols:
            price = (
                self._price_of(symbol) if callable(self._price_of) else self._price_of.get(symbol)
            )
            if price is None or not price > 0:
                raise DataError(f"paper broker: no reference price for {symbol}")
            out[symbol] = Decimal(price)
        return out

    def balances(self) -> Balances:
        t = schema.paper_balances
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(t.c.asset, t.c.amount).where(t.c.account == self._account)
            ).all()
        amounts = {r[0]: Decimal(r[1]) for r in rows if Decimal(r[1]) != 0}
        return Balances(amounts, amounts)

    def deposit(self, asset: str, amount: Decimal) -> Balances:
        """Add ``amount`` of ``asset`` to the paper account (its starting capital).

        Raises:
            ConfigError: a non-positive amount.
        """
        if not amount > 0:
            raise ConfigError(f"paper deposit of {amount} {asset}: give a positive amount")
        current = self.balances().total.get(asset, ZERO)
        when = clock.now()
        # Each call is a new deposit (the balance grows each time), so its key is unique
        # even for two equal deposits in one instant (a frozen clock, a script).
        key = f"deposit:{when.isoformat()}:{uuid.uuid4().hex[:12]}"
        with self._engine.begin() as conn:
            self._set(conn, {asset: current + amount})
            record(conn, deposit_event(PAPER_SOURCE, self.name, asset, amount, when, key))
        return self.balances()

    def _set(self, conn: Connection, amounts: Mapping[str, Decimal]) -> None:
        now = clock.now().isoformat()
        upsert(
            conn,
            schema.paper_balances,
            [
                {"account": self._account, "asset": a, "amount": str(v), "updated_at": now}
                for a, v in amounts.items()
            ],
        )

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
            return state  # already placed: never fill twice
        market = self._rules.get(request.symbol)
        if market is None:
            raise InvalidOrderError(
                f"paper: no market {request.symbol}",
                broker=self.name,
                client_order_id=request.client_order_id,
            )
        reference = self.prices([request.symbol])[request.symbol]
        problems = market.problems(request.amount, reference, market_order=request.type == "market")
        if problems:
            self._reject(request, run_id, InvalidOrderError, "; ".join(problems))
        factor = 1 + self._slippage if request.side == "buy" else 1 - self._slippage
        fill = reference * factor
        if request.type == "limit" and request.price is not None:
            marketable = fill <= request.price if request.side == "buy" else fill >= request.price
            if not marketable:
                state = OrderState(
                    request.client_order_id,
                    request.symbol,
                    request.side,
                    "expired",
                    request.amount,
                    type="limit",
                    price=request.price,
                )
                with self._engine.begin() as conn:
                    journal.write_request(conn, self.name, run_id, request, status="expired")
                    journal.write_state(conn, state)
                return state
        cost = (request.amount * fill).quantize(QUOTE_STEP, rounding=ROUND_HALF_EVEN)
        fee = (cost * self._fee).quantize(QUOTE_STEP, rounding=ROUND_HALF_EVEN)
        balances = self.balances().total
        base_held = balances.get(market.base, ZERO)
        quote_held = balances.get(market.quote, ZERO)
        if request.side == "buy":
            if cost + fee > quote_held:
                self._reject(
                    request,
                    run_id,
                    InsufficientFundsError,
                    f"needs {cost + fee:.8f} {market.quote}, holds {quote_held}",
                )
            new = {market.base: base_held + request.amount, market.quote: quote_held - cost - fee}
        else:
            if request.amount > base_held:
                self._reject(
                    request,
                    run_id,
                    InsufficientFundsError,
                    f"sells {request.amount} {market.base}, holds {base_held}",
                )
            new = {market.base: base_held - request.amount, market.quote: quote_held + cost - fee}
        state = OrderState(
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            status="closed",
            amount=request.amount,
            filled=request.amount,
            average=fill,
            cost=cost,
            fee=fee,
            fee_currency=market.quote,
            exchange_order_id=f"paper-{request.client_order_id}",
            type=request.type,
            price=request.price,
        )
        with self._engine.begin() as conn:  # fill and balances together, or neither
            journal.write_request(conn, self.name, run_id, request, status="closed")
            journal.write_state(conn, state)
            self._set(conn, new)
            record(conn, fill_event(PAPER_SOURCE, self.name, state, market, clock.now()))
        return state

    def _reject(
        self, request: OrderRequest, run_id: str, kind: type[ExecutionError], why: str
    ) -> None:
        message = f"paper: {request.side} {request.amount} {request.symbol} refused: {why}"
        with self._engine.begin() as conn:
            journal.write_request(conn, self.name, run_id, request, status="rejected")
            journal.write_error(conn, request.client_order_id, message)
        raise kind(message, broker=self.name, client_order_id=request.client_order_id)

    def reconcile(self) -> list[OrderState]:
        """Paper orders are final when placed: nothing is left to resolve."""
        return []


def paper_markets(
    bases: Iterable[str],
    quote: str = "USDT",
    *,
    amount_step: Decimal = Decimal("0.00000001"),
    min_cost: Decimal = Decimal(10),
    fee_bps: Decimal = Decimal(10),
) -> dict[str, MarketRules]:
    """Simple spot markets ``BASE/QUOTE`` for the paper broker: a fine lot size and a
    minimum notional like most exchanges' (10 units of the quote by default)."""
    return {
        f"{b}/{quote}": MarketRules(
            symbol=f"{b}/{quote}",
            base=b,
            quote=quote,
            amount_step=amount_step,
            price_step=Decimal("0.00000001"),
            min_cost=min_cost,
            taker_fee=Decimal(fee_bps) / BPS,
        )
        for b in bases
        if b != quote
    }


def stored_prices(engine: Engine, bases: Iterable[str], quote: str = "USDT") -> dict[str, Decimal]:
    """``BASE/QUOTE`` -> the newest stored USD price of the asset whose symbol is BASE
    (USD, USDT and USDC quotes are taken at par with the dollar).

    Raises:
        ConfigError: a quote that is not a dollar.
        DataError: a base with no stored asset or price (named, with what to do).
    """
    if quote not in USD_LIKE:
        raise ConfigError(
            f"paper prices come from stored USD prices: quote {quote!r} is not USD-like"
        )
    by_symbol: dict[str, str] = {}
    for asset in load_assets(engine):
        by_symbol.setdefault(asset.symbol.upper(), asset.id)
    wanted = {b: by_symbol.get(b.upper()) for b in bases if b != quote}
    missing = sorted(b for b, a in wanted.items() if a is None)
    if missing:
        raise DataError(
            f"no stored asset with symbol {', '.join(missing)}: refresh CoinGecko data "
            "(`realyield data refresh coingecko`) or leave them out of the targets"
        )
    newest = clock.today()
    frame = price_history_frame(
        engine, [a for a in wanted.values() if a], start=newest - timedelta(days=3650)
    )
    latest = frame.sort("date").group_by("asset_id").last()
    price = dict(zip(latest["asset_id"].to_list(), latest["price_usd"].to_list(), strict=True))
    out: dict[str, Decimal] = {}
    for base, asset_id in wanted.items():
        if asset_id not in price:
            raise DataError(f"no stored price for {base} ({asset_id})")
        out[f"{base}/{quote}"] = Decimal(repr(price[asset_id]))
    return out
