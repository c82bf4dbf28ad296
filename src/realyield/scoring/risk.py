"""Risk score (0-100, higher is riskier): what can go wrong behind the number.

Factors and their maximum points (they sum to 100; unknown inputs are treated as risky):

=========================  ===  =====================================================
smart_contract.age           8  8 x (1 - age / 5 years); unknown -> 8
smart_contract.audits        5  5 / (1 + audits); unknown -> 5
smart_contract.pool_tvl      4  4 x position of log10(TVL) between $1B and $100k
smart_contract.exploits      4  2 per known exploit (max 2), halved after 2 years
smart_contract.layers        4  2 per extra contract layer (vaults, stacked yield)
counterparty                15  custodial 15; lending: over-collateralised 3,
                                under-collateralised 12, unknown 8; otherwise 0
impermanent_loss            15  single 0; correlated pair 3; volatile pair 12;
                                + up to 3 for a large 7-day IL
depeg                       12  riskiest pegged token held (stablecoin 4, synthetic
                                stablecoin 8, LST 5, LRT 8, wrapped 5) + 2 for two issuers
lockup                      10  10 x min(1, lock-up or unbonding days / 30)
slashing                     8  native/delegated stake with slashing 8, LST 4
chain.age                    6  6 x (1 - age / 5 years); unknown chain -> 6
chain.type                   4  L1 0, rollup 2, appchain 3, sidechain 4; unknown 2
chain.bridge                 3  assets mostly arrive through a bridge; unknown 3
chain.incidents              2  1 per major incident (halt, bridge hack), max 2; unknown 1
=========================  ===  =====================================================

Directions (tested): a longer lock-up never lowers risk; more exploits never lower it;
more audits never raise it; an older protocol or chain never raises it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from realyield.scoring.realyield import Array
from realyield.scoring.sustainability import FactorColumns

MAX_POINTS: Final = {
    "smart_contract.age": 8.0,
    "smart_contract.audits": 5.0,
    "smart_contract.pool_tvl": 4.0,
    "smart_contract.exploits": 4.0,
    "smart_contract.layers": 4.0,
    "counterparty": 15.0,
    "impermanent_loss": 15.0,
    "depeg": 12.0,
    "lockup": 10.0,
    "slashing": 8.0,
    "chain.age": 6.0,
    "chain.type": 4.0,
    "chain.bridge": 3.0,
    "chain.incidents": 2.0,
}
CHAIN_KIND_POINTS: Final = {"l1": 0.0, "rollup": 2.0, "appchain": 3.0, "sidechain": 4.0}
COUNTERPARTY_POINTS: Final = {
    "overcollateralized": 3.0,
    "undercollateralized": 12.0,
    "unknown": 8.0,
    "not_lending": 0.0,
}


def _age_points(age_years: Array, weight: float) -> Array:
    return np.where(
        np.isnan(age_years),
        weight,
        weight * np.clip(1.0 - np.nan_to_num(age_years) / 5.0, 0.0, 1.0),
    )


def risk_kernel(
    *,
    protocol_age_years: Array,
    audits: Array,
    tvl_usd: Array,
    exploits: Array,
    years_since_exploit: Array,
    layers: Array,
    collateral: Sequence[str],
    custodial: np.ndarray,
    exposure_multi: Array,
    correlated: Array,
    il_7d: Array,
    depeg_points: Array,
    lockup_days: Array,
    is_staking: np.ndarray,
    is_lst: np.ndarray,
    slashing: Array,
    chain_age_years: Array,
    chain_kind: Sequence[str],
    chain_bridge: Array,
    chain_incidents: Array,
) -> FactorColumns:
    """Per factor: (input value, effect in points) arrays. Pure numpy, NaN = unknown."""
    audit_pts = np.where(
        np.isnan(audits), 5.0, 5.0 / (1.0 + np.clip(np.nan_to_num(audits), 0, None))
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        shallow = np.clip((9.0 - np.log10(tvl_usd)) / 4.0, 0.0, 1.0)
    tvl_pts = np.where(np.isnan(tvl_usd), 4.0, 4.0 * np.nan_to_num(shallow, nan=1.0))
    recent = np.where(np.isnan(years_since_exploit) | (years_since_exploit <= 2.0), 1.0, 0.5)
    exploit_pts = np.where(
        np.isnan(exploits), 2.0, 2.0 * np.clip(np.nan_to_num(exploits), 0.0, 2.0) * recent
    )
    layer_pts = np.where(np.isnan(layers), 2.0, 2.0 * np.clip(np.nan_to_num(layers), 0.0, 2.0))

    counterparty = np.array([COUNTERPARTY_POINTS.get(c, 8.0) for c in collateral], dtype=float)
    counterparty = np.where(custodial, 15.0, counterparty)

    pair = np.where(np.isnan(correlated) | (correlated == 0.0), 12.0, 3.0)
    il_extra = 3.0 * np.clip(np.abs(np.nan_to_num(il_7d)) / 5.0, 0.0, 1.0)
    il_pts = np.where(
        exposure_multi == 1.0, pair + il_extra, np.where(np.isnan(exposure_multi), 6.0, 0.0)
    )

    lock_pts = 10.0 * np.clip(np.nan_to_num(lockup_days) / 30.0, 0.0, 1.0)

    slash_full = np.where(is_lst, 4.0, 8.0)
    slash_pts = np.where(
        is_staking | is_lst,
        np.where(np.isnan(slashing), slash_full / 2.0, slash_full * np.nan_to_num(slashing)),
        0.0,
    )

    kind_pts = np.array([CHAIN_KIND_POINTS.get(k, 2.0) for k in chain_kind], dtype=float)
    bridge_pts = np.where(np.isnan(chain_bridge), 3.0, 3.0 * np.nan_to_num(chain_bridge))
    incident_pts = np.where(
        np.isnan(chain_incidents), 1.0, np.clip(np.nan_to_num(chain_incidents), 0.0, 2.0)
    )
    return {
        "smart_contract.age": (protocol_age_years, _age_points(protocol_age_years, 8.0)),
        "smart_contract.audits": (audits, audit_pts),
        "smart_contract.pool_tvl": (tvl_usd, tvl_pts),
        "smart_contract.exploits": (exploits, exploit_pts),
        "smart_contract.layers": (layers, layer_pts),
        "counterparty": (
            np.asarray([c == "undercollateralized" for c in collateral], float),
            counterparty,
        ),
        "impermanent_loss": (il_7d, il_pts),
        "depeg": (depeg_points, depeg_points.copy()),
        "lockup": (lockup_days, lock_pts),
        "slashing": (slashing, slash_pts),
        "chain.age": (chain_age_years, _age_points(chain_age_years, 6.0)),
        "chain.type": (kind_pts, kind_pts),
        "chain.bridge": (chain_bridge, bridge_pts),
        "chain.incidents": (chain_incidents, incident_pts),
    }
