"""Sustainability score (0-100, higher is better): will this yield still be there?

Factors and their maximum points (they sum to 100; unknown inputs get the stated
neutral or cautious value, never a bonus):

==================  ====  ==========================================================
real_yield_share     35   share of the APY that is real (fees and interest net of
                          expected impermanent loss, inflation-adjusted staking);
                          unknown split counts as 0; APY 0 -> 17.5
yield_stability      15   15 x (1 - min(1, sigma / mu)); unknown -> 7.5; a market-set
                          rate frozen for 30 days -> 0 (a stale feed, not stability)
apy_vs_30d_mean      10   10 x (1 - min(1, |apy / 30-day mean - 1|)); unknown -> 5;
                          frozen -> 0
tvl_size             15   15 x position of log10(TVL) between $100k and $10B; unknown -> 0
tvl_trend             5   5 x clip(0.5 + 30-day TVL change, 0, 1); unknown -> 2.5
reward_dilution      10   10 x (1 - share of the APY expected to vanish with emissions)
fee_evidence          5   liquidity pools: 5 x the share of the fee APY that the traded
                          volume x fee tier / TVL can pay (``scoring.signals``); zero
                          volume -> 0; volume unknown -> 2.5; not a pool with fees -> 5
source_outlook        5   5 x (1 - the source's predicted probability that the APY
                          falls: DeFiLlama's ``predictions``); unknown -> 2.5
==================  ====  ==========================================================

A frozen rate loses 25 points: it cannot grade A (80) whatever else it shows.

Directions (tested with hypothesis): a larger emission share never raises the score;
more volatility never raises it; more TVL never lowers it.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from realyield.scoring.realyield import Array

MAX_POINTS: Final = {
    "real_yield_share": 35.0,
    "yield_stability": 15.0,
    "apy_vs_30d_mean": 10.0,
    "tvl_size": 15.0,
    "tvl_trend": 5.0,
    "reward_dilution": 10.0,
    "fee_evidence": 5.0,
    "source_outlook": 5.0,
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
    *,
    frozen: np.ndarray | None = None,
    fee_applies: np.ndarray | None = None,
    fee_coverage: Array | None = None,
    p_down: Array | None = None,
) -> FactorColumns:
    """Per factor: (input value, effect in points) arrays. Pure numpy, NaN = unknown.

    ``frozen`` marks market-set rates unchanged for 30 days; ``fee_applies`` the pools
    whose base APY is trading fees, with ``fee_coverage`` the share of it the volume
    pays (0 for no volume, NaN unknown); ``p_down`` the source's probability that the
    APY falls. Left out, they are: not frozen, no fees to check, outlook unknown.
    """
    n = apy.size
    frozen = np.zeros(n, dtype=bool) if frozen is None else frozen
    fee_applies = np.zeros(n, dtype=bool) if fee_applies is None else fee_applies
    fee_coverage = np.full(n, np.nan) if fee_coverage is None else fee_coverage
    p_down = np.full(n, np.nan) if p_down is None else p_down
    m = MAX_POINTS
    share = np.where(split_known, np.clip(_ratio(real_base, apy), 0.0, 1.0), 0.0)
    share = np.where(split_known & (apy == 0), np.nan, share)
    full = m["real_yield_share"]
    real_effect = np.where(np.isnan(share), full / 2.0, full * np.nan_to_num(share))

    cv = _ratio(sigma, mu)
    cv = np.where(np.isnan(cv), _ratio(std_30d, mean_30d), cv)
    stability = np.where(np.isnan(cv), 7.5, 15.0 * (1.0 - np.clip(cv, 0.0, 1.0)))
    stability = np.where(frozen, 0.0, stability)
    cv = np.where(frozen, 0.0, cv)

    deviation = np.abs(_ratio(apy, mean_30d) - 1.0)
    vs_mean = np.where(np.isnan(deviation), 5.0, 10.0 * (1.0 - np.clip(deviation, 0.0, 1.0)))
    vs_mean = np.where(frozen, 0.0, vs_mean)
    deviation = np.where(frozen, 0.0, deviation)

    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.clip((np.log10(tvl_usd) - 5.0) / 5.0, 0.0, 1.0)
    size = np.where(np.isnan(tvl_usd), 0.0, 15.0 * np.nan_to_num(depth))
    trend = np.where(
        np.isnan(tvl_change_30d), 2.5, 5.0 * np.clip(0.5 + np.nan_to_num(tvl_change_30d), 0.0, 1.0)
    )

    emission_share = np.where(split_known, np.clip(_ratio(apy_reward, apy), 0.0, 1.0), 1.0)
    emission_share = np.nan_to_num(emission_share)  # APY 0: nothing to vanish
    vanishing = emission_share * (1.0 - retention)
    dilution = m["reward_dilution"] * (1.0 - vanishing)

    fee_value = np.where(fee_applies, fee_coverage, np.nan)
    fee_effect = np.where(
        fee_applies,
        np.where(np.isnan(fee_coverage), 2.5, 5.0 * np.clip(np.nan_to_num(fee_coverage), 0, 1)),
        5.0,
    )
    outlook = np.where(np.isnan(p_down), 2.5, 5.0 * (1.0 - np.clip(np.nan_to_num(p_down), 0, 1)))
    return {
        "real_yield_share": (share, real_effect),
        "yield_stability": (cv, stability),
        "apy_vs_30d_mean": (deviation, vs_mean),
        "tvl_size": (tvl_usd, size),
        "tvl_trend": (tvl_change_30d, trend),
        "reward_dilution": (vanishing, dilution),
        "fee_evidence": (fee_value, fee_effect),
        "source_outlook": (p_down, outlook),
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
    if name in ("yield_stability", "apy_vs_30d_mean") and value == 0 and effect == 0:
        return "the rate has not moved for 30 days: a stale feed, not a stable yield"
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
    if name == "fee_evidence":
        if unknown:
            return (
                "not a pool paid by trading fees: nothing to check"
                if effect >= MAX_POINTS["fee_evidence"]
                else "trading volume unknown: half credit"
            )
        if value == 0:
            return "no trading volume: a fee APY with no trades to pay it"
        return f"the traded volume x fee tier / TVL pays {_pct(value)} of the fee APY"
    if name == "source_outlook":
        return (
            "no forecast from the source: neutral"
            if unknown
            else f"the source predicts a {_pct(value)} chance that the APY falls"
        )
    raise KeyError(name)
