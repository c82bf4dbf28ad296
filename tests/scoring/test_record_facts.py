"""A facts cache changes no score, and never serves the facts of an older record."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np

from realyield.reference.staking import load_staking_params
from realyield.scoring.inputs import build_inputs
from realyield.scoring.record_facts import FactsCache
from realyield.sources.snapshot import SNAPSHOT_AS_OF, load_snapshot


def test_cached_facts_give_the_same_inputs_on_every_date() -> None:
    snap = load_snapshot()
    cache = FactsCache()
    for day in (date(2023, 1, 1), SNAPSHOT_AS_OF.date()):
        plain = build_inputs(snap.opportunities, as_of=day, assets=snap.assets)
        cached = build_inputs(snap.opportunities, as_of=day, assets=snap.assets, facts_cache=cache)
        for name, value in vars(plain).items():
            other = vars(cached)[name]
            if isinstance(value, np.ndarray):
                assert np.array_equal(value, other, equal_nan=True), name
            else:
                assert value == other, name


def test_a_changed_record_or_staking_table_is_looked_up_again() -> None:
    snap = load_snapshot()
    usdc = next(o for o in snap.opportunities if o.symbol == "USDC" and o.kind == "lending")
    cache = FactsCache()
    day = SNAPSHOT_AS_OF.date()
    before = build_inputs([usdc], as_of=day, facts_cache=cache)
    assert before.depeg_points[0] > 0  # a stablecoin: depeg exposure
    renamed = replace(usdc, symbol="WETH")
    after = build_inputs([renamed], as_of=day, facts_cache=cache)
    assert after.depeg_tokens[0] != before.depeg_tokens[0]
    assert after.depeg_tokens == build_inputs([renamed], as_of=day).depeg_tokens
    # another staking table empties the cache
    cache.using(load_staking_params()[:1])
    assert not cache._entries


def test_native_staking_on_two_networks_is_two_bets() -> None:
    """Each network's own staking rests on its validators: ETH and ADA native routes do
    not share a protocol key, two routes through one liquid staking issuer do."""
    from realyield.indices.bets import effective_bets

    snap = load_snapshot()
    by_id = {o.id: o for o in snap.opportunities}
    pair = [by_id["native-staking:ethereum:eth"], by_id["native-staking:cardano:ada"]]
    deps = build_inputs(pair, as_of=SNAPSHOT_AS_OF.date()).dependencies
    keys = [d.keys() for d in deps]
    assert keys[0][0] == "protocol:native-staking-ethereum"
    assert keys[1][0] == "protocol:native-staking-cardano"
    assert effective_bets([0.5, 0.5], keys) == 2.0
    # two routes to stETH (Lido's token) share its issuer: one bet
    steth = [o for o in snap.opportunities if "steth" in o.symbol.lower().split("-")][:2]
    assert len(steth) == 2, [o.id for o in steth]
    steth_keys = [d.keys() for d in build_inputs(steth, as_of=SNAPSHOT_AS_OF.date()).dependencies]
    assert any(k.startswith("issuer:") for k in steth_keys[0])
    assert effective_bets([0.5, 0.5], steth_keys) == 1.0
