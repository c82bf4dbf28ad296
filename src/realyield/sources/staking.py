"""Native and delegated staking routes as opportunities, from the dated staking table.

DeFiLlama lists liquid staking pools with live rates but not a network's own staking
(running or delegating to a validator). Those routes come from the reference table of
staking parameters (``realyield.reference.staking``); this module turns its rows into
universe records, so the universe holds them without a live refresh.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from realyield.core.model import Opportunity
from realyield.reference.staking import CHAIN_NAMES, StakingParams


def staking_opportunities(params: Iterable[StakingParams], *, as_of: datetime) -> list[Opportunity]:
    """Native and delegated staking routes as opportunities (DeFiLlama lists none).

    The APY is the rate after the provider's fee, all of it base (a security reward,
    not a farm emission: its dilution is the network's inflation, kept in ``meta`` for
    scoring). TVL is left missing: the table holds rates, not stake sizes.
    ``meta.parameters_as_of`` says how old the figures are; ``as_of`` is when they
    were put into the universe.
    """
    out: list[Opportunity] = []
    for p in params:
        if p.route == "liquid":
            continue  # liquid staking tokens are listed by DeFiLlama with live rates
        chain = CHAIN_NAMES.get(p.network, p.network.title())
        out.append(
            Opportunity(
                id=f"native-staking:{chain.lower()}:{p.symbol.lower()}",
                kind="staking",
                chain=chain,
                protocol="native-staking",
                symbol=p.symbol,
                apy=round(p.net_apr_pct, 6),
                apy_base=round(p.net_apr_pct, 6),
                apy_reward=0.0,
                tvl_usd=None,
                as_of=as_of,
                source="staking",
                underlying=(p.asset_id,),
                exposure="single",
                stablecoin=False,
                il_risk=False,
                lockup_days=p.unbonding_days,
                meta={
                    "route": p.route,
                    "provider": p.provider,
                    "nominal_apr_pct": p.nominal_apr_pct,
                    "protocol_fee_pct": p.protocol_fee_pct,
                    "supply_inflation_pct": p.supply_inflation_pct,
                    "real_net_reward_pct": 100 * p.real_net_reward_rate,
                    "slashing": p.slashing,
                    "min_stake": p.min_stake,
                    "parameters_as_of": p.as_of.isoformat(),
                    "parameters_source": p.source_url,
                },
            )
        )
    return out
