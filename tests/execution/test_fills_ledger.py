"""Every paper fill is a ledger event when it happens, keyed by its client order id
(issue 18): stored once however often it is written, with the hand-computed legs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from sqlalchemy import Engine

from realyield.exchange.orders import OrderRequest
from realyield.execution.fills import fill_event, record
from realyield.execution.paper import PaperBroker, paper_markets
from realyield.portfolio import ledger

PRICES = {"BTC/USDT": D(44000), "ETH/USDT": D(2250)}


def _broker(engine: Engine) -> PaperBroker:
    return PaperBroker(engine, rules=paper_markets(["BTC", "ETH"]), price_of=PRICES)


def test_a_buy_and_a_sale_become_trades_once(engine: Engine) -> None:
    broker = _broker(engine)
    broker.deposit("USDT", D(10_000))
    buy = OrderRequest("ry-buy-1", "BTC/USDT", "buy", D("0.1"))
    broker.place(buy, "run1")
    broker.place(buy, "run1")  # the same client order id: not filled, not written twice
    broker.place(OrderRequest("ry-sell-1", "BTC/USDT", "sell", D("0.04")), "run2")
    events = {e.key: e for e in ledger.load_events(engine)}
    assert len(events) == 3
    bought, sold = events["ry-buy-1"], events["ry-sell-1"]
    # Buy: 0.1 BTC at 44,000 x 1.001 = 4,404.4 USDT, fee 10 bps = 4.4044 USDT.
    assert (bought.kind, bought.asset, bought.amount) == ("trade", "BTC", D("0.1"))
    assert (bought.counter_asset, bought.counter_amount) == ("USDT", D("4404.40"))
    assert (bought.fee_asset, bought.fee_amount, bought.value) == (
        "USDT",
        D("4.404400"),
        D("4404.40"),
    )
    # Sale: 0.04 BTC at 44,000 x 0.999 = 1,758.24 USDT received, fee 1.75824.
    assert (sold.asset, sold.amount, sold.counter_asset) == ("USDT", D("1758.24"), "BTC")
    assert (sold.counter_amount, sold.fee_amount) == (D("0.04"), D("1.758240"))
    assert {e.source for e in events.values()} == {"paper"}
    assert {e.account for e in events.values()} == {"paper:default"}


def test_writing_a_fill_twice_stores_it_once(engine: Engine) -> None:
    broker = _broker(engine)
    broker.deposit("USDT", D(1_000))
    state = broker.place(OrderRequest("ry-eth-1", "ETH/USDT", "buy", D("0.1")), "r")
    event = fill_event(
        "paper", "paper:default", state, broker.rules()["ETH/USDT"], datetime.now(UTC)
    )
    with engine.begin() as conn:
        assert record(conn, event) == 0  # the broker already wrote it
        assert record(conn, None) == 0
    assert len([e for e in ledger.load_events(engine) if e.kind == "trade"]) == 1


def test_a_plan_says_why_holdings_stay_untouched() -> None:
    from realyield.exchange.orders import Balances
    from realyield.execution.orders import plan_orders

    held = {"USDT": D(1000), "BNB": D("0.5")}
    plan = plan_orders(
        {"BTC": 0.5}, Balances(held, held), PRICES, paper_markets(["BTC"]), quote="USDT",
        run_id="t",
    )  # fmt: skip
    assert plan.untouched == {"BNB": D("0.5")}
    assert plan.portfolio_value == D(1000)  # BNB is not counted: the reason says so
    reason = plan.as_dict()["untouched_reason"]
    assert "BNB: not in the targets" in reason and "--target BNB=0 sells it" in reason
    nothing = plan_orders({"BTC": 0.5}, Balances({"USDT": D(1000)}, {"USDT": D(1000)}), PRICES,
                          paper_markets(["BTC"]), quote="USDT", run_id="u")  # fmt: skip
    assert nothing.untouched_reason is None


def test_two_equal_deposits_in_one_instant_are_two_events(engine: Engine) -> None:
    from realyield.core import clock

    broker = _broker(engine)
    with clock.freeze(datetime(2026, 1, 2, tzinfo=UTC)):
        broker.deposit("USDT", D(100))
        broker.deposit("USDT", D(100))
    assert broker.balances().total == {"USDT": D(200)}
    deposits = [e for e in ledger.load_events(engine) if e.kind == "deposit"]
    assert [(e.asset, e.amount, e.value) for e in deposits] == [("USDT", D(100), D(100))] * 2
