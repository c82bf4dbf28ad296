"""Impermanent loss: closed forms by hand, and brute-force pools (constant product, and
one concentrated range) that only know their swap rule, arbitraged to the market price
step by step by an arbitrageur who maximises profit numerically."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from realyield.backtest import impermanent_loss as il
from realyield.core.errors import ConfigError, DataError


class ConstantProductPool:
    """x * y = k with a fee on the input; prices in Y per X."""

    def __init__(self, x: float, y: float, fee: float = 0.0) -> None:
        self.x, self.y, self.fee = x, y, fee

    def quote_sell_x(self, dx: float) -> float:
        net = dx * (1 - self.fee)
        return self.y * net / (self.x + net)

    def quote_sell_y(self, dy: float) -> float:
        net = dy * (1 - self.fee)
        return self.x * net / (self.y + net)

    def sell_x(self, dx: float) -> None:
        out = self.quote_sell_x(dx)
        self.x, self.y = self.x + dx, self.y - out

    def sell_y(self, dy: float) -> None:
        out = self.quote_sell_y(dy)
        self.x, self.y = self.x - out, self.y + dy


class ConcentratedPool:
    """One range [pa, pb] of liquidity L: a constant product on virtual reserves that
    cannot pay out more than its real reserves (then the price sits at a bound)."""

    def __init__(self, liquidity: float, pa: float, pb: float, price: float) -> None:
        self.L, self.pa, self.pb = liquidity, pa, pb
        sp = min(max(math.sqrt(price), math.sqrt(pa)), math.sqrt(pb))
        self.x = liquidity * (1 / sp - 1 / math.sqrt(pb))
        self.y = liquidity * (sp - math.sqrt(pa))

    def _virtual(self) -> tuple[float, float]:
        return self.x + self.L / math.sqrt(self.pb), self.y + self.L * math.sqrt(self.pa)

    def quote_sell_x(self, dx: float) -> float:
        vx, vy = self._virtual()
        return min(vy - self.L**2 / (vx + dx), self.y)

    def quote_sell_y(self, dy: float) -> float:
        vx, vy = self._virtual()
        return min(vx - self.L**2 / (vy + dy), self.x)

    def sell_x(self, dx: float) -> None:
        vx, _vy = self._virtual()
        room = self.L**2 / (self.L * math.sqrt(self.pa)) - vx  # X that reaches the lower bound
        dx = min(dx, room)
        out = self.quote_sell_x(dx)
        self.x, self.y = self.x + dx, self.y - out

    def sell_y(self, dy: float) -> None:
        _vx, vy = self._virtual()
        room = self.L**2 / (self.L / math.sqrt(self.pb)) - vy
        dy = min(dy, room)
        out = self.quote_sell_y(dy)
        self.x, self.y = self.x - out, self.y + dy


def arbitrage(pool: ConstantProductPool | ConcentratedPool, price: float) -> None:
    """Trade the size that maximises the arbitrageur's profit at the market ``price``
    (found numerically: only the pool's quotes are used)."""
    scale = pool.x + pool.y / price + 1.0
    sell_x = minimize_scalar(
        lambda dx: -(pool.quote_sell_x(dx) - dx * price),
        bounds=(0.0, 10 * scale),
        method="bounded",
        options={"xatol": 1e-13 * scale},
    )
    sell_y = minimize_scalar(
        lambda dy: -(pool.quote_sell_y(dy) * price - dy),
        bounds=(0.0, 10 * scale * price),
        method="bounded",
        options={"xatol": 1e-13 * scale * price},
    )
    if -sell_x.fun >= -sell_y.fun and -sell_x.fun > 0:
        pool.sell_x(float(sell_x.x))
    elif -sell_y.fun > 0:
        pool.sell_y(float(sell_y.x))


def test_closed_forms_by_hand() -> None:
    assert il.il_v2(1.0) == pytest.approx(0.0)
    assert il.il_v2(4.0) == pytest.approx(-0.2)  # 2*2/5 - 1
    assert il.il_v2(0.25) == pytest.approx(-0.2)  # symmetric in log price
    assert il.il_v2(2.0) == pytest.approx(2 * math.sqrt(2) / 3 - 1)
    # a full range gives back v2; a narrow range loses more for the same move
    assert il.il_v3(2.0, 1e-12, 1e12) == pytest.approx(il.il_v2(2.0), rel=1e-5)
    assert il.il_v3(1.2, 0.9, 1.25) < il.il_v2(1.2)
    # above the range the position is all B: value sqrt(ub) - sqrt(lb) (for L = 1)
    lo, hi = 0.8, 1.25
    hodl = 1 + 2.0 - math.sqrt(lo) - 2.0 / math.sqrt(hi)
    assert il.il_v3(2.0, lo, hi) == pytest.approx((math.sqrt(hi) - math.sqrt(lo)) / hodl - 1)
    # the two-token constant-mean share is sqrt(d) in B, i.e. sqrt(pa * pb) in USD
    prices = np.array([[10.0, 1.0], [40.0, 1.0], [20.0, 2.0]])
    np.testing.assert_allclose(il.lp_price_index(prices), [1.0, 2.0, 2.0])
    with pytest.raises(ConfigError):
        il.il_v3(1.0, 1.1, 1.5)
    with pytest.raises(DataError):
        il.il_v2(-1.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.4, 0.4), min_size=1, max_size=12))
def test_constant_product_pool_with_arbitrage_matches_closed_form(moves: list[float]) -> None:
    p0 = 2000.0
    pool = ConstantProductPool(x=10.0, y=10.0 * p0)
    price = p0
    for step in moves:
        price *= math.exp(step)
        arbitrage(pool, price)
    d = price / p0
    lp = pool.x * price + pool.y
    hodl = 10.0 * price + 10.0 * p0
    assert lp / hodl - 1 == pytest.approx(float(il.il_v2(d)), abs=1e-8)
    assert lp / (20.0 * p0) == pytest.approx(float(il.lp_value_v2(d)), rel=1e-8)  # path free


@settings(max_examples=15, deadline=None)
@given(st.floats(-1.0, 1.0))
def test_fees_only_add_to_the_pool(step: float) -> None:
    p0 = 1.0
    with_fee = ConstantProductPool(1000.0, 1000.0, fee=0.003)
    price = p0
    for k in range(6):  # back and forth: fees accrue on every crossing
        price = p0 * math.exp(step if k % 2 == 0 else 0.0)
        arbitrage(with_fee, price)
    lp = with_fee.x * price + with_fee.y
    hodl = 1000.0 * price + 1000.0
    assert lp / hodl - 1 >= float(il.il_v2(price / p0)) - 1e-9


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.25, 4.0),
    st.floats(0.5, 0.95),
    st.floats(1.05, 2.0),
)
def test_concentrated_pool_with_arbitrage_matches_closed_form(
    d: float, lower: float, upper: float
) -> None:
    p0 = 1500.0
    pool = ConcentratedPool(1000.0, lower * p0, upper * p0, p0)
    x0, y0 = pool.x, pool.y
    for frac in (0.5, 1.0):  # two steps to the final price
        arbitrage(pool, p0 * d**frac)
    price = p0 * d
    lp = pool.x * price + pool.y
    hodl = x0 * price + y0
    assert lp / hodl - 1 == pytest.approx(float(il.il_v3(d, lower, upper)), abs=1e-7)
    assert lp == pytest.approx(1000.0 * float(il.v3_value(price, lower * p0, upper * p0)), rel=1e-7)


def test_v3_index_is_continuous_and_pays_for_recentring() -> None:
    pa = np.array([100.0, 120.0, 150.0, 150.0, 90.0])
    pb = np.ones(5)
    flags = np.array([False, False, True, False, False])
    free, outside = il.v3_price_index(pa, pb, 0.8, 1.25, recentre=flags)
    # until the re-centre day the path is the fixed range's value
    fixed = il.v3_value(pa / pb, 80.0, 125.0) * pb
    np.testing.assert_allclose(free[:3], fixed[:3] / fixed[0])
    # after it: the new range centred at 150, chained on the value reached
    new = il.v3_value(pa[2:] / pb[2:], 0.8 * 150, 1.25 * 150)
    np.testing.assert_allclose(free[2:], free[2] * new / new[0])
    assert outside.tolist() == [False, False, True, False, True]  # 150 > 125 then 90 < 120
    paid, _ = il.v3_price_index(pa, pb, 0.8, 1.25, recentre=flags, swap_cost=0.01)
    # at 150 the old range is all B (share of A 0); the new one about half A
    x, y = il.v3_amounts(150.0, 120.0, 187.5)
    share = float(x * 150.0 / (x * 150.0 + y))
    assert paid[2] == pytest.approx(free[2] * (1 - 0.01 * share))
