"""Impermanent loss of AMM liquidity positions: closed forms and position value paths.

Why closed forms: a constant-product pool (Uniswap v2) with arbitrageurs keeping its
price equal to the market holds ``sqrt(k / p)`` of token A and ``sqrt(k p)`` of token B,
so a share's value depends only on the price ratio and not on the path. Its value
against simply holding the deposited tokens is ``2 sqrt(d) / (1 + d)``, ``d`` being the
relative move of A's price in B. A concentrated position (Uniswap v3) on a range
``[p_a, p_b]`` behaves like a constant-product pool on *virtual* reserves inside the
range and holds only one token outside it. The brute-force pool simulations in the
tests check these formulas from the swap rule alone.

Prices here are of token A in units of token B (for USD values multiply by B's USD
price); ratios are relative to the price at deposit (``d = p / p0``), and ranges are
given relative to the price at deposit too (``lower = p_a / p0``, ``upper = p_b / p0``).
Every function accepts numpy arrays and broadcasts. The closed forms ``il_v2`` and
``il_v3`` live in ``scoring.impermanent_loss`` (scoring nets expected loss out of fee
APYs and comes before backtest in the flow) and are re-exported here.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from realyield.core.errors import DataError
from realyield.scoring.impermanent_loss import check_range as _range
from realyield.scoring.impermanent_loss import check_ratios as _ratio
from realyield.scoring.impermanent_loss import il_v2, il_v3

Array = NDArray[np.float64]
__all__ = [
    "constant_mean_value",
    "hodl_value",
    "il_v2",
    "il_v3",
    "lp_price_index",
    "lp_value_v2",
    "v3_amounts",
    "v3_price_index",
    "v3_value",
]


def lp_value_v2(d: ArrayLike) -> Array:
    """Value of a constant-product share relative to its deposit, in token B:
    ``sqrt(d)`` (the deposit was half A, half B: holding it would be ``(1 + d) / 2``)."""
    return np.asarray(np.sqrt(_ratio(d)))


def v3_amounts(price: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> tuple[Array, Array]:
    """Token amounts (A, B) of one unit of concentrated liquidity on ``[lower, upper]`` at
    ``price`` (all in B per A): all A below the range, all B above it."""
    p = np.asarray(price, dtype=float)
    sa, sb = np.sqrt(np.asarray(lower, dtype=float)), np.sqrt(np.asarray(upper, dtype=float))
    sp = np.clip(np.sqrt(p), sa, sb)
    return np.asarray(1.0 / sp - 1.0 / sb), np.asarray(sp - sa)


def v3_value(price: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> Array:
    """Value in B of one unit of concentrated liquidity on ``[lower, upper]`` at ``price``."""
    x, y = v3_amounts(price, lower, upper)
    return np.asarray(x * np.asarray(price, dtype=float) + y)


def constant_mean_value(relatives: ArrayLike, weights: ArrayLike | None = None) -> Array:
    """Value of a constant-mean pool share (Balancer; equal weights generalise v2) from
    each token's price relative to deposit, in the pool's numeraire: the weighted
    geometric mean ``prod(rel_i ** w_i)``. ``relatives`` has the tokens on the last axis.

    Raises:
        DataError: non-positive relatives or weights that do not sum to 1.
    """
    rel = _ratio(relatives)
    k = rel.shape[-1]
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (k,) or np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-9:
        raise DataError(f"pool weights must be {k} positive numbers summing to 1, got {w}")
    return np.asarray(np.exp(np.log(rel) @ w))


def lp_price_index(prices: ArrayLike, weights: ArrayLike | None = None) -> Array:
    """USD value path of a constant-mean pool share (one row per day, one column per
    token's USD price), normalised to 1 on the first day. Path independent: the ratio
    between any two days is the share's growth between them, so it is a price index
    that can be held, bought and sold at any date like a token.

    Raises:
        DataError: non-positive prices.
    """
    p = _ratio(prices)
    return constant_mean_value(p / p[0])


def v3_price_index(
    price_a: ArrayLike,
    price_b: ArrayLike,
    lower: float,
    upper: float,
    *,
    recentre: ArrayLike | None = None,
    swap_cost: float = 0.0,
) -> tuple[Array, Array]:
    """USD value path (normalised to 1 on day 0) of a concentrated position on a range
    ``[lower, upper]`` relative to the price at entry, re-centred on the days flagged in
    ``recentre`` (the position is withdrawn and redeposited around that day's price,
    realising its loss). A re-centring swaps the tokens back to the new range's mix;
    ``swap_cost`` (fraction of the value swapped) is charged on that swap.

    Returns the value index and a boolean array of the days the price sat outside the
    range (the position earned no fees there: callers set its income to 0).

    Raises:
        ConfigError: a range that does not contain the entry price.
        DataError: non-positive prices or arrays of different lengths.
    """
    lo, hi = _range(lower, upper)
    pa, pb = _ratio(price_a), _ratio(price_b)
    if pa.shape != pb.shape or pa.ndim != 1:
        raise DataError("price_a and price_b must be 1-d arrays of the same length")
    n = pa.size
    flags = np.zeros(n, dtype=bool) if recentre is None else np.asarray(recentre, dtype=bool)
    ratio = pa / pb
    value = np.ones(n)
    outside = np.zeros(n, dtype=bool)
    starts = [0, *[int(i) for i in np.flatnonzero(flags) if i > 0]]
    level = 1.0
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else n - 1
        p0 = ratio[s]
        seg = slice(s, e + 1)
        # one unit of liquidity on [lo p0, hi p0], valued in USD through B's price
        v = v3_value(ratio[seg], lo * p0, hi * p0) * pb[seg]
        value[seg] = level * v / v[0]
        # a re-centre day's fees were earned on the old range: keep its flag
        days = slice(s + 1, e + 1)
        outside[days] = (ratio[days] < lo * p0) | (ratio[days] > hi * p0)
        if e > s and k + 1 < len(starts):
            # withdraw at e (old range), swap to the new range's mix, redeposit
            x_old, _ = v3_amounts(ratio[e], lo * p0, hi * p0)
            share_a_old = float(x_old * ratio[e] / v3_value(ratio[e], lo * p0, hi * p0))
            x_new, _ = v3_amounts(ratio[e], lo * ratio[e], hi * ratio[e])
            share_a_new = float(x_new * ratio[e] / v3_value(ratio[e], lo * ratio[e], hi * ratio[e]))
            level = float(value[e]) * (1.0 - swap_cost * abs(share_a_old - share_a_new))
    return value, outside


def hodl_value(relatives: ArrayLike, shares: ArrayLike | None = None) -> Array:
    """Value of simply holding the deposit: its tokens' relatives weighted by their share
    of the deposit's value (equal shares by default). Tokens on the last axis."""
    rel = _ratio(relatives)
    k = rel.shape[-1]
    s = np.full(k, 1.0 / k) if shares is None else np.asarray(shares, dtype=float)
    return np.asarray(rel @ s)
