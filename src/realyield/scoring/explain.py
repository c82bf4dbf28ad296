"""Turning factor columns into readable factors for one opportunity.

Kernels compute numbers for every opportunity at once; explanations (strings) are only
built here, for the opportunity a user asks about, so scoring 20,000 pools stays fast.
"""

from __future__ import annotations

import math

from realyield.scoring import sustainability
from realyield.scoring.factors import Factor
from realyield.scoring.inputs import ScoringInputs
from realyield.scoring.sustainability import FactorColumns


def _value(v: float) -> float | None:
    return None if v != v else round(float(v), 6)


def sustainability_factors(columns: FactorColumns, i: int) -> list[Factor]:
    """The sustainability factors of opportunity ``i``."""
    out = []
    for name, (values, effects) in columns.items():
        value = float(values[i])
        out.append(
            Factor(
                name,
                _value(value),
                float(effects[i]),
                sustainability.explain(name, value, float(effects[i])),
            )
        )
    return out


def _years(v: float, what: str) -> str:
    return f"{what} age unknown: treated as new" if math.isnan(v) else f"{what} live {v:.1f} years"


def risk_factors(x: ScoringInputs, columns: FactorColumns, i: int) -> list[Factor]:
    """The risk factors of opportunity ``i``, each with a one-line reason."""
    o = x.opportunities[i]
    text: dict[str, str] = {
        "smart_contract.age": _years(x.protocol_age_years[i], f"{o.protocol}"),
        "smart_contract.audits": (
            "no audit known" if math.isnan(x.audits[i]) else f"{x.audits[i]:.0f} public audit(s)"
        ),
        "smart_contract.pool_tvl": (
            "TVL unknown: treated as shallow"
            if math.isnan(x.tvl_usd[i])
            else f"pool TVL ${x.tvl_usd[i]:,.0f}: smaller pools are less battle-tested"
        ),
        "smart_contract.exploits": (
            "protocol not in the facts table: exploit history unknown"
            if math.isnan(x.exploits[i])
            else "no known exploit"
            if x.exploits[i] == 0
            else f"{x.exploits[i]:.0f} known exploit(s), last "
            f"{x.years_since_exploit[i]:.1f} years ago"
        ),
        "smart_contract.layers": (
            "contract layers unknown"
            if math.isnan(x.layers[i])
            else f"{x.layers[i]:.0f} extra contract layer(s) on top of the base protocol"
        ),
        "counterparty": (
            "custodial: depends on an off-chain custodian"
            if x.custodial[i]
            else {
                "overcollateralized": "over-collateralised lending: loans are backed",
                "undercollateralized": "under-collateralised lending: borrower default risk",
                "unknown": "lending with unknown collateral model",
                "not_lending": "no lending counterparty",
            }[x.collateral[i]]
        ),
        "impermanent_loss": (
            "single-asset exposure: no impermanent loss"
            if x.exposure_multi[i] == 0
            else "exposure unknown"
            if math.isnan(x.exposure_multi[i])
            else (
                "pair of assets with one peg: little impermanent loss"
                if x.correlated[i] == 1
                else "pair of assets that move apart: impermanent loss"
            )
            + ("" if math.isnan(x.il_7d[i]) else f", 7-day IL {x.il_7d[i]:.2f}%")
        ),
        "depeg": (
            "no pegged token"
            if not x.depeg_tokens[i]
            else f"holds pegged token(s) {', '.join(x.depeg_tokens[i])}"
        ),
        "lockup": (
            "no lock-up known"
            if math.isnan(x.lockup_days[i])
            else f"{x.lockup_days[i]:g} days to get the deposit back"
        ),
        "slashing": (
            "not staked"
            if not (x.is_staking[i] or x.is_lst[i])
            else "slashing rules unknown"
            if math.isnan(x.slashing[i])
            else "validators can be slashed"
            if x.slashing[i] == 1
            else "no slashing"
        ),
        "chain.age": _years(x.chain_age_years[i], o.chain),
        "chain.type": f"{o.chain} is {x.chain_kind[i]}",
        "chain.bridge": (
            "chain unknown"
            if math.isnan(x.chain_bridge[i])
            else "assets mostly arrive through a bridge"
            if x.chain_bridge[i] == 1
            else "assets native to the chain"
        ),
        "chain.incidents": (
            "chain unknown"
            if math.isnan(x.chain_incidents[i])
            else f"{x.chain_incidents[i]:.0f} major incident(s) (halts, bridge hacks)"
        ),
    }
    return [
        Factor(name, _value(float(values[i])), float(effects[i]), text[name])
        for name, (values, effects) in columns.items()
    ]
