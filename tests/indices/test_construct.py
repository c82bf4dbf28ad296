"""Index construction: the rules hold exactly on random universes; figures on the
bundled universe; level histories over bundled and real data."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from unittest import mock

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realyield.core.model import Opportunity
from realyield.indices import construct
from realyield.indices.composition import IndexComposition
from realyield.indices.construct import IndexInputs, build_all, build_index, string_lists
from realyield.indices.methodology import IndexDefinition, packaged_definitions
from realyield.indices.weights import InfeasibleWeightsError
from realyield.scoring.score import score_universe
from realyield.sources.snapshot import SNAPSHOT_AS_OF, load_snapshot

AT = datetime(2025, 6, 30, tzinfo=UTC)
PROTOCOLS = [
    "aave-v3",
    "compound-v3",
    "morpho-blue",
    "spark",
    "uniswap-v3",
    "curve-dex",
    "yearn-finance",
    "beefy",
    "fluid-lending",
    "kamino-lend",
]
CHAINS = ["Ethereum", "Arbitrum", "Base", "Solana", "Polygon", "BSC"]
SYMBOLS = [
    ("USDC", True),
    ("USDT", True),
    ("DAI", True),
    ("USDC-USDT", True),
    ("USDE", True),
    ("WETH-USDC", False),
    ("WBTC-WETH", False),
    ("STETH", False),
]


@st.composite
def universes(draw: st.DrawFn) -> list[Opportunity]:
    n = draw(st.integers(5, 60))
    out = []
    for i in range(n):
        symbol, stable = draw(st.sampled_from(SYMBOLS))
        base = draw(st.floats(0, 40))
        reward = draw(st.floats(0, 80))
        kind = draw(st.sampled_from(["lending", "liquidity", "vault"]))
        out.append(
            Opportunity(
                id=f"p{i}",
                kind=kind,
                chain=draw(st.sampled_from(CHAINS)),
                protocol=draw(st.sampled_from(PROTOCOLS)),
                symbol=symbol,
                apy=base + reward,
                apy_base=base,
                apy_reward=reward,
                tvl_usd=draw(st.floats(1e5, 5e9)),
                as_of=AT,
                source="test",
                stablecoin=stable,
                exposure="multi" if "-" in symbol else "single",
                meta={
                    "count": draw(st.integers(1, 500)),
                    "mu": base + reward,
                    "sigma": 0.5,
                    "apy_mean_30d": (base + reward) * draw(st.floats(0.6, 1.4)),
                },
            )
        )
    return out


def check_rules(comp: IndexComposition, defn: IndexDefinition, table: pl.DataFrame) -> None:
    weights = [c.weight for c in comp.constituents]
    assert sum(weights) == pytest.approx(1.0, abs=1e-9)
    assert all(0 < w <= defn.caps.single + 1e-9 for w in weights)
    assert len(weights) >= defn.caps.min_constituents
    rows = {r["id"]: r for r in table.iter_rows(named=True)}
    for c in comp.constituents:
        assert rows[c.id]["apy"] <= 100.0
        assert not rows[c.id]["excluded"]
    groups: dict[str, float] = defaultdict(float)
    for c in comp.constituents:
        for key in c.dependencies:
            groups[key] += c.weight
    for key, total in groups.items():
        cap = defn.caps.dependency.get(key.split(":", 1)[0])
        if cap is not None:
            assert total <= cap + 1e-9, (key, total, cap)
    if defn.sleeves:
        by_sleeve: dict[str | None, float] = defaultdict(float)
        for c in comp.constituents:
            by_sleeve[c.sleeve] += c.weight
        # an empty sleeve's share is re-spread pro rata over the others, and noted
        empty = {
            s.name for s in defn.sleeves if any(f"sleeve {s.name} empty" in n for n in comp.notes)
        }
        kept = sum(s.weight for s in defn.sleeves if s.name not in empty)
        for sleeve in defn.sleeves:
            expected = 0.0 if sleeve.name in empty else sleeve.weight / kept
            assert by_sleeve[sleeve.name] == pytest.approx(expected, abs=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(opps=universes())
def test_rules_hold_exactly_or_the_index_says_why(opps: list[Opportunity]) -> None:
    scored = score_universe(opps, as_of=AT.date())
    inputs = IndexInputs(AT.date(), scored)
    defs = packaged_definitions()
    table = inputs.candidates()
    for name in ("defi-yield", "stablecoin-income"):
        try:
            comp = build_index(defs[name], inputs, registry=defs)
        except InfeasibleWeightsError as exc:
            assert str(exc)  # infeasible: the reason is given
            continue
        check_rules(comp, defs[name], table)


@pytest.fixture(scope="module")
def bundled_inputs() -> IndexInputs:
    snap = load_snapshot()
    history = pl.DataFrame(
        [
            (p.opportunity_id, p.date, p.apy, p.apy_base, p.apy_reward, p.tvl_usd)
            for p in snap.apy_history
        ],
        schema=["id", "date", "apy", "apy_base", "apy_reward", "tvl_usd"],
        orient="row",
    )
    prices = pl.DataFrame(
        [(p.asset_id, p.date, p.price_usd) for p in snap.prices],
        schema=["asset_id", "date", "price_usd"],
        orient="row",
    )
    day = SNAPSHOT_AS_OF.date()
    scored = score_universe(
        snap.opportunities, as_of=day, history=history, assets=snap.assets, prices=prices
    )
    return IndexInputs(day, scored, {a.id: a for a in snap.assets}, prices)


@pytest.fixture(scope="module")
def bundled(bundled_inputs: IndexInputs) -> dict[str, IndexComposition | InfeasibleWeightsError]:
    return build_all(packaged_definitions(), bundled_inputs)


def test_an_index_that_cannot_be_built_is_attempted_once_a_date(
    bundled_inputs: IndexInputs,
) -> None:
    """Balanced holds DeFi Yield (as its variant with Balanced's minimum weight): when
    DeFi Yield cannot be built, building all indices tries each once and Balanced says
    why."""
    calls: list[str] = []

    def infeasible(defn: IndexDefinition, inputs: IndexInputs) -> IndexComposition:
        calls.append(defn.name)
        raise InfeasibleWeightsError(f"{defn.name}: no way")

    with mock.patch.object(construct, "build_opportunity_index", infeasible):
        out = build_all(packaged_definitions(), bundled_inputs)
    assert calls.count("defi-yield") == 1
    assert len(calls) == len(set(calls))
    assert str(out["defi-yield"]) == "defi-yield: no way"
    assert str(out["balanced"]) == "balanced-defi-income: no way"
    assert isinstance(out["large-cap-staking"], IndexComposition)  # the others still build


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(alphabet=st.sampled_from("ab:\x1f-"), max_size=4), max_size=4)))
def test_string_lists_builds_what_polars_builds_from_nested_lists(
    values: list[list[str]],
) -> None:
    got = string_lists("x", values)
    assert got.dtype == pl.List(pl.Utf8)
    assert got.to_list() == pl.Series("x", values, dtype=pl.List(pl.Utf8)).to_list()


def test_every_index_builds_on_the_bundled_universe(bundled: dict[str, object]) -> None:
    defs = packaged_definitions()
    assert set(bundled) == set(defs)
    for name, comp in bundled.items():
        assert isinstance(comp, IndexComposition), (name, comp)
        assert sum(c.weight for c in comp.constituents) == pytest.approx(1.0, abs=1e-9)
        assert len(comp.constituents) >= defs[name].caps.min_constituents


def test_staking_yield_and_defi_split(bundled: dict[str, object]) -> None:
    staking = bundled["large-cap-staking"]
    assert isinstance(staking, IndexComposition)
    assert 4.0 <= staking.expected_apy <= 8.0
    assert staking.expected_real_apy < staking.expected_apy  # net of inflation
    assert max(c.weight for c in staking.constituents) <= 0.35 + 1e-12
    defi = bundled["defi-yield"]
    assert isinstance(defi, IndexComposition)
    assert defi.expected_emission_apy > 0
    # headline = real + emissions + inflation drag of staked holdings (none here): parts add up
    by_hand = sum(c.weight * (c.apy_real + c.apy_emission) for c in defi.constituents)
    assert defi.expected_real_apy + defi.expected_emission_apy == pytest.approx(by_hand)
    assert defi.effective_bets >= 2.0


def test_balanced_is_60_20_20_with_staked_growth_and_a_minimum_weight(
    bundled: dict[str, object], bundled_inputs: IndexInputs
) -> None:
    """Each component is built by its own rules with Balanced's 1% minimum as its own
    minimum (1 / 0.6 of the basket, 5% of each income index), scaled by its share; the
    growth basket's PoS assets are held through the very routes Large-Cap Staking
    picks, Bitcoin as is; the merged index adds the parts up, holds nothing under 1%
    and pays within the 3-7% it is built for."""
    balanced = bundled["balanced"]
    staking = bundled["large-cap-staking"]
    assert isinstance(balanced, IndexComposition) and isinstance(staking, IndexComposition)
    defs = packaged_definitions()
    defn = defs["balanced"]
    floor = defn.weighting.min_weight
    assert floor == 0.01
    parts = {
        c.name: construct._component(defn, c, bundled_inputs, defs, {}, {}) for c in defn.components
    }
    expected: dict[str, float] = defaultdict(float)
    for comp in defn.components:
        part = parts[comp.name]
        assert sum(c.weight for c in part.constituents) == pytest.approx(1.0, abs=1e-9)
        assert min(c.weight for c in part.constituents) >= floor / comp.weight - 1e-9
        for c in part.constituents:
            expected[c.id] += comp.weight * c.weight
    got = balanced.weights()
    assert set(got) == set(expected)
    for ident, w in expected.items():
        assert got[ident] == pytest.approx(w, abs=1e-12), ident
    assert min(got.values()) >= floor - 1e-9
    assert max(got.values()) <= defn.caps.single + 1e-9
    # the growth basket: BTC held as is, every other asset through Large-Cap Staking's route
    growth = parts["growth-assets"]
    assert [c.id for c in growth.constituents if c.kind == "asset"] == ["asset:bitcoin"]
    route_of = {c.underlying[0]: c.id for c in staking.constituents}
    for c in growth.constituents:
        if c.kind != "asset":
            assert c.kind in ("staking", "liquid_staking")
            assert route_of[c.underlying[0]] == c.id, c.underlying
    assert 3.0 <= balanced.expected_apy <= 7.0


def test_rules_hold_on_the_bundled_universe(bundled: dict[str, object]) -> None:
    snap = load_snapshot()
    table = score_universe(snap.opportunities, as_of=SNAPSHOT_AS_OF.date()).table()
    defs = packaged_definitions()
    for name in ("defi-yield", "stablecoin-income"):
        comp = bundled[name]
        assert isinstance(comp, IndexComposition)
        check_rules(comp, defs[name], table.with_columns(pl.lit(False).alias("excluded")))


def test_staking_index_respects_its_dependency_caps(bundled: dict[str, object]) -> None:
    staking = bundled["large-cap-staking"]
    assert isinstance(staking, IndexComposition)
    caps = packaged_definitions()["large-cap-staking"].caps.dependency
    totals: dict[str, float] = defaultdict(float)
    for c in staking.constituents:
        for key in c.dependencies:
            totals[key] += c.weight
    for key, total in totals.items():
        cap = caps.get(key.split(":", 1)[0])
        if cap is not None:
            assert total <= cap + 1e-9, (key, total)


def _diverse_universe(
    kinds: tuple[str, ...] = ("lending", "liquidity", "vault"),
    protocols: list[str] = PROTOCOLS,
) -> list[Opportunity]:
    """300 opportunities over every chain, of ``kinds`` and ``protocols`` (in turn)."""
    import numpy as np

    rng = np.random.default_rng(11)
    opps = []
    for i in range(300):
        symbol, stable = SYMBOLS[int(rng.integers(len(SYMBOLS)))]
        base, reward = float(rng.uniform(1, 12)), float(rng.uniform(0, 3))
        opps.append(
            Opportunity(
                id=f"r{i}",
                kind=kinds[i % len(kinds)],
                chain=CHAINS[i % len(CHAINS)],
                protocol=protocols[(i // 3) % len(protocols)],
                symbol=symbol,
                apy=base + reward,
                apy_base=base,
                apy_reward=reward,
                tvl_usd=float(rng.uniform(2e7, 2e9)),
                as_of=AT,
                source="test",
                stablecoin=stable,
                exposure="multi" if "-" in symbol else "single",
                meta={
                    "count": 200,
                    "mu": base + reward,
                    "sigma": 0.3,
                    "apy_mean_30d": base + reward,
                },
            )
        )
    return opps


def test_a_diverse_random_universe_builds_and_meets_every_rule() -> None:
    """The property test above may meet only infeasible universes; this one must build."""
    scored = score_universe(_diverse_universe(), as_of=AT.date())
    inputs = IndexInputs(AT.date(), scored)
    defs = packaged_definitions()
    for name in ("defi-yield", "stablecoin-income"):
        comp = build_index(defs[name], inputs, registry=defs)
        check_rules(comp, defs[name], inputs.candidates())
        assert comp.notes == []  # no sleeve is empty here


def test_respread_empty_by_hand() -> None:
    names, shares = ["lending", "liquidity", "vaults"], [0.4, 0.3, 0.3]
    out, notes = construct.respread_empty(names, shares, [5, 4, 0], AT.date())
    assert out == pytest.approx([4 / 7, 3 / 7, 0.0], abs=1e-15)  # 0.4/0.7, 0.3/0.7
    assert notes == [
        "sleeve vaults empty on 2025-06-30: its 30% re-spread pro rata over the other sleeves"
    ]
    same, none = construct.respread_empty(names, shares, [5, 4, 2], AT.date())
    assert same == shares and none == []  # the very same floats: builds unchanged
    assert construct.respread_empty(names, shares, [0, 0, 0], AT.date())[0] == [0.0] * 3


def test_an_empty_sleeve_is_re_spread_pro_rata_and_noted() -> None:
    """DeFi Yield with no vault at all: lending 40/70 = 4/7, liquidity 30/70 = 3/7, every
    cap still exact, and the index says so."""
    scored = score_universe(_diverse_universe(("lending", "liquidity")), as_of=AT.date())
    inputs = IndexInputs(AT.date(), scored)
    defn = packaged_definitions()["defi-yield"]
    comp = build_index(defn, inputs, registry=packaged_definitions())
    check_rules(comp, defn, inputs.candidates())
    by_sleeve: dict[str | None, float] = defaultdict(float)
    for c in comp.constituents:
        by_sleeve[c.sleeve] += c.weight
    assert by_sleeve["stablecoin-lending"] == pytest.approx(4 / 7, abs=1e-9)
    assert by_sleeve["liquidity"] == pytest.approx(3 / 7, abs=1e-9)
    assert "vaults" not in by_sleeve
    assert comp.notes == [
        "sleeve vaults empty on 2025-06-30: its 30% re-spread pro rata over the other sleeves"
    ]
    assert comp.as_dict()["notes"] == comp.notes


def test_too_few_protocols_for_the_protocol_cap_is_named() -> None:
    """Two protocol families cannot hold Stablecoin Income's 25% protocol cap (4 needed):
    the index is not built and the reason names the cap and the two protocols."""
    opps = _diverse_universe(("lending",), ["aave-v3", "compound-v3"])
    inputs = IndexInputs(AT.date(), score_universe(opps, as_of=AT.date()))
    defs = packaged_definitions()
    with pytest.raises(InfeasibleWeightsError) as caught:
        build_index(defs["stablecoin-income"], inputs, registry=defs)
    assert "at most 50% to allocate" in caught.value.reason
    assert (
        "the 25% protocol cap needs at least 4 protocols; the eligible candidates span 2 "
        "(aave, compound)" in caught.value.reason
    )


def test_the_lock_up_penalty_moves_a_network_to_its_liquid_route(
    bundled_inputs: IndexInputs,
) -> None:
    """Each network is held through the route with the best APY net of a lock-up and a
    risk penalty; a penalty large enough for any unbonding period to outweigh the yield
    gap picks a route without lock-up wherever the network has one."""
    from dataclasses import replace

    defs = packaged_definitions()
    base = defs["large-cap-staking"]
    assert base.staking is not None
    cols = bundled_inputs.columns()
    lockup = {
        o.id: float(cols.lockup_days[i])
        for i, o in enumerate(bundled_inputs.scored.inputs.opportunities)
    }
    plain = build_index(base, bundled_inputs, registry=defs)
    heavy = replace(base, staking=replace(base.staking, lockup_penalty_pp_per_30d=100.0))
    penalised = build_index(heavy, bundled_inputs, registry={**defs, "large-cap-staking": heavy})
    locked = [c.id for c in plain.constituents if lockup.get(c.id, 0.0) > 0]
    assert locked, "the bundled index holds some route with an unbonding period"
    moved = {c.sleeve: c.id for c in penalised.constituents}
    changed = [c for c in plain.constituents if moved[c.sleeve] != c.id]
    assert changed, "a heavy lock-up penalty changes some network's route"
    for c in changed:
        assert lockup[moved[c.sleeve]] < lockup[c.id]
