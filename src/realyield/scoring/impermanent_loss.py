"""Impermanent loss: the closed forms, and the expected loss a liquidity position pays
for a pair's volatility.

Why here: scoring nets expected impermanent loss out of a volatile pair's fee APY, and
the backtest replays positions with the same formulas; scoring comes before backtest in
the flow, so the pure formulas live here and ``backtest.impermanent_loss`` imports them.

Closed forms (prices of token A in token B, relative to the deposit: ``d = p / p0``):

* constant product (Uniswap v2, a 50/50 Balancer pool): ``IL(d) = 2 sqrt(d) / (1 + d) - 1``,
  which is ``1 / cosh(x / 2) - 1`` in the log ratio ``x = ln d``;
* concentrated liquidity on a range ``[lower, upper]`` (relative to the entry price):
  ``(2 sqrt(d) - 1 - d) / (1 + d - sqrt(lower) - d / sqrt(upper))`` inside the range, all
  A below it and all B above it (``il_v3``).

Expected loss over a horizon of ``years``: the log price ratio is taken as
``N(0, sigma_rel^2 years)`` with ``sigma_rel^2 = sigma_a^2 + sigma_b^2 - 2 rho sigma_a
sigma_b`` (the ratio's own volatility from the two assets' annualised volatilities and
their correlation). A zero median is no view on which asset will outperform; the loss
is even in the log ratio, so any drift only adds to it: the estimate is a floor. The
expectation is a Gauss-Hermite sum (128 nodes), within 1e-9 (relative) of the integral
for ratio volatilities up to 300% a year; the tests check it against numerical integration.

A pool of k > 2 equally weighted tokens (constant mean) is given the pair volatility
whose small-move loss matches its own, ``sigma_eff^2 = 4 (sum w sigma_i^2 - w' C w)``:
the gap between the tokens' average variance and the basket's, which for k = 2 is
exactly ``sigma_rel^2``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from realyield.core.errors import ConfigError, DataError

Array = NDArray[np.float64]

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(128)  # weight exp(-x^2 / 2)
_WEIGHTS = _WEIGHTS / math.sqrt(2.0 * math.pi)  # now sums to 1: E[f(Z)], Z ~ N(0, 1)

#: Annualised volatility by asset category when no price history is stored: medians of
#: rolling 365-day realised volatility of CoinGecko daily closes, 2019-01 to 2023-08
#: (bitcoin 0.73; ethereum 0.97, staked-ether 0.88; bnb, cardano, polkadot, tron,
#: tezos, solana, avalanche, cosmos, near, algorand, matic 0.98-1.48, median 1.2;
#: lido-dao 1.72; usd-coin, tether, dai 0.05-0.06 (mostly the feed's noise)).
FALLBACK_VOLATILITY: Final = {
    "stablecoin": 0.06,
    "btc": 0.73,
    "eth": 0.97,
    "l1": 1.2,
    "defi": 1.5,
    "unknown": 1.5,
}
#: Correlation of two volatile assets' daily returns when their histories do not say:
#: the median correlation of the same coins with ethereum over 2019-01 to 2023-08
#: (0.56 cosmos to 0.83 bitcoin). A stablecoin is taken as uncorrelated with anything.
FALLBACK_CORRELATION: Final = 0.65
STABLE_CORRELATION: Final = 0.0


def check_ratios(d: ArrayLike) -> Array:
    """``d`` as a float array; raises DataError unless every ratio is positive and finite."""
    out = np.asarray(d, dtype=float)
    if np.any(~np.isfinite(out)) or np.any(out <= 0):
        raise DataError("price ratios must be positive finite numbers (d = p / p0 > 0)")
    return out


def check_range(lower: float, upper: float) -> tuple[float, float]:
    """The range as floats; raises ConfigError unless 0 < lower < 1 < upper < inf."""
    if not (0 < lower < 1 < upper and np.isfinite(upper)):
        raise ConfigError(
            f"a concentrated range needs 0 < lower < 1 < upper relative to the entry "
            f"price, got lower={lower}, upper={upper}"
        )
    return float(lower), float(upper)


def il_v2(d: ArrayLike) -> Array:
    """Impermanent loss of a 50/50 constant-product position: ``2 sqrt(d) / (1 + d) - 1``
    (0 at d = 1, about -5.7% at d = 2 or 0.5, -20% at d = 4).

    Raises:
        DataError: a ratio that is not a positive finite number.
    """
    r = check_ratios(d)
    return np.asarray(2.0 * np.sqrt(r) / (1.0 + r) - 1.0)


def il_v3(d: ArrayLike, lower: float, upper: float) -> Array:
    """Impermanent loss of a concentrated position opened at ratio 1 on the range
    ``[lower, upper]`` (relative to the entry price), at price ratio ``d``.

    Closed form inside the range: ``(2 sqrt(d) - 1 - d) / (1 + d - sqrt(lower) -
    d / sqrt(upper))``; outside it the position is all A (below) or all B (above) and
    the loss keeps growing against holding the deposit. A full range (lower -> 0,
    upper -> inf) gives back the v2 formula.

    Raises:
        ConfigError: a range that does not contain the entry price.
        DataError: a ratio that is not a positive finite number.
    """
    lo, hi = check_range(lower, upper)
    r = check_ratios(d)
    sa, sb = np.sqrt(lo), np.sqrt(hi)
    hodl = 1.0 + r - sa - r / sb  # x0 * d + y0 with x0 = 1 - 1/sb, y0 = 1 - sa
    inside = (2.0 * np.sqrt(r) - 1.0 - r) / hodl
    below = r * (1.0 / sa - 1.0 / sb) / hodl - 1.0
    above = (sb - sa) / hodl - 1.0
    return np.asarray(np.where(r < lo, below, np.where(r > hi, above, inside)))


def expected_il_v2(sigma_rel: ArrayLike, years: float = 1.0) -> Array:
    """Expected constant-product loss (a fraction <= 0) over ``years`` for a log price
    ratio ``N(0, sigma_rel^2 years)``: ``E[1 / cosh(X / 2)] - 1``. NaN stays NaN.

    About ``-sigma^2 years / 8`` for small moves (-0.49% at sigma 20%, -9.8% at 100%).
    """
    s = np.asarray(sigma_rel, dtype=float) * math.sqrt(years)
    x = np.abs(s)[..., None] * _NODES
    with np.errstate(over="ignore"):  # cosh of a huge move is inf: its term is 0
        return np.asarray((1.0 / np.cosh(0.5 * x)) @ _WEIGHTS - 1.0)


def expected_il_v3(sigma_rel: float, lower: float, upper: float, years: float = 1.0) -> float:
    """Expected loss of a concentrated position on ``[lower, upper]`` (relative to the
    entry price) over ``years``, for a log price ratio ``N(0, sigma_rel^2 years)``.

    The payoff has kinks at the range's ends, so the expectation is integrated piecewise
    (Gauss-Legendre on the log ratio inside, below and above the range, to 10 standard
    deviations).

    Raises:
        ConfigError: a range that does not contain the entry price.
    """
    lo, hi = check_range(lower, upper)
    s = abs(float(sigma_rel)) * math.sqrt(years)
    if s == 0.0:
        return 0.0
    edges = sorted({-10.0 * s, *(e for e in (math.log(lo), math.log(hi)) if abs(e) < 10 * s)})
    edges.append(10.0 * s)
    nodes, weights = np.polynomial.legendre.leggauss(96)
    total = 0.0
    for a, b in itertools.pairwise(edges):
        x = 0.5 * (b - a) * nodes + 0.5 * (a + b)
        density = np.exp(-0.5 * (x / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
        total += 0.5 * (b - a) * float(np.sum(weights * density * il_v3(np.exp(x), lo, hi)))
    return total


def pair_volatility(sigma_a: ArrayLike, sigma_b: ArrayLike, rho: ArrayLike) -> Array:
    """Annualised volatility of the ratio of two assets' prices:
    ``sqrt(sigma_a^2 + sigma_b^2 - 2 rho sigma_a sigma_b)`` (never negative)."""
    a, b, r = (np.asarray(v, dtype=float) for v in (sigma_a, sigma_b, rho))
    return np.asarray(np.sqrt(np.maximum(a * a + b * b - 2.0 * r * a * b, 0.0)))


def basket_volatility(sigmas: Sequence[float], corr: Sequence[Sequence[float]]) -> float:
    """The pair volatility equivalent to an equally weighted pool of ``len(sigmas)``
    tokens (module docstring): ``sqrt(4 (sum w s_i^2 - w' C w))``; for two tokens,
    exactly ``pair_volatility``.

    Raises:
        DataError: fewer than two tokens or a correlation matrix of the wrong shape.
    """
    s = np.asarray(sigmas, dtype=float)
    c = np.asarray(corr, dtype=float)
    k = s.size
    if k < 2 or c.shape != (k, k):
        raise DataError(f"a pool needs >= 2 tokens and a {k}x{k} correlation matrix")
    w = np.full(k, 1.0 / k)
    cov = c * np.outer(s, s)
    return math.sqrt(max(4.0 * (float(w @ (s * s)) - float(w @ cov @ w)), 0.0))
