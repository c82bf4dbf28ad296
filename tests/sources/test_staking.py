"""Native and delegated staking routes built from the reference staking table."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from realyield.reference.staking import load_staking_params
from realyield.sources.staking import staking_opportunities


def test_staking_opportunities_cover_native_routes_with_net_rates() -> None:
    params = load_staking_params()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    opps = {o.id: o for o in staking_opportunities(params, as_of=at)}
    direct = [p for p in params if p.route != "liquid"]
    assert len(opps) == len(direct) >= 10
    dot = next(p for p in direct if p.network == "polkadot")
    o = opps["native-staking:polkadot:dot"]
    expected = dot.nominal_apr_pct * (1 - dot.protocol_fee_pct / 100)  # e.g. 12.5 * 0.95
    assert o.apy == pytest.approx(expected) and o.apy_base == o.apy and o.apy_reward == 0.0
    assert o.lockup_days == dot.unbonding_days and o.kind == "staking" and o.as_of == at
    assert o.meta["real_net_reward_pct"] == pytest.approx(
        100 * ((1 + expected / 100) / (1 + dot.supply_inflation_pct / 100) - 1)
    )
    assert "native-staking:bsc:bnb" in opps
