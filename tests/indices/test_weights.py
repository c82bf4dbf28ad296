"""The weighting kernel: caps hold exactly, the L1 optimum is reached, errors say why."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.optimize import linprog

from realyield.core.errors import ConfigError, DataError
from realyield.indices import lp, weights
from realyield.indices.bets import effective_bets, effective_bets_by
from realyield.indices.weights import (
    CapGroup,
    InfeasibleWeightsError,
    capped_proportional,
    capped_weights,
    check_weights,
)

Problem = tuple[NDArray[np.float64], float, list[CapGroup], int, float]


def arr(*values: float) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def group(key: str, members: list[int], cap: float) -> CapGroup:
    return CapGroup(key, np.asarray(members, dtype=np.intp), cap)


# --------------------------------------------------------------------------- oracles


def _matrix(groups: list[CapGroup], n: int) -> NDArray[np.float64]:
    a = np.zeros((len(groups), n))
    for k, g in enumerate(groups):
        a[k, g.members] = 1.0
    return a


def oracle_l1(t: NDArray[np.float64], u: float, groups: list[CapGroup]) -> float | None:
    """min sum |w - t| in the textbook (w, d) form, or None when infeasible."""
    n = t.size
    t = t / t.sum()
    eye = np.eye(n)
    a_ub = [np.hstack([eye, -eye]), np.hstack([-eye, -eye])]
    b_ub = [t, -t]
    if groups:
        a_ub.append(np.hstack([_matrix(groups, n), np.zeros((len(groups), n))]))
        b_ub.append(np.array([g.cap for g in groups]))
    res = linprog(
        np.concatenate([np.zeros(n), np.ones(n)]),
        A_ub=np.vstack(a_ub),
        b_ub=np.concatenate(b_ub),
        A_eq=np.concatenate([np.ones(n), np.zeros(n)])[None, :],
        b_eq=[1.0],
        bounds=[(0.0, u)] * n + [(0.0, None)] * n,
        method="highs",
    )
    if res.status == 2:
        return None
    assert res.status == 0, res.message
    return float(res.fun)


def assert_valid(
    w: NDArray[np.float64], u: float, groups: list[CapGroup], min_c: int, min_weight: float = 0.0
) -> None:
    dust = (w > 1e-9) & (w < min_weight)
    assert (
        check_weights(
            w,
            single_cap=u,
            groups=groups,
            min_constituents=min_c,
            min_weight=0.0 if dust.any() else min_weight,
        )
        == []
    )
    if dust.any():
        # dust is kept only where dropping it would break a cap: some cap must bind
        binding = (w >= u - 1e-9).any() or any(w[g.members].sum() >= g.cap - 1e-9 for g in groups)
        assert binding
    assert abs(w.sum() - 1.0) <= 1e-12
    assert (w >= 0).all()
    assert (w <= u + 1e-12).all()
    for g in groups:
        assert w[g.members].sum() <= g.cap + 1e-9, g.key
    assert int((w > 1e-9).sum()) >= min_c


# --------------------------------------------------------------------------- universes


@st.composite
def universes(draw: st.DrawFn) -> Problem:
    """Random candidates with zeros, overlapping dimension groups and random subsets."""
    n = draw(st.integers(1, 200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    t = rng.lognormal(0.0, draw(st.sampled_from([0.3, 1.0, 2.0])), n)
    t[rng.random(n) < draw(st.sampled_from([0.0, 0.1, 0.5]))] = 0.0
    if draw(st.booleans()):
        t[rng.integers(n)] = 1.0  # keep at least one positive target most of the time
    groups: list[CapGroup] = []
    for dim in ("protocol", "chain", "issuer")[: draw(st.integers(0, 3))]:
        label = rng.integers(0, draw(st.integers(1, 25)), n)
        cap = draw(st.floats(0.05, 1.0))
        groups += [
            group(f"{dim}:{v}", np.flatnonzero(label == v).tolist(), cap) for v in np.unique(label)
        ]
    for k in range(draw(st.integers(0, 8))):  # arbitrary overlapping subsets
        size = int(rng.integers(1, n + 1))
        members = rng.choice(n, size=size, replace=False).tolist()
        groups.append(group(f"bridge:{k}", members, draw(st.floats(0.02, 1.0))))
    single_cap = draw(st.floats(min(1.0, max(0.005, 0.6 / n)), 1.0))
    min_c = draw(st.integers(1, 12))
    min_weight = min(single_cap, draw(st.sampled_from([0.0, 0.0, 0.0, 0.001, 0.02])))
    return t, single_cap, groups, min_c, min_weight


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(universes())
def test_random_universes_meet_every_constraint_or_say_why(p: Problem) -> None:
    t, u, groups, min_c, min_weight = p
    try:
        w = capped_weights(
            t, single_cap=u, groups=groups, min_constituents=min_c, min_weight=min_weight
        )
    except InfeasibleWeightsError as exc:
        assert exc.reason
        if min_weight == 0.0 and t.sum() > 0 and "constituent" not in exc.reason:
            assert oracle_l1(t, u, groups) is None, exc.reason  # truly infeasible
        return
    assert_valid(w, u, groups, min_c, min_weight)
    if min_weight == 0.0:  # the L1 distance is the optimum
        best = oracle_l1(t, u, groups)
        assert best is not None
        assert np.abs(w - t / t.sum()).sum() <= best + 1e-7


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 200), st.integers(0, 2**32 - 1), st.integers(0, 6))
def test_a_target_that_meets_every_cap_is_returned_unchanged(
    n: int, seed: int, n_groups: int
) -> None:
    rng = np.random.default_rng(seed)
    t = rng.lognormal(0.0, 1.0, n)
    t[rng.random(n) < 0.2] = 0.0
    assume(t.sum() > 0)
    t /= t.sum()
    groups = []
    for k in range(n_groups):
        members = rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)
        groups.append(
            CapGroup(
                f"g{k}", members.astype(np.intp), min(1.0, t[members].sum() + rng.uniform(0, 0.1))
            )
        )
    u = min(1.0, t.max() + rng.uniform(0, 0.1))
    w = capped_weights(t, single_cap=u, groups=groups)
    np.testing.assert_allclose(w, t, rtol=0, atol=1e-9)
    assert_valid(w, u, groups, 1)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 200), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_single_cap_alone_reproduces_water_filling(n: int, seed: int, where: float) -> None:
    rng = np.random.default_rng(seed)
    t = rng.lognormal(0.0, 1.5, n)
    u = 1.0 / n + where * (1.0 - 1.0 / n)
    wf = capped_proportional(t, u)
    w = capped_weights(t, single_cap=u, groups=[])
    np.testing.assert_allclose(w, wf, rtol=0, atol=1e-9)
    assert_valid(wf, u, [], 1)
    free = wf < u - 1e-12  # uncapped weights stay proportional to the target
    if free.sum() > 1:
        ratio = wf[free] / t[free]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    if (~free).any() and free.any():  # nothing uncapped outweighs a capped one
        assert wf[free].max() <= wf[~free].min()


@settings(max_examples=80, deadline=None)
@given(
    st.integers(2, 150),
    st.integers(0, 2**32 - 1),
    st.floats(0.0, 1.0),
    st.sampled_from([0.005, 0.01, 0.02, 0.05]),
)
def test_min_weight_with_the_single_cap_drops_the_smallest_and_water_fills_the_rest(
    n: int, seed: int, where: float, min_weight: float
) -> None:
    """Single cap and a minimum weight: the holdings kept are the largest targets, each
    at or above the minimum (or, when dropping would break the cap, dust stays), and
    their weights are exactly the water-filling of their own targets: the dropped
    weight is re-spread proportionally, the cap still exact."""
    rng = np.random.default_rng(seed)
    t = rng.lognormal(0.0, 1.5, n)
    u = max(min_weight, 1.0 / n + where * (1.0 - 1.0 / n))
    w = capped_weights(t, single_cap=u, groups=[], min_weight=min_weight)
    assert_valid(w, u, [], 1, min_weight)
    kept = w > 0
    if (~kept).any():  # only the smallest targets are dropped
        assert t[~kept].max() <= t[kept].min()
    np.testing.assert_allclose(w[kept], capped_proportional(t[kept], u), rtol=0, atol=1e-9)
    if ((w > 0) & (w < min_weight)).any():  # dust kept: one fewer holding cannot fill the cap
        assert (kept.sum() - 1) * u < 1.0 - 1e-12


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 150), st.integers(0, 2**32 - 1), st.integers(1, 12), st.floats(0.05, 1.0))
def test_a_capped_group_is_scaled_down_as_a_whole(
    n: int, seed: int, n_values: int, cap: float
) -> None:
    """One partition (say by protocol): every member of a group keeps the same fraction
    of its target, so a cap cuts the whole protocol rather than dropping some pools."""
    rng = np.random.default_rng(seed)
    t = rng.lognormal(0.0, 1.5, n)
    label = rng.integers(0, n_values, n)
    groups = [
        CapGroup(f"protocol:{v}", np.flatnonzero(label == v).astype(np.intp), cap)
        for v in np.unique(label)
    ]
    try:
        w = capped_weights(t, single_cap=1.0, groups=groups)
    except InfeasibleWeightsError:
        assert cap * len(groups) < 1.0 + 1e-9
        return
    assert_valid(w, 1.0, groups, 1)
    ratio = w / (t / t.sum())
    for g in groups:
        np.testing.assert_allclose(ratio[g.members], ratio[g.members][0], rtol=1e-6)


# --------------------------------------------------------------------------- equivalences


def _plain_spread(
    t: NDArray[np.float64],
    u: float,
    gm: object,
    caps: NDArray[np.float64],
    shortfall: float,
    zero_total: float,
    start: NDArray[np.float64],
) -> NDArray[np.float64] | None:
    """Stage 3 as documented, without reusing any round: every round solves its LP."""
    pos = np.flatnonzero(t > 0)
    tight = np.flatnonzero(gm @ start >= caps - weights.GROUP_TOL)  # type: ignore[operator]
    fixed = (t[pos] >= u) & (start[pos] >= u - weights.SUM_TOL)
    best = None
    for _ in range(8):
        solved = weights._spread_lp(t, u, gm, caps, shortfall, zero_total, tight, fixed)  # type: ignore[arg-type]
        if solved is None and best is None and fixed.any():
            fixed[:] = False
            solved = weights._spread_lp(  # type: ignore[arg-type]
                t, u, gm, caps, shortfall, zero_total, tight, fixed
            )
        if solved is None:
            break
        best, cut = solved
        at_cap = np.flatnonzero(gm @ best >= caps - weights.GROUP_TOL)  # type: ignore[operator]
        capped = (~fixed) & (best[pos] >= u - weights.SUM_TOL) & (cut > weights.SUM_TOL)
        if np.array_equal(at_cap, tight) and not capped.any():
            break
        tight = at_cap
        fixed |= capped
    return best


def _through_linprog(*args: object, duals: bool = False) -> lp.LpResult:
    return lp._solve_linprog(*args)  # type: ignore[arg-type]


def _weights_or_reason(p: Problem) -> NDArray[np.float64] | str:
    t, u, groups, min_c, min_weight = p
    try:
        return capped_weights(
            t, single_cap=u, groups=groups, min_constituents=min_c, min_weight=min_weight
        )
    except InfeasibleWeightsError as exc:
        return exc.reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(universes())
def test_the_fast_kernel_gives_exactly_the_linprog_kernels_weights(p: Problem) -> None:
    """The direct HiGHS driver and the reuse of repeated stage-3 rounds change no answer:
    every LP through ``linprog`` and every round solved gives the very same weights."""
    fast = _weights_or_reason(p)
    with (
        mock.patch.object(lp, "solve", _through_linprog),
        mock.patch.object(weights, "_spread", _plain_spread),
    ):
        reference = _weights_or_reason(p)
    if isinstance(reference, str):
        assert fast == reference
    else:
        assert isinstance(fast, np.ndarray)
        np.testing.assert_array_equal(fast, reference)


def test_stage_three_rounds_that_cycle_solve_each_lp_once() -> None:
    """Here the groups at their cap alternate between two sets from the second round on,
    up to the limit of eight rounds; the answer is the eighth round's either way, from
    three LPs instead of eight."""
    t = arr(1.429, 0.567, 0.348, 2.892, 0.323, 0.169, 1.925, 2.319, 0.387, 0.568)
    members = {
        "protocol:0": ([5, 8], 0.3),
        "protocol:1": ([0], 0.3),
        "protocol:2": ([1, 2, 3, 4, 6, 9], 0.3),
        "protocol:3": ([7], 0.3),
        "chain:0": ([1, 2, 3, 6, 8], 0.45),
        "chain:1": ([0, 7], 0.45),
        "chain:2": ([4, 5, 9], 0.45),
    }
    groups = [group(k, m, cap) for k, (m, cap) in members.items()]
    solved = []
    real = weights._spread_lp

    def counting(*args: object) -> object:
        solved.append(args)
        return real(*args)  # type: ignore[arg-type]

    with mock.patch.object(weights, "_spread_lp", counting):
        fast = capped_weights(t, single_cap=0.2, groups=groups)
        n_fast = len(solved)
        with mock.patch.object(weights, "_spread", _plain_spread):
            plain = capped_weights(t, single_cap=0.2, groups=groups)
        n_plain = len(solved) - n_fast
    assert (n_fast, n_plain) == (3, 8)
    np.testing.assert_array_equal(fast, plain)
    assert_valid(fast, 0.2, groups, 1)


# --------------------------------------------------------------------------- by hand


def test_closed_forms() -> None:
    np.testing.assert_allclose(
        capped_weights(arr(70, 30), single_cap=0.6, groups=[]), [0.6, 0.4], atol=1e-12
    )
    np.testing.assert_allclose(
        capped_proportional(arr(50, 30, 20), 0.4), [0.4, 0.36, 0.24], atol=1e-12
    )
    np.testing.assert_allclose(
        capped_weights(arr(50, 30, 20), single_cap=0.4, groups=[]), [0.4, 0.36, 0.24], atol=1e-12
    )
    # 40/40/20 with protocol:aave = {0, 1} capped at 60%: keep 0.3/0.3, the freed 20%
    # goes to the only other candidate
    w = capped_weights(
        arr(40, 40, 20), single_cap=1.0, groups=[group("protocol:aave", [0, 1], 0.6)]
    )
    np.testing.assert_allclose(w, [0.3, 0.3, 0.4], atol=1e-9)
    np.testing.assert_allclose(capped_proportional(arr(1, 1, 1, 1), 0.25), [0.25] * 4)
    # a capped group is cut by one factor across its members, not by dropping some
    w = capped_weights(
        arr(30, 20, 10, 40), single_cap=1.0, groups=[group("protocol:aave", [0, 1, 2], 0.3)]
    )
    np.testing.assert_allclose(w, [0.15, 0.1, 0.05, 0.7], atol=1e-9)


def test_zero_targets_take_weight_only_when_the_caps_need_it() -> None:
    np.testing.assert_allclose(
        capped_weights(arr(3, 1, 0), single_cap=0.6, groups=[]), [0.6, 0.4, 0.0], atol=1e-9
    )
    w = capped_weights(arr(1, 1, 0, 0), single_cap=0.4, groups=[])
    np.testing.assert_allclose(w[:2], [0.4, 0.4], atol=1e-9)
    assert w[2:].sum() == pytest.approx(0.2, abs=1e-9)
    np.testing.assert_allclose(capped_proportional(arr(3, 1, 0, 2), 0.5), [0.5, 1 / 6, 0, 1 / 3])


def test_min_weight_drops_dust_and_resolves() -> None:
    w = capped_weights(arr(0.5, 0.3, 0.195, 0.005), single_cap=1.0, groups=[], min_weight=0.01)
    np.testing.assert_allclose(w, np.array([0.5, 0.3, 0.195, 0.0]) / 0.995, atol=1e-12)
    assert check_weights(w, single_cap=1.0, groups=[], min_weight=0.01) == []


def test_infeasible_messages_name_the_constraint() -> None:
    with pytest.raises(
        InfeasibleWeightsError,
        match=r"single cap 10% needs at least 10 "
        r"candidates, got 7",
    ):
        capped_weights(np.ones(7), single_cap=0.1, groups=[])
    groups = [group("chain:Ethereum", [0, 1, 2], 0.4), group("protocol:aave", [3], 0.2)]
    with pytest.raises(InfeasibleWeightsError) as info:
        capped_weights(np.ones(5), single_cap=0.3, groups=groups)
    # 40% on Ethereum, 20% on aave, 30% for the last candidate: 90% at most
    assert "chain:Ethereum (40%)" in info.value.reason
    assert "protocol:aave (20%)" in info.value.reason
    assert "at most 90% to allocate" in info.value.reason
    with pytest.raises(InfeasibleWeightsError, match="fewer than the minimum 3"):
        capped_weights(arr(1, 1, 0), single_cap=0.5, groups=[], min_constituents=3)
    with pytest.raises(InfeasibleWeightsError, match="at least 5 constituents required"):
        capped_weights(np.ones(3), single_cap=1.0, groups=[], min_constituents=5)
    with pytest.raises(InfeasibleWeightsError, match="every target is zero"):
        capped_weights(np.zeros(4), single_cap=1.0, groups=[])
    # dropping the 0.2% holding would leave two candidates under a 49.9% cap: caps come
    # first, so that holding is kept below the minimum weight instead
    w = capped_weights(arr(0.5, 0.5, 0.0001), single_cap=0.499, groups=[], min_weight=0.01)
    np.testing.assert_allclose(w, [0.499, 0.499, 0.002], atol=1e-12)
    with pytest.raises(
        InfeasibleWeightsError,
        match="cap 40% needs at least 3 candidates with a positive target, got 2",
    ):
        capped_proportional(arr(1, 1, 0), 0.4)


def test_bad_inputs_say_what_and_where() -> None:
    with pytest.raises(DataError, match=r"target\[1\] is nan"):
        capped_weights(arr(1, math.nan), single_cap=1.0, groups=[])
    with pytest.raises(DataError, match=r"target\[0\] = -1 is negative"):
        capped_weights(arr(-1, 2), single_cap=1.0, groups=[])
    with pytest.raises(ConfigError, match="single_cap"):
        capped_weights(arr(1, 2), single_cap=0.0, groups=[])
    with pytest.raises(ConfigError, match="single_cap"):
        capped_weights(arr(1, 2), single_cap=1.5, groups=[])
    with pytest.raises(ConfigError, match="protocol:aave"):
        group("protocol:aave", [0], 1.2)
    with pytest.raises(DataError, match="protocol:aave: member index 5 is out of range for 2"):
        capped_weights(arr(1, 2), single_cap=1.0, groups=[group("protocol:aave", [0, 5], 0.5)])
    with pytest.raises(DataError, match="integer"):
        CapGroup("x", np.array([0.5]), 0.5)
    with pytest.raises(ConfigError, match="min_weight"):
        capped_weights(arr(1, 2), single_cap=0.7, groups=[], min_weight=0.8)
    with pytest.raises(InfeasibleWeightsError, match="no candidates"):
        capped_weights(np.zeros(0), single_cap=1.0, groups=[])


def test_check_weights_lists_every_broken_rule() -> None:
    g = [group("issuer:circle", [0, 1], 0.5)]
    problems = check_weights(arr(0.4, 0.3, 0.2), single_cap=0.35, groups=g, min_constituents=4)
    assert len(problems) == 4
    text = " | ".join(problems)
    for needle in ("sum to", "single cap 35%", "issuer:circle", "fewer than the minimum 4"):
        assert needle in text
    assert check_weights(arr(0.25, 0.25, 0.5), single_cap=0.5, groups=g) == []


# --------------------------------------------------------------------------- bets


def test_effective_bets_by_hand() -> None:
    keys = [
        ["protocol:aave", "issuer:circle", "chain:Ethereum"],
        ["protocol:compound", "issuer:circle", "chain:Ethereum"],
        ["protocol:lido", "chain:Ethereum"],
        ["protocol:jito", "chain:Solana"],
    ]
    # clusters 0.5, 0.25, 0.25: 1 / (0.25 + 0.0625 + 0.0625)
    assert effective_bets([0.25] * 4, keys) == pytest.approx(8 / 3)
    assert effective_bets([1, 1, 1, 1], keys) == pytest.approx(8 / 3)  # shares of the total
    # connecting through chains: the three Ethereum holdings become one bet
    assert effective_bets(
        [0.25] * 4, keys, prefixes=("protocol:", "issuer:", "chain:")
    ) == pytest.approx(1 / (0.75**2 + 0.25**2))
    assert effective_bets([0.25] * 4, keys, prefixes=()) == pytest.approx(4.0)
    assert effective_bets([], []) == 0.0
    # by issuer: circle 0.5; lido and jito have no issuer and stand alone
    assert effective_bets_by([0.25] * 4, keys, "issuer:") == pytest.approx(8 / 3)
    assert effective_bets_by([0.25] * 4, keys, "chain:") == pytest.approx(1 / (0.75**2 + 0.25**2))


def test_effective_bets_clusters_transitively_and_ignores_non_holdings() -> None:
    keys = [["protocol:a", "issuer:x"], ["protocol:b", "issuer:x"], ["protocol:b"], ["protocol:c"]]
    assert effective_bets([0.25] * 4, keys) == pytest.approx(1 / (0.75**2 + 0.25**2))
    # a zero-weight candidate does not connect the others
    keys = [["protocol:a"], ["protocol:a", "protocol:b"], ["protocol:b"]]
    assert effective_bets([0.5, 0.0, 0.5], keys) == pytest.approx(2.0)
    # a USDC/USDT pool is half Circle, half Tether
    keys = [["issuer:circle", "issuer:tether"], ["issuer:circle"]]
    assert effective_bets_by([0.5, 0.5], keys, "issuer:") == pytest.approx(1 / (0.75**2 + 0.25**2))
    with pytest.raises(DataError, match="2 weights but 1"):
        effective_bets([0.5, 0.5], [["protocol:a"]])
    with pytest.raises(DataError, match="single string"):
        effective_bets([1.0], ["protocol:a"])
