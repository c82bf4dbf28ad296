"""The paper broker: fills with slippage and fees, exchange-like refusals, balances that
survive a restart, and orders that are never filled twice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from realyield.core.errors import ConfigError, DataError, InsufficientFundsError, InvalidOrderError
from realyield.core.settings import Settings
from realyield.exchange.orders import OrderRequest
from realyield.execution import journal
from realyield.execution.paper import PaperBroker, paper_markets, stored_prices
from realyield.execution.rebalance import rebalance
from realyield.store.engine import open_store

PRICES = {"BTC/USDT": Decimal(44000), "ETH/USDT": Decimal(2250)}


def broker_for(engine: object, account: str = "default") -> PaperBroker:
    return PaperBroker(
        engine,  # type: ignore[arg-type]
        rules=paper_markets(["BTC", "ETH"], "USDT"),
        price_of=PRICES,
        account=account,
        slippage_bps=Decimal(10),
        fee_bps=Decimal(10),
    )


def test_rebalance_fills_at_price_plus_slippage_and_fee_and_persists(settings: Settings) -> None:
    engine = open_store(settings)
    broker = broker_for(engine)
    broker.deposit("USDT", Decimal(10_000))
    result = rebalance(broker, {"BTC": 0.5, "ETH": 0.3}, quote="USDT")
    assert result.halted is None and not result.failed
    btc, eth = sorted(result.fills, key=lambda f: f.symbol)
    # Targets: 0.5 and 0.3 of 10,000 less the 1% buffer: 4950 and 2970 USDT.
    assert btc.amount == Decimal("0.1125") and eth.amount == Decimal("1.32")
    assert btc.average == Decimal("44044.0") and eth.average == Decimal("2252.25")  # +10 bps
    assert btc.cost == Decimal("4954.95") and btc.fee == Decimal("4.954950")  # 10 bps fee
    assert eth.cost == Decimal("2972.97") and eth.fee == Decimal("2.972970")
    expected_usdt = Decimal(10_000) - btc.cost - btc.fee - eth.cost - eth.fee
    assert expected_usdt == Decimal("2064.15208")
    before = broker.balances().total
    assert before == {"USDT": expected_usdt, "BTC": Decimal("0.1125"), "ETH": Decimal("1.32")}
    engine.dispose()

    # A restart: a new engine on the same file, a new broker object, the same balances.
    engine = open_store(settings)
    again = broker_for(engine)
    assert again.balances().total == before
    # Placing the same order again (same client id) does not fill twice.
    first = btc.client_order_id
    state = again.place(
        OrderRequest(first, "BTC/USDT", "buy", Decimal("0.1125")), result.plan.run_id
    )
    assert state.status == "closed" and again.balances().total == before
    stored = journal.orders(engine, broker="paper:default")
    assert sorted(o.client_order_id for o in stored) == sorted(
        f.client_order_id for f in result.fills
    )
    # Another account is separate.
    assert broker_for(engine, "other").balances().total == {}
    engine.dispose()


def test_refusals_match_an_exchange_and_leave_balances_alone(settings: Settings) -> None:
    engine = open_store(settings)
    broker = broker_for(engine)
    broker.deposit("USDT", Decimal(1000))
    with pytest.raises(InsufficientFundsError, match="needs"):
        broker.place(OrderRequest("ryBIG001", "BTC/USDT", "buy", Decimal("0.1")), "r")
    with pytest.raises(InvalidOrderError, match="below the minimum 10"):
        broker.place(OrderRequest("rySMALL1", "ETH/USDT", "buy", Decimal("0.001")), "r")
    with pytest.raises(InsufficientFundsError, match="holds 0"):
        broker.place(OrderRequest("rySELL01", "ETH/USDT", "sell", Decimal("1")), "r")
    assert broker.balances().total == {"USDT": Decimal(1000)}
    state, _, error = journal.get(engine, "ryBIG001") or (None, "", None)
    assert state is not None and state.status == "rejected" and "needs" in (error or "")
    engine.dispose()


def test_sell_proceeds_fund_buys_and_limit_orders_expire_when_not_marketable(
    settings: Settings,
) -> None:
    engine = open_store(settings)
    broker = broker_for(engine)
    broker.deposit("BTC", Decimal("0.1"))
    result = rebalance(broker, {"BTC": 0.0, "ETH": 0.9}, quote="USDT")
    sell, buy = result.fills
    assert (sell.side, buy.side) == ("sell", "buy")
    assert sell.average == Decimal("43956.0")  # 44000 less 10 bps
    balances = broker.balances().total
    assert "BTC" not in balances and balances["ETH"] == buy.amount
    assert balances["USDT"] >= 0
    limit = OrderRequest("ryLIM001", "ETH/USDT", "buy", Decimal("0.01"), "limit", Decimal(2200))
    assert broker.place(limit, "r").status == "expired"  # 2252.25 > 2200: no fill
    engine.dispose()


def test_bad_configuration_and_prices_from_the_store(settings: Settings) -> None:
    from realyield.universe import build
    from realyield.universe.repository import load_assets, price_history_frame

    engine = open_store(settings)
    with pytest.raises(ConfigError):
        PaperBroker(engine, rules={}, price_of={}, slippage_bps=Decimal(-1))
    with pytest.raises(ConfigError):
        broker_for(engine).deposit("USDT", Decimal(0))
    build.load_snapshot(engine)
    prices = stored_prices(engine, ["BTC", "ETH"], "USDT")
    ids = {a.symbol: a.id for a in load_assets(engine)}
    frame = price_history_frame(engine, [ids["BTC"]]).sort("date")
    assert prices["BTC/USDT"] == Decimal(repr(frame["price_usd"][-1]))
    with pytest.raises(DataError, match="no stored asset with symbol NOPE"):
        stored_prices(engine, ["NOPE"])
    with pytest.raises(ConfigError):
        stored_prices(engine, ["BTC"], quote="EUR")
    engine.dispose()
