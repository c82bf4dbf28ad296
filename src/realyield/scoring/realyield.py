"""Real yield: how much of a headline APY is paid from fees, interest and security
rewards, and what the emissions part is likely worth.

* Fees and interest (``apy_base``) are paid in the deposited asset: they are real.
* Staking rewards are new supply: a staker's share of the network grows only by the
  inflation-adjusted rate ``(1 + r) / (1 + i) - 1`` (nominal rate r, supply inflation
  i); that is the real part of a staking yield.
* Emissions (``apy_reward``) are paid in a reward token whose value the emissions
  themselves dilute, and a high emission yield draws in capital that competes it away.
  We keep ``retention = 1 / (1 + d) * (1 + trend) * 1 / (1 + e)`` of them, with d the
  reward token's annual supply inflation, trend its annualised price change over the
  last 90 days (negative trends only, floored at -100%) and e the emission APY itself
  as a fraction (a 10% emission keeps 91% of itself, a 265% one 27%). When nothing is
  known about the reward token, ``DEFAULT_REWARD_RETENTION`` (0.5) replaces the first
  two terms: half of an unknown emission is counted, a deliberate haircut for yield
  that usually fades.

* A volatile pair's fees are real only net of the impermanent loss the pair's price
  moves are expected to cost (``scoring.pair_risk``): that loss comes off the base.

The sustainable APY = real base + emissions x retention (percent). Pure kernels on
numpy arrays; NaN means unknown.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

DEFAULT_REWARD_RETENTION: Final = 0.5


def real_staking_rate_pct(nominal_pct: Array, inflation: Array) -> Array:
    """Inflation-adjusted rate in percent: ((1 + r) / (1 + i) - 1) * 100.

    ``nominal_pct`` in percent, ``inflation`` an annual fraction; NaN inflation leaves
    the nominal rate unchanged (unknown inflation cannot be removed).
    """
    real = ((1.0 + nominal_pct / 100.0) / (1.0 + inflation) - 1.0) * 100.0
    return np.where(np.isnan(inflation), nominal_pct, real)


def reward_retention(dilution: Array, trend: Array, apy_reward: Array) -> Array:
    """Fraction of emissions counted as sustainable, in [0, 1].

    ``dilution`` is the reward token's annual supply inflation (fraction, NaN unknown),
    ``trend`` its annualised price change (fraction, NaN unknown); only a falling price
    reduces retention. Both unknown -> ``DEFAULT_REWARD_RETENTION``. ``apy_reward`` (in
    percent) sets the competition term ``1 / (1 + apy_reward / 100)``.
    """
    known_d = ~np.isnan(dilution)
    known_t = ~np.isnan(trend)
    by_dilution = np.where(known_d, 1.0 / (1.0 + np.clip(np.nan_to_num(dilution), 0.0, None)), 1.0)
    by_trend = np.where(known_t, 1.0 + np.clip(np.nan_to_num(trend), -1.0, 0.0), 1.0)
    token = np.where(known_d | known_t, by_dilution * by_trend, DEFAULT_REWARD_RETENTION)
    competition = 1.0 / (1.0 + np.clip(np.nan_to_num(apy_reward), 0.0, None) / 100.0)
    return token * competition


def sustainable_apy(
    apy_base: Array,
    apy_reward: Array,
    is_staking: NDArray[np.bool_],
    staking_inflation: Array,
    reward_dilution: Array,
    reward_trend: Array,
    impermanent_loss: Array | None = None,
) -> tuple[Array, Array, Array]:
    """Return ``(real_base_pct, retained_reward_pct, sustainable_pct)``.

    Missing base or reward counts as 0 (an unknown split is handled by the caller,
    which passes the whole APY as reward: unknown is not assumed real).
    ``impermanent_loss`` (percent a year, <= 0; NaN or omitted = none) is the expected
    loss of a volatile pair: fees are real only net of it, so it comes off the real base
    (which can then be negative: fees that do not cover the loss).
    """
    base = np.nan_to_num(apy_base)
    reward = np.nan_to_num(apy_reward)
    real_base = np.where(is_staking, real_staking_rate_pct(base, staking_inflation), base)
    if impermanent_loss is not None:
        real_base = real_base + np.nan_to_num(impermanent_loss)
    retained = reward * reward_retention(reward_dilution, reward_trend, reward)
    return real_base, retained, real_base + retained
