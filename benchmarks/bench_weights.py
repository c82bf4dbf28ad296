"""The weighting kernel on 2,000 candidates with ~300 overlapping caps (target: well under 1 s).

Run on demand: ``python benchmarks/bench_weights.py``. The universe has DeFi-Yield-style
rules: heavy-tailed targets (risk-adjusted yields, a few zero, one above the cap), a 10%
single cap, and overlapping dependency groups for protocols (20%), chains (40%), issuers
(30%) and bridges (25%), with Zipf-like popularity so that the largest protocol and
issuer are over their caps and the caps interact. The reference is ``capped_proportional``
(closed-form water-filling with the single cap only) on the same targets, the cheapest
weighting an index could use; the ratio says what exact caps on shared dependencies cost.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from realyield.indices.bets import effective_bets, effective_bets_by
from realyield.indices.weights import (
    CapGroup,
    capped_proportional,
    capped_weights,
    check_weights,
)

N = 2_000
SINGLE_CAP = 0.10
TARGET_S = 1.0
DIMENSIONS = (  # (kind, number of values, cap, Zipf exponent of popularity)
    ("protocol", 160, 0.20, 1.1),
    ("chain", 40, 0.40, 1.3),
    ("issuer", 60, 0.30, 1.4),
    ("bridge", 40, 0.25, 1.0),
)


def universe(
    n: int = N, seed: int = 11
) -> tuple[NDArray[np.float64], list[CapGroup], list[list[str]]]:
    rng = np.random.default_rng(seed)
    target = rng.lognormal(0.0, 2.3, n)
    target[rng.random(n) < 0.03] = 0.0
    groups: list[CapGroup] = []
    keys: list[list[str]] = [[] for _ in range(n)]
    for kind, count, cap, zipf in DIMENSIONS:
        p = 1.0 / np.arange(1, count + 1) ** zipf
        label = rng.choice(count, size=n, p=p / p.sum())
        if kind == "bridge":  # only bridged assets have one
            label[rng.random(n) < 0.6] = -1
        for v in np.unique(label[label >= 0]):
            members = np.flatnonzero(label == v).astype(np.intp)
            groups.append(CapGroup(f"{kind}:{v}", members, cap))
            for i in members:
                keys[i].append(f"{kind}:{v}")
    return target, groups, keys


def best_of(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    target, groups, keys = universe()
    shares = target / target.sum()
    w = capped_weights(target, single_cap=SINGLE_CAP, groups=groups, min_constituents=10)
    problems = check_weights(w, single_cap=SINGLE_CAP, groups=groups, min_constituents=10)
    over = sum(float(shares[g.members].sum()) > g.cap for g in groups)
    at_cap = sum(float(w[g.members].sum()) >= g.cap - 1e-9 for g in groups)

    lp_s = best_of(
        lambda: capped_weights(target, single_cap=SINGLE_CAP, groups=groups, min_constituents=10),
        repeat=5,
    )
    lp_single_s = best_of(
        lambda: capped_weights(target, single_cap=SINGLE_CAP, groups=[]), repeat=5
    )
    wf_s = best_of(lambda: capped_proportional(target, SINGLE_CAP), repeat=50)
    wf = capped_proportional(target, SINGLE_CAP)
    lp_single = capped_weights(target, single_cap=SINGLE_CAP, groups=[])

    print(
        f"{N:,} candidates ({int((target > 0).sum()):,} with a positive target), "
        f"{len(groups)} overlapping cap groups, single cap {SINGLE_CAP:.0%}"
    )
    print(
        f"target over its cap in {over} groups; solution at the cap in {at_cap}; "
        f"{int((w > 1e-9).sum()):,} holdings; L1 distance to target "
        f"{np.abs(w - shares).sum():.4f}; rules broken: {len(problems)}"
    )
    print(
        f"effective bets: {effective_bets(w, keys):.1f} (random dependencies connect "
        f"everything), by protocol {effective_bets_by(w, keys, 'protocol:'):.1f}, "
        f"by issuer {effective_bets_by(w, keys, 'issuer:'):.1f}"
    )
    print(f"{'step':<56} {'seconds':>9} {'vs target':>10}")
    rows = [
        ("capped_weights: single cap + all group caps", lp_s, TARGET_S),
        ("capped_weights: single cap only (LP)", lp_single_s, None),
        ("reference: capped_proportional (water-filling)", wf_s, None),
    ]
    for name, secs, goal in rows:
        ratio = f"{secs / goal:>9.2f}x" if goal else ""
        print(f"{name:<56} {secs:>9.4f} {ratio:>10}")
    print(f"capped_weights with all caps / capped_proportional: {lp_s / wf_s:,.0f}x")
    print(
        "single-cap LP equals water-filling to "
        f"{np.abs(lp_single - wf).max():.1e} (max abs difference)"
    )
    return 0 if not problems and lp_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
