"""What the source's own data says about a yield beyond its APY: trading volume, the fee
APY that volume can pay, a rate frozen for a month, the source's forecast.

Why: a dead pool can keep publishing a rate. Curve's pool of Iron Bank's frozen tokens
showed 44.91% on 2025-08-31 with zero volume over 1 and 7 days and DeFiLlama's own
prediction "Down, 98%"; a volatile pair on PancakeSwap showed the same 15.20% for 30
days. These kernels turn DeFiLlama's fields (``volumeUsd1d/7d``, ``poolMeta``'s fee
tier, ``apyPct30D``, ``apyMean30d``, ``predictions``) into numbers the screens and the
sustainability score read. Pure numpy on columns; NaN = unknown.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import numpy as np

from realyield.scoring.realyield import Array

#: The highest common AMM fee tier, percent of the traded amount: with an unknown tier,
#: the volume is charged this, so a pool is only doubted when even 1% cannot pay it.
FEE_TIER_CEILING_PCT: Final = 1.0
#: A rate is frozen when it has not moved over a window this long with this many points.
FROZEN_MIN_OBS: Final = 30
_FEE_TIER = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def fee_tier_pct(pool_meta: object) -> float:
    """The fee tier in percent from DeFiLlama's ``poolMeta`` (``"0.3%"``, ``"CL200 -
    0.05%"``), NaN when it names none (the last percentage wins)."""
    if not isinstance(pool_meta, str):
        return float("nan")
    return _fee_tier(pool_meta)


@functools.lru_cache(maxsize=4096)
def _fee_tier(pool_meta: str) -> float:
    """``fee_tier_pct`` of a text (cached: a universe repeats a few hundred of them)."""
    found = _FEE_TIER.findall(pool_meta)
    if not found:
        return float("nan")
    tier = float(found[-1])
    return tier if 0 < tier <= 10 else float("nan")


def implied_fee_apy(volume_1d: Array, volume_7d: Array, tier_pct: Array, tvl_usd: Array) -> Array:
    """The fee APY (percent) the traded volume pays liquidity: ``daily volume x 365 x fee
    tier / TVL``, the daily volume being the larger of the last day's and the 7-day
    average (a lenient reading). Unknown tier: ``FEE_TIER_CEILING_PCT``. NaN when no
    volume or TVL is known."""
    daily = np.fmax(volume_1d, volume_7d / 7.0)
    tier = np.where(np.isnan(tier_pct), FEE_TIER_CEILING_PCT, tier_pct)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(tvl_usd > 0, daily * 365.0 * tier / tvl_usd, np.nan)


def fee_coverage(apy_base: Array, implied: Array) -> Array:
    """How much of the reported fee APY the volume explains, in [0, 1]; NaN when unknown
    or when there is no fee APY to explain."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(apy_base > 0, implied / apy_base, np.nan)
    return np.where(np.isnan(ratio), np.nan, np.clip(ratio, 0.0, 1.0))


def zero_volume(volume_1d: Array, volume_7d: Array) -> np.ndarray:
    """True where the source reports no trade over 7 days (or, without a 7-day figure,
    over the last day)."""
    return np.asarray(np.where(np.isnan(volume_7d), volume_1d == 0.0, volume_7d == 0.0))


def p_down(predicted_class: object, probability: object) -> float:
    """DeFiLlama's prediction as the probability that the APY falls (fraction): its
    ``predictedProbability`` (percent) for class ``Down``, one minus it for
    ``Stable/Up``; NaN when absent or unreadable."""
    if not isinstance(probability, int | float) or not 0 <= probability <= 100:
        return float("nan")
    if predicted_class == "Down":
        return float(probability) / 100.0
    if isinstance(predicted_class, str) and predicted_class.lower().startswith("stable"):
        return 1.0 - float(probability) / 100.0
    return float("nan")


def frozen_from_history(apy: Array, std_30d: Array, n_obs: Array) -> np.ndarray:
    """A rate above 0 whose stored history has not moved over the last 30 days."""
    return np.asarray((apy > 0) & (std_30d == 0.0) & (n_obs >= FROZEN_MIN_OBS))


def frozen_from_source(apy: Array, pct_30d: Array, mean_30d: Array, count: Array) -> np.ndarray:
    """A rate above 0 the source says has not moved: 0% change over 30 days and equal to
    its own 30-day mean (DeFiLlama's ``apyPct30D`` and ``apyMean30d``)."""
    with np.errstate(invalid="ignore"):
        same = np.abs(apy - mean_30d) <= 1e-9 * np.fmax(1.0, np.abs(apy))
        return np.asarray((apy > 0) & (pct_30d == 0.0) & same & (count >= FROZEN_MIN_OBS))
