"""Cost-basis engines against worked examples computed by hand (Decimal, exact)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.ledger import as_movement
from realyield.portfolio.lots import exact_sum, replay
from realyield.portfolio.reports import gains_report, income_report


def at(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


def ev(kind: str, when: datetime, asset: str, amount: str, **kw: Any) -> LedgerEvent:
    for name in ("counter_amount", "fee_amount", "value", "fee_value"):
        if name in kw and kw[name] is not None:
            kw[name] = D(kw[name])
    return LedgerEvent(
        kind=kind,
        time=when,
        asset=asset,
        amount=D(amount),
        key=f"{kind}-{when.isoformat()}-{asset}-{amount}",
        **kw,
    )


def buy(when: datetime, qty: str, usd: str, **kw: Any) -> LedgerEvent:
    return ev("trade", when, "BTC", qty, counter_asset="USD", counter_amount=usd, value=usd, **kw)


def sell(when: datetime, qty: str, usd: str, **kw: Any) -> LedgerEvent:
    return ev("trade", when, "USD", usd, counter_asset="BTC", counter_amount=qty, value=usd, **kw)


def moves(events: list[LedgerEvent]) -> list[tuple[Any, ...]]:
    return [as_movement(e, seq=i + 1) for i, e in enumerate(events)]


# Three buys then a sale of 1.5 BTC for 45,000:
#   lot 1: 1 BTC for 10,000 (Jan 1)   lot 2: 1 BTC for 30,000 (Feb 1)
#   lot 3: 1 BTC for 20,000 (Mar 1)
BASE = [
    buy(at(2024, 1, 1), "1", "10000"),
    buy(at(2024, 2, 1), "1", "30000"),
    buy(at(2024, 3, 1), "1", "20000"),
    sell(at(2024, 4, 1), "1.5", "45000"),
]


@pytest.mark.parametrize(
    ("method", "basis", "pieces"),
    [
        # FIFO: all of lot 1 (10,000) + half of lot 2 (15,000)
        ("fifo", "25000", [("1", "30000", "10000"), ("0.5", "15000", "15000")]),
        # LIFO: all of lot 3 (20,000) + half of lot 2 (15,000)
        ("lifo", "35000", [("1", "30000", "20000"), ("0.5", "15000", "15000")]),
        # HIFO: all of lot 2 (30,000) + half of lot 3 (10,000)
        ("hifo", "40000", [("1", "30000", "30000"), ("0.5", "15000", "10000")]),
        # Average: 60,000 / 3 = 20,000 a BTC; holding periods first-in first-out
        ("acb", "30000", [("1", "30000", "20000"), ("0.5", "15000", "10000")]),
    ],
)
def test_each_method_matches_the_hand_computation(
    method: str, basis: str, pieces: list[tuple[str, str, str]]
) -> None:
    run = replay(moves(BASE), {2024: method})
    report = gains_report(run, 2024, "USD")
    assert report.method == method
    assert report.proceeds == D("45000")
    assert report.basis == D(basis)
    assert report.gain == D("45000") - D(basis)
    assert report.short_term_gain == report.gain and report.long_term_gain == 0
    assert [(d.quantity, d.proceeds, d.basis) for d in report.disposals] == [
        (D(q), D(p), D(b)) for q, p, b in pieces
    ]
    assert all(isinstance(d.basis, D) and isinstance(d.proceeds, D) for d in report.disposals)
    # What is left is the 60,000 paid minus the basis used, exactly.
    left = run.holdings["BTC"]
    assert sum((lot.quantity for lot in left), D(0)) == D("1.5")
    assert sum((lot.cost for lot in left), D(0)) == D("60000") - D(basis)


def test_long_term_is_more_than_365_days_and_splits_a_sale() -> None:
    events = [*BASE, sell(at(2025, 2, 15), "1.5", "60000")]
    run = replay(moves(events), {})  # FIFO both years
    report = gains_report(run, 2025, "USD")
    # left after FIFO 2024: 0.5 of lot 2 (Feb 1 2024, 15,000), lot 3 (Mar 1 2024, 20,000)
    # Feb 1 2024 -> Feb 15 2025 = 380 days: long; Mar 1 2024 -> Feb 15 2025 = 351: short
    lines = [(d.term, d.proceeds, d.basis) for d in report.disposals]
    assert lines == [("long", D("20000"), D("15000")), ("short", D("40000"), D("20000"))]
    assert report.long_term_gain == D("5000") and report.short_term_gain == D("20000")


def test_method_is_chosen_per_tax_year() -> None:
    events = [*BASE, sell(at(2025, 2, 15), "1.5", "60000")]
    run = replay(moves(events), {2024: "hifo", 2025: "fifo"})
    assert run.methods == {2024: "hifo", 2025: "fifo"}
    # HIFO 2024 leaves lot 1 (1 BTC, 10,000, Jan 1) and 0.5 of lot 3 (10,000, Mar 1).
    report = gains_report(run, 2025, "USD")
    lines = [(d.term, d.quantity, d.proceeds, d.basis) for d in report.disposals]
    assert lines == [("long", 1, 40000, 10000), ("short", D("0.5"), 20000, 10000)]
    assert report.gain == D("40000")


def test_leaving_average_cost_splits_the_pool_at_the_average() -> None:
    events = [*BASE, sell(at(2025, 2, 15), "1.5", "60000")]
    run = replay(moves(events), {2024: "acb", 2025: "fifo"})
    # ACB 2024 leaves 1.5 BTC costing 30,000 (20,000 a BTC): 0.5 from Feb 1, 1 from Mar 1.
    report = gains_report(run, 2025, "USD")
    lines = [(d.term, d.quantity, d.basis) for d in report.disposals]
    assert lines == [("long", D("0.5"), 10000), ("short", 1, 20000)]
    assert report.gain == D("30000")


def test_rewards_become_lots_at_fair_market_value() -> None:
    events = [
        ev("staking_reward", at(2024, 5, 1), "ETH", "0.1", value="200", opportunity="lido"),
        ev("lending_interest", at(2024, 5, 2), "USDC", "12.5", value="12.5"),
        ev(
            "trade",
            at(2024, 6, 1),
            "USD",
            "250",
            counter_asset="ETH",
            counter_amount="0.1",
            value="250",
        ),
    ]
    run = replay(moves(events), {})
    gains = gains_report(run, 2024, "USD")
    assert [(d.asset, d.basis, d.gain, d.missing) for d in gains.disposals] == [
        ("ETH", D("200"), D("50"), False)
    ]
    income = income_report(run, 2024, "USD")
    assert income.total == D("212.5")
    assert {k: v["value"] for k, v in income.by_category().items()} == {
        "lending_interest": D("12.5"),
        "staking_reward": D("200"),
    }


def test_fee_convention_worked_example() -> None:
    events = [
        # Buy 1 ETH for 2,000 USD + 10 USD fee: lot cost 2,010.
        ev(
            "trade",
            at(2024, 1, 1),
            "ETH",
            "1",
            counter_asset="USD",
            counter_amount="2000",
            value="2000",
            fee_asset="USD",
            fee_amount="10",
            fee_value="10",
        ),
        # Swap 0.5 ETH for 10 SOL worth 1,500, fee 0.01 ETH worth 30:
        #   ETH disposal: proceeds 1,500, basis 1,005 -> +495
        #   SOL lot cost 1,500 + 30 = 1,530
        #   fee disposal: 0.01 ETH, proceeds 30, basis 20.10 -> +9.90
        ev(
            "trade",
            at(2024, 2, 1),
            "SOL",
            "10",
            counter_asset="ETH",
            counter_amount="0.5",
            value="1500",
            fee_asset="ETH",
            fee_amount="0.01",
            fee_value="30",
        ),
        # Sell 10 SOL for 1,600 USD with a 5 USD fee: proceeds 1,595, basis 1,530 -> +65
        ev(
            "trade",
            at(2024, 3, 1),
            "USD",
            "1600",
            counter_asset="SOL",
            counter_amount="10",
            value="1600",
            fee_asset="USD",
            fee_amount="5",
            fee_value="5",
        ),
        # A standalone gas fee of 0.001 ETH worth 3: disposal basis 2.01 -> +0.99, expense 3
        ev("gas_fee", at(2024, 4, 1), "ETH", "0.001", value="3"),
    ]
    run = replay(moves(events), {})
    report = gains_report(run, 2024, "USD")
    got = [(d.kind, d.asset, d.proceeds, d.basis, d.gain) for d in report.disposals]
    assert got == [
        ("trade", "ETH", D("1500"), D("1005"), D("495")),
        ("fee", "ETH", D("30"), D("20.1"), D("9.9")),
        ("trade", "SOL", D("1595"), D("1530"), D("65")),
        ("fee", "ETH", D("3"), D("2.01"), D("0.99")),
    ]
    assert report.gain == D("570.89")
    income = income_report(run, 2024, "USD")
    assert income.fee_expenses == D("3") and income.total == 0
    (eth,) = run.holdings["ETH"]
    assert eth.quantity == D("0.489") and eth.cost == D("2010") - D("1005") - D("20.1") - D("2.01")


def test_a_missing_acquisition_is_reported_not_hidden() -> None:
    events = [buy(at(2024, 1, 1), "1", "10000"), sell(at(2024, 2, 1), "2", "50000")]
    run = replay(moves(events), {})
    report = gains_report(run, 2024, "USD")
    assert [(d.quantity, d.basis, d.missing) for d in report.disposals] == [
        (1, 10000, False),
        (1, 0, True),
    ]
    assert report.proceeds == D("50000") and report.missing_quantity == 1
    assert "acquisition is missing" in report.warnings[0]


def test_withdrawal_removes_basis_without_gain_and_stake_changes_nothing() -> None:
    events = [
        buy(at(2024, 1, 1), "2", "20000"),
        ev("stake", at(2024, 1, 2), "BTC", "2"),
        ev("withdrawal", at(2024, 1, 3), "BTC", "0.5"),
        sell(at(2024, 1, 4), "1.5", "18000"),
    ]
    run = replay(moves(events), {})
    report = gains_report(run, 2024, "USD")
    assert report.basis == D("15000") and report.gain == D("3000")
    assert run.removed_basis == {2024: D("5000")}
    assert "BTC" not in run.holdings


amounts = st.decimals(min_value=D("0.0001"), max_value=D("1000"), places=4)


@settings(max_examples=60, deadline=None)
@given(
    buys=st.lists(st.tuples(amounts, amounts), min_size=1, max_size=8),
    sells=st.lists(st.tuples(amounts, amounts), min_size=1, max_size=6),
    method=st.sampled_from(["fifo", "lifo", "hifo", "acb"]),
)
def test_no_cost_is_ever_lost(
    buys: list[tuple[D, D]], sells: list[tuple[D, D]], method: str
) -> None:
    """Basis used + basis still held == everything paid, exactly, for any sequence."""
    events = [buy(at(2024, 1, 1 + i), str(q), str(c)) for i, (q, c) in enumerate(buys)]
    events += [sell(at(2024, 3, 1 + i), str(q), str(p)) for i, (q, p) in enumerate(sells)]
    run = replay(moves(events), {2024: method})
    report = gains_report(run, 2024, "USD")
    held = exact_sum(lot.cost for lot in run.holdings.get("BTC", []))
    paid = exact_sum(c for _, c in buys)
    used = exact_sum(d.basis for d in report.disposals if not d.missing)
    assert exact_sum((used, held, -paid)) == 0
    assert report.proceeds == sum((p for _, p in sells), D(0))
    bought = sum((q for q, _ in buys), D(0))
    sold = sum((q for q, _ in sells), D(0))
    left = sum((lot.quantity for lot in run.holdings.get("BTC", [])), D(0))
    missing = sum((d.quantity for d in report.disposals if d.missing), D(0))
    assert left == max(bought - sold, D(0)) and missing == max(sold - bought, D(0))


@settings(max_examples=40, deadline=None)
@given(
    buys=st.lists(st.tuples(amounts, amounts), min_size=1, max_size=6),
    sells=st.lists(st.tuples(amounts, amounts), min_size=1, max_size=6),
    methods=st.tuples(*[st.sampled_from(["fifo", "lifo", "hifo", "acb"])] * 3),
)
def test_switching_methods_between_years_loses_nothing(
    buys: list[tuple[D, D]], sells: list[tuple[D, D]], methods: tuple[str, str, str]
) -> None:
    """Buys in 2023, sales spread over 2024 and 2025 under any methods per year."""
    events = [buy(at(2023, 1, 1 + i), str(q), str(c)) for i, (q, c) in enumerate(buys)]
    events += [sell(at(2024 + i % 2, 6, 1 + i), str(q), str(p)) for i, (q, p) in enumerate(sells)]
    events.sort(key=lambda e: e.time)
    chosen = dict(zip((2023, 2024, 2025), methods, strict=True))
    run = replay(moves(events), chosen)
    assert run.methods == {y: chosen[y] for y in run.methods}
    used = exact_sum(d.basis for d in run.disposals if not d.missing)
    held = exact_sum(lot.cost for lot in run.holdings.get("BTC", []))
    assert exact_sum((used, held, -exact_sum(c for _, c in buys))) == 0
    assert all(
        d.term == ("long" if d.disposed - d.acquired > timedelta(days=365) else "short")
        for d in run.disposals
        if d.acquired is not None
    )
