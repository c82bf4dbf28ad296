"""Expected impermanent loss against independent references: numerical integration of
the closed forms (scipy.integrate.quad) and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from realyield.core.errors import ConfigError, DataError
from realyield.scoring import impermanent_loss as il


def _lognormal_expectation(f, sigma: float) -> float:  # type: ignore[no-untyped-def]
    """E[f(exp(X))], X ~ N(0, sigma^2), by adaptive quadrature on the log ratio."""

    def integrand(x: float) -> float:
        return float(f(math.exp(x))) * math.exp(-0.5 * (x / sigma) ** 2)

    value, _ = quad(integrand, -12 * sigma, 12 * sigma, limit=400, points=[0.0])
    return value / (sigma * math.sqrt(2.0 * math.pi))


@pytest.mark.parametrize("sigma", [0.05, 0.2, 0.6, 0.97, 1.5, 3.0])
def test_expected_constant_product_loss_equals_the_integrated_closed_form(sigma: float) -> None:
    reference = _lognormal_expectation(lambda r: 2.0 * math.sqrt(r) / (1.0 + r) - 1.0, sigma)
    assert float(il.expected_il_v2(sigma)) == pytest.approx(reference, rel=1e-8, abs=1e-13)


def test_expected_loss_small_moves_and_horizon() -> None:
    # second-order expansion: 1/cosh(x/2) - 1 = -x^2/8 + 5 x^4 / 384 - ...
    s = 0.05
    assert float(il.expected_il_v2(s)) == pytest.approx(-(s**2) / 8 + 5 * 3 * s**4 / 384, rel=1e-6)
    # a horizon of t years is a volatility of sigma sqrt(t)
    assert float(il.expected_il_v2(0.8, years=0.25)) == pytest.approx(
        float(il.expected_il_v2(0.4)), rel=1e-12
    )
    assert float(il.expected_il_v2(0.0)) == 0.0
    assert math.isnan(float(il.expected_il_v2(math.nan)))
    values = il.expected_il_v2(np.array([0.1, 0.5, 1.0, 2.0]))
    assert np.all(np.diff(values) < 0)  # more volatility, more loss
    assert np.all(values > -1.0)


def test_hand_computed_points_of_the_closed_forms() -> None:
    # d = 4: 2 * 2 / 5 - 1 = -0.2; d = 2: 2 sqrt 2 / 3 - 1
    assert il.il_v2([4.0, 2.0, 1.0]) == pytest.approx([-0.2, 2 * math.sqrt(2) / 3 - 1, 0.0])
    # v3 on [0.25, 4] at d = 4 (the top of the range): hodl = 1 + 4 - 0.5 - 2 = 2.5,
    # value 2 sqrt(4) - 1 - 4 = -1 -> -0.4
    assert float(il.il_v3(4.0, 0.25, 4.0)) == pytest.approx(-0.4)
    with pytest.raises(ConfigError):
        il.il_v3(1.0, 1.2, 2.0)
    with pytest.raises(DataError):
        il.il_v2(-1.0)


@pytest.mark.parametrize(("sigma", "lower", "upper"), [(0.5, 0.5, 2.0), (1.0, 0.7, 1.3)])
def test_expected_concentrated_loss_equals_the_integrated_closed_form(
    sigma: float, lower: float, upper: float
) -> None:
    def payoff(r: float) -> float:
        return float(il.il_v3(r, lower, upper))

    lo, hi = math.log(lower), math.log(upper)

    def integrand(x: float) -> float:
        return payoff(math.exp(x)) * math.exp(-0.5 * (x / sigma) ** 2)

    value, _ = quad(integrand, -12 * sigma, 12 * sigma, limit=400, points=[lo, 0.0, hi])
    reference = value / (sigma * math.sqrt(2.0 * math.pi))
    assert il.expected_il_v3(sigma, lower, upper) == pytest.approx(reference, rel=1e-7)
    # a range concentrates the loss: worse than the full-range position
    assert il.expected_il_v3(sigma, lower, upper) < float(il.expected_il_v2(sigma))


def test_a_very_wide_range_is_the_constant_product() -> None:
    assert il.expected_il_v3(0.5, 1e-9, 1e9) == pytest.approx(
        float(il.expected_il_v2(0.5)), rel=1e-3
    )


def test_pair_and_basket_volatility() -> None:
    # hand: 0.8^2 + 0.06^2 - 2 * 0 = 0.6436
    assert float(il.pair_volatility(0.8, 0.06, 0.0)) == pytest.approx(math.sqrt(0.6436))
    # identical, perfectly correlated assets: no relative move
    assert float(il.pair_volatility(0.9, 0.9, 1.0)) == 0.0
    # a basket of two is exactly the pair
    assert il.basket_volatility([0.7, 1.2], [[1, 0.5], [0.5, 1]]) == pytest.approx(
        float(il.pair_volatility(0.7, 1.2, 0.5))
    )
    # three independent tokens of volatility s: 4 (s^2 - s^2 / 3) = 8 s^2 / 3
    s = 0.9
    assert il.basket_volatility([s, s, s], np.eye(3).tolist()) == pytest.approx(
        math.sqrt(8 * s * s / 3)
    )
    with pytest.raises(DataError):
        il.basket_volatility([0.5], [[1.0]])
