"""Sustainability score (0-100, higher is better): will this yield still be there?

Factors and their maximum points (they sum to 100; unknown inputs get the stated
neutral or cautious value, never a bonus):

==================  ====  ==========================================================
real_yield_share     40   share of the APY that is real (fees, interest, inflation-
                          adjusted staking); unknown split counts as 0; APY 0 -> 20
yield_stability      15   15 x (1 - min(1, sigma / mu)); unknown -> 7.5
apy_vs_30d_mean      10   10 x (1 - min(1, |apy / 30-day mean - 1|)); unknown -> 5
tvl_size             15   15 x position of log10(TVL) between $100k and $10B; unknown -> 0
tvl_trend             5   5 x clip(0.5 + 30-day TVL change, 0, 1); unknown -> 2.5
reward_dilution      15   15 x (1 - share of the APY expected to vanish with emissions)
==================  ====  ==========================================================

Directions (tested with hypothesis): a larger emission share never raises the score;
more volatility never raises it; more TVL never lowers it.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from realyield.scoring.realyield import Array

MAX_POINTS: Final = {
    "real_yield_share": 40.0,
    "yield_stability": 15.0,
    "apy_vs_30d_mean": 10.0,
    "tvl_size": 15.0,
    "tvl_trend": 5.0,
    "reward_dilution": 15.0,
}
FactorColumns = dict[str, tuple[Array, Array]]


def _ratio(num: Array, den: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(den > 0, num / den, np.nan)


def sustainability_kernel(
    apy: Array,
    real_base: Array,
    apy_reward: Array,
    split_known: np.ndarray,
    retention: Array,
    mu: Array,
    sigma: Array,
    mean_30d: Array,
    std_30d: Array,
    tvl_usd: Array,
    tvl_change_30d: Array,
) -> FactorColumns:
    """Per factor: (input value, effect in points) arrays. Pure numpy, NaN = unknown."""
    share = np.where(split_known, np.clip(_ratio(real_base, apy), 0.0, 1.0), 0.0)
    share = np.where(split_known & (apy == 0), np.nan, share)
    real_effect = np.where(np.isnan(share), 20.0, 40.0 * np.nan_to_num(share))

    cv = _ratio(sigma, mu)
    cv = np.where(np.isnan(cv), _ratio(std_30d, mean_30d), cv)
    stability = np.where(np.isnan(cv), 7.5, 15.0 * (1.0 - np.clip(cv, 0.0, 1.0)))

    deviation = np.abs(_ratio(apy, mean_30d) - 1.0)
    vs_mean = np.where(np.isnan(deviation), 5.0, 10.0 * (1.0 - np.clip(deviation, 0.0, 1.0)))

    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.clip((np.log10(tvl_usd) - 5.0) / 5.0, 0.0, 1.0)
    size = np.where(np.isnan(tvl_usd), 0.0, 15.0 * np.nan_to_num(depth))
    trend = np.where(
        np.isnan(tvl_change_30d), 2.5, 5.0 * np.clip(0.5 + np.nan_to_num(tvl_change_30d), 0.0, 1.0)
    )

    emission_share = np.where(split_known, np.clip(_ratio(apy_reward, apy), 0.0, 1.0), 1.0)
    emission_share = np.nan_to_num(emission_share)  # APY 0: nothing to vanish
    vanishing = emission_share * (1.0 - retention)
    dilution = 15.0 * (1.0 - vanishing)
    return {
        "real_yield_share": (share, real_effect),
        "yield_stability": (cv, stability),
        "apy_vs_30d_mean": (deviation, vs_mean),
        "tvl_size": (tvl_usd, size),
        "tvl_trend": (tvl_change_30d, trend),
        "reward_dilution": (vanishing, dilution),
    }


def _pct(value: float) -> str:
    return f"{value:.0%}"


def explain(name: str, value: float, effect: float) -> str:
    """One line saying what the factor's value means."""
    unknown = value != value  # NaN
    if name == "real_yield_share":
        return (
            "APY is 0 or its split is unknown: neutral"
            if unknown
            else f"{_pct(value)} of the APY is real (fees, interest, staking net of inflation)"
        )
    if name == "yield_stability":
        return (
            "no history to judge stability: half credit"
            if unknown
            else f"APY varies by {_pct(value)} of its mean (sigma / mu); steadier scores higher"
        )
    if name == "apy_vs_30d_mean":
        return (
            "no 30-day mean known: half credit"
            if unknown
            else f"today's APY is {_pct(value)} away from its 30-day mean"
        )
    if name == "tvl_size":
        return (
            "TVL unknown: no credit for depth"
            if unknown
            else f"TVL ${value:,.0f}: deeper pools hold their yield better"
        )
    if name == "tvl_trend":
        return "TVL trend unknown: neutral" if unknown else f"TVL changed {value:+.0%} over 30 days"
    if name == "reward_dilution":
        return (
            f"{_pct(value)} of the APY is emissions expected to vanish with the reward "
            "token's dilution and price"
        )
    raise KeyError(name)
