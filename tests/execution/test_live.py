"""Rebalancing on a real ccxt.binance object replaying recorded responses (no network):
market limits, idempotent placement through timeouts, errors never retried, key safety."""

from __future__ import annotations

import logging
from decimal import Decimal

import ccxt
import pytest
from sqlalchemy import Engine

from realyield.core.errors import (
    InsufficientFundsError,
    InvalidOrderError,
    OrderStateUnknownError,
    UnsafeKeyError,
)
from realyield.core.secrets import Secret, install_log_redaction
from realyield.exchange.credentials import Credentials
from realyield.exchange.orders import OrderRequest, rules_from_market
from realyield.exchange.trading import TradingClient
from realyield.execution import journal
from realyield.execution.live import CcxtBroker
from realyield.execution.rebalance import execute_plan, plan_rebalance, rebalance
from tests.execution.binance_replay import (
    ACK_THEN_FILL,
    API_KEY,
    API_SECRET,
    FILL,
    INSUFFICIENT,
    LOT_SIZE,
    RATE_LIMITED,
    TIMEOUT_AFTER_ACCEPT,
    TIMEOUT_BEFORE_ACCEPT,
    FakeBinance,
    fake_binance,
)

TARGETS = {"BTC": 0.40, "ETH": 0.30, "SOL": 0.25}


def make_broker(engine: Engine, fake: FakeBinance, waits: list[float] | None = None) -> CcxtBroker:
    client = TradingClient(
        "binance",
        credentials=Credentials(Secret(API_KEY), Secret(API_SECRET)),
        api=fake.api,
        max_attempts=2,
        backoff_s=0.0,
        sleep=lambda s: None,
    )
    sink = waits if waits is not None else []
    return CcxtBroker(client, engine, backoff_s=0.5, sleep=sink.append)


def test_plan_respects_lot_sizes_min_notional_and_cash(engine: Engine) -> None:
    fake = fake_binance()
    broker = make_broker(engine, fake)
    plan = plan_rebalance(broker, TARGETS, quote="USDT", cash_buffer=Decimal("0.01"), run_id="t1")
    # Account: 0.015 BTC @ 44000 = 660, 0.4 ETH @ 2250 = 900, 1200 USDT (BNB untouched).
    assert plan.portfolio_value == Decimal("2760")
    assert plan.untouched == {"BNB": Decimal("0.05")}
    investable = Decimal("2760") * Decimal("0.99")
    by_symbol = {o.request.symbol: o for o in plan.orders}
    # Hand computation: ETH sells (900 - 0.30 * 2732.4) / 2250 = 0.035680 -> lot 0.0001.
    assert by_symbol["ETH/USDT"].request.side == "sell"
    assert by_symbol["ETH/USDT"].request.amount == Decimal("0.0356")
    api = fake.api
    for order in plan.orders:
        r = order.request
        market = api.markets[r.symbol]
        step = Decimal(str(market["precision"]["amount"]))
        assert r.amount % step == 0  # a whole number of lots
        # ccxt's own rounding of the unrounded amount agrees with ours (truncation):
        raw = (order.target_value - order.current_value).copy_abs() / order.reference_price
        if r.side == "buy":
            assert Decimal(api.amount_to_precision(r.symbol, float(raw))) >= r.amount
        else:
            assert Decimal(api.amount_to_precision(r.symbol, float(raw))) == r.amount
        assert r.amount * order.reference_price >= Decimal(str(market["limits"]["cost"]["min"]))
    # Buys fit the cash: 1200 free + ETH proceeds after fee, less the 1% buffer.
    eth = by_symbol["ETH/USDT"]
    budget = Decimal(1200) + eth.cost - eth.fee - Decimal("2760") * Decimal("0.01")
    assert sum(o.cost + o.fee for o in plan.buys) <= budget
    btc = by_symbol["BTC/USDT"]
    assert btc.request.amount == Decimal("0.00984")  # (0.4 * 2732.4 - 660) / 44000 = 0.00984
    sol = by_symbol["SOL/USDT"]
    assert sol.request.amount == Decimal("6.935")  # 0.25 * 2732.4 / 98.5 = 6.935025
    assert plan.orders[0].request.side == "sell"  # sells first
    assert investable == Decimal("2732.40")


def test_legs_below_minimum_notional_are_skipped_with_the_reason(engine: Engine) -> None:
    fake = fake_binance()
    broker = make_broker(engine, fake)
    # ETH at 0.3265 of 2732.4 -> 892.13: selling 7.87 USDT worth is fine; BTC 0.2398
    # -> 655.23: selling 4.77 USDT is below Binance's 5 USDT NOTIONAL filter.
    plan = plan_rebalance(
        broker,
        {"BTC": 0.2398, "ETH": 0.3265},
        quote="USDT",
        cash_buffer=Decimal("0.01"),
        run_id="t2",
    )
    (skipped,) = [s for s in plan.skipped if s.symbol == "BTC/USDT"]
    assert skipped.side == "sell" and "below the minimum 5" in skipped.reason
    assert [o.request.symbol for o in plan.orders] == ["ETH/USDT"]
    assert plan.orders[0].request.amount == Decimal("0.0034")  # 7.87 / 2250 = 0.003497


def test_execution_sends_exactly_the_planned_orders_and_journals_fills(engine: Engine) -> None:
    fake = fake_binance()
    broker = make_broker(engine, fake)
    plan = plan_rebalance(broker, TARGETS, quote="USDT", run_id="t3")
    result = execute_plan(broker, plan)
    assert result.halted is None and result.failed == []
    sent = [
        (p["symbol"], p["side"], Decimal(p["quantity"]), p["newClientOrderId"])
        for p in fake.accepted
    ]
    planned = [
        (
            o.request.symbol.replace("/", ""),
            o.request.side.upper(),
            o.request.amount,
            o.request.client_order_id,
        )
        for o in plan.orders
    ]
    assert sent == planned
    for fill in result.fills:
        stored, broker_name, _ = journal.get(engine, fill.client_order_id) or (None, "", None)
        assert broker_name == "ccxt:binance" and stored is not None
        assert stored.status == "closed" and stored.filled == stored.amount
        assert stored.fee_currency == (
            "USDT" if stored.side == "sell" else stored.symbol.split("/")[0]
        )
    # Running the same plan again sends nothing: every client id is journaled as closed.
    again = execute_plan(broker, plan)
    assert len(fake.accepted) == len(plan.orders) and len(again.fills) == len(plan.orders)


def request(cid: str = "ryTEST01") -> OrderRequest:
    return OrderRequest(cid, "BTC/USDT", "buy", Decimal("0.00100"))


def test_timeout_after_submit_is_resolved_by_lookup_not_resent(engine: Engine) -> None:
    fake = fake_binance(post_script=[TIMEOUT_AFTER_ACCEPT])
    broker = make_broker(engine, fake)
    state = broker.place(request(), "run1")
    assert state.status == "closed" and state.filled == Decimal("0.001")
    assert len(fake.calls("POST", "/api/v3/order")) == 1  # sent once
    assert len(fake.accepted) == 1
    (lookup,) = fake.calls("GET", "/api/v3/order")
    assert lookup["origClientOrderId"] == "ryTEST01"
    assert journal.get(engine, "ryTEST01")[0].status == "closed"  # type: ignore[index]


def test_timeout_before_arrival_resends_with_the_same_client_id(engine: Engine) -> None:
    fake = fake_binance(post_script=[TIMEOUT_BEFORE_ACCEPT, FILL])
    waits: list[float] = []
    broker = make_broker(engine, fake, waits)
    state = broker.place(request(), "run1")
    posts = fake.calls("POST", "/api/v3/order")
    assert [p["newClientOrderId"] for p in posts] == ["ryTEST01", "ryTEST01"]
    assert len(fake.accepted) == 1 and state.status == "closed"
    assert len(fake.calls("GET", "/api/v3/order")) == 1  # looked up (not found) before resending
    assert waits == [0.5]


def test_rate_limit_on_submit_is_retried_by_lookup_then_resend(engine: Engine) -> None:
    fake = fake_binance(post_script=[RATE_LIMITED])
    broker = make_broker(engine, fake)
    broker.place(request(), "run1")
    assert len(fake.calls("POST", "/api/v3/order")) == 2 and len(fake.accepted) == 1


def test_insufficient_funds_is_never_retried(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    install_log_redaction(logging.getLogger())
    fake = fake_binance(post_script=[INSUFFICIENT, INSUFFICIENT, INSUFFICIENT])
    broker = make_broker(engine, fake)
    with pytest.raises(InsufficientFundsError, match="balance is too small") as info:
        broker.place(request(), "run1")
    assert len(fake.calls("POST", "/api/v3/order")) == 1
    assert fake.calls("GET", "/api/v3/order") == []
    state, _, error = journal.get(engine, "ryTEST01") or (None, "", None)
    assert state is not None and state.status == "rejected" and "insufficient" in (error or "")
    for text in (str(info.value), error or "", repr(broker), caplog.text):
        assert API_KEY not in text and API_SECRET not in text
    # The same client id is not sent again on a later call either.
    assert broker.place(request(), "run2").status == "rejected"
    assert len(fake.calls("POST", "/api/v3/order")) == 1


def test_invalid_order_skips_the_leg_and_insufficient_funds_halts(engine: Engine) -> None:
    fake = fake_binance(post_script=[LOT_SIZE, INSUFFICIENT])
    broker = make_broker(engine, fake)
    plan = plan_rebalance(broker, TARGETS, quote="USDT", run_id="t4")
    assert len(plan.orders) == 3  # sell ETH, buy BTC, buy SOL
    result = execute_plan(broker, plan)
    assert [cid for cid, _ in result.failed] == [o.request.client_order_id for o in plan.orders[:2]]
    assert isinstance(result.halted, str) and "InsufficientFundsError" in result.halted
    assert len(fake.calls("POST", "/api/v3/order")) == 2  # the third order was not sent
    assert "LOT_SIZE" in result.failed[0][1]
    with pytest.raises(InvalidOrderError):  # a refused leg is refused again, not re-sent
        fake.post_script = [LOT_SIZE]
        broker.client.submit_order(OrderRequest("ryOTHER1", "BTC/USDT", "buy", Decimal("0.001")))


def test_unconfirmable_order_stops_and_is_resolved_by_the_next_run(engine: Engine) -> None:
    # The POST is lost before reaching the exchange and every lookup times out.
    fake = fake_binance(post_script=[TIMEOUT_BEFORE_ACCEPT], lookup_script=["timeout"] * 2)
    broker = make_broker(engine, fake)
    with pytest.raises(OrderStateUnknownError, match="cannot confirm"):
        broker.place(request(), "run1")
    assert len(fake.calls("POST", "/api/v3/order")) == 1  # nothing more was sent
    assert journal.get(engine, "ryTEST01")[0].status == "unknown"  # type: ignore[index]
    # Next run: the lookup answers "no such order", so it is closed as never placed and
    # planning goes ahead.
    result = rebalance(broker, TARGETS, quote="USDT", dry_run=True)
    assert [s.status for s in result.reconciled] == ["canceled"]
    assert result.plan.orders and len(fake.calls("POST", "/api/v3/order")) == 1


def test_lost_order_found_on_the_next_run_blocks_nothing_and_is_recorded(engine: Engine) -> None:
    fake = fake_binance(post_script=[TIMEOUT_AFTER_ACCEPT], lookup_script=["timeout"] * 2)
    broker = make_broker(engine, fake)
    with pytest.raises(OrderStateUnknownError):
        broker.place(request(), "run1")
    result = rebalance(broker, TARGETS, quote="USDT", dry_run=True)
    assert [(s.client_order_id, s.status) for s in result.reconciled] == [("ryTEST01", "closed")]
    assert len(fake.accepted) == 1


def test_key_with_withdrawal_permission_is_refused(engine: Engine) -> None:
    fake = fake_binance(restrictions="binance_api_restrictions_withdrawals.json")
    client = make_broker(engine, fake).client
    with pytest.raises(UnsafeKeyError, match="can withdraw") as info:
        client.require_safe_key()
    assert API_KEY not in str(info.value)
    safe = fake_binance()
    perms = make_broker(engine, safe).client.require_safe_key()
    assert perms.can_withdraw is False and perms.can_trade is True
    assert "apiRestrictions" in perms.source


def test_reprs_and_credentials_never_show_secrets(engine: Engine) -> None:
    fake = fake_binance()
    broker = make_broker(engine, fake)
    creds = Credentials(Secret(API_KEY), Secret(API_SECRET))
    for text in (repr(broker), repr(broker.client), repr(creds), str(creds), f"{creds.api_key}"):
        assert API_KEY not in text and API_SECRET not in text
    assert "credentials=set" in repr(broker.client)


def test_market_rules_round_like_ccxt() -> None:
    api = fake_binance().api
    api.load_markets()
    assert api.precisionMode == ccxt.TICK_SIZE
    btc = rules_from_market(api.markets["BTC/USDT"], api.precisionMode)
    assert (btc.amount_step, btc.min_cost, btc.price_step) == (
        Decimal("0.00001"),
        Decimal("5"),
        Decimal("0.01"),
    )
    assert btc.max_market_amount == Decimal("123.29348916")
    for raw in ("0.0098399", "0.00001999", "1.23456789", "0.00001"):
        assert btc.amount(Decimal(raw)) == Decimal(api.amount_to_precision("BTC/USDT", float(raw)))
    # Below one lot ccxt refuses; we round to zero and the planner skips the leg.
    assert btc.amount(Decimal("0.00000999")) == 0
    assert "rounds to zero" in btc.problems(Decimal(0), Decimal(44000), market_order=True)[0]


def test_placing_an_unknown_order_again_looks_it_up_before_sending(engine: Engine) -> None:
    fake = fake_binance(post_script=[TIMEOUT_BEFORE_ACCEPT], lookup_script=["timeout"] * 2)
    broker = make_broker(engine, fake)
    with pytest.raises(OrderStateUnknownError):
        broker.place(request(), "run1")
    state = broker.place(request(), "run1")  # lookups work again: not found, so send it
    posts = fake.calls("POST", "/api/v3/order")
    assert [p["newClientOrderId"] for p in posts] == ["ryTEST01", "ryTEST01"]
    assert len(fake.accepted) == 1 and state.status == "closed"
    assert len(fake.calls("GET", "/api/v3/order")) == 3  # 2 timed out, 1 said "not found"


def test_an_acknowledged_market_order_is_read_back_until_filled(engine: Engine) -> None:
    fake = fake_binance(post_script=[ACK_THEN_FILL])
    waits: list[float] = []
    broker = make_broker(engine, fake, waits)
    state = broker.place(request(), "run1")
    assert state.status == "closed" and state.filled == Decimal("0.001")
    assert state.average == Decimal("44000") and state.cost == Decimal("44.0")
    assert len(fake.calls("POST", "/api/v3/order")) == 1 and waits == [0.5]
    stored = journal.get(engine, "ryTEST01")
    assert stored is not None and stored[0].status == "closed"
