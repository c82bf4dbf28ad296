"""Scoring and screening 20,000 opportunities (target: under 0.5 s on 2 cores).

Run on demand: ``python benchmarks/bench_scoring.py``. Opportunities are the bundled
snapshot's, replicated with varied APY, TVL, chain and protocol and DeFiLlama-style
statistics in ``meta`` (count, mu, sigma, apyMean30d), as a live ``/pools`` refresh
gives them. A second run adds a 30-day stored history per opportunity (600,000 rows)
so the history statistics are computed too. The reference is the time to construct
the 20,000 validated ``Opportunity`` records themselves.
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import timedelta

import numpy as np
import polars as pl

from realyield.core.model import Opportunity
from realyield.scoring.history_stats import history_stats
from realyield.scoring.score import score_universe
from realyield.sources.snapshot import SNAPSHOT_AS_OF, load_snapshot

N = 20_000
TARGET_S = 0.5


def synthetic_universe(n: int, seed: int = 7) -> list[Opportunity]:
    rng = np.random.default_rng(seed)
    base = load_snapshot().opportunities
    out = []
    for i in range(n):
        o = base[i % len(base)]
        scale = float(rng.lognormal(0, 0.5))
        apy_base = None if o.apy_base is None else o.apy_base * scale
        apy_reward = None if o.apy_reward is None else o.apy_reward * scale
        apy = (apy_base or 0.0) + (apy_reward or 0.0)
        out.append(
            replace(
                o,
                id=f"{o.id}#{i}",
                apy=apy,
                apy_base=apy_base,
                apy_reward=apy_reward,
                tvl_usd=float(rng.lognormal(16, 2.5)),
                meta={
                    "count": int(rng.integers(1, 900)),
                    "mu": apy * float(rng.uniform(0.5, 1.5)),
                    "sigma": float(rng.uniform(0, 2)),
                    "apy_mean_30d": apy * 0.9,
                    "outlier": bool(rng.random() < 0.01),
                },
            )
        )
    return out


def history_for(opps: list[Opportunity], days: int = 30) -> pl.DataFrame:
    end = SNAPSHOT_AS_OF.date()
    dates = [end - timedelta(days=d) for d in range(days)]
    ids = np.repeat([o.id for o in opps], days)
    apy = np.repeat([o.apy or 0.0 for o in opps], days) * np.random.default_rng(1).lognormal(
        0, 0.1, len(ids)
    )
    return pl.DataFrame(
        {"id": ids, "date": dates * len(opps), "apy": apy, "tvl_usd": np.full(len(ids), 1e7)}
    )


def best_of(fn: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    load_snapshot()  # warm the cache: not part of scoring
    as_of = SNAPSHOT_AS_OF.date()
    start = time.perf_counter()
    opps = synthetic_universe(N)
    build_s = time.perf_counter() - start
    score_universe(opps[:100], as_of=as_of)  # warm imports and table caches
    plain = best_of(lambda: score_universe(opps, as_of=as_of).table())
    history = history_for(opps)
    stats_s = best_of(lambda: history_stats(history, as_of=as_of))
    with_history = best_of(lambda: score_universe(opps, as_of=as_of, history=history).table())
    print(f"{'step':<52} {'seconds':>8} {'per second':>12} {'vs target':>10}")
    rows = [
        ("reference: build 20,000 Opportunity records", build_s, None),
        ("score + screen 20,000 (DeFiLlama meta stats)", plain, TARGET_S),
        ("history stats, 20,000 x 30 days (600k rows)", stats_s, None),
        ("score + screen 20,000 with stored history", with_history, None),
    ]
    for name, secs, target in rows:
        ratio = f"{secs / target:>9.2f}x" if target else ""
        print(f"{name:<52} {secs:>8.3f} {N / secs:>12,.0f} {ratio:>10}")
    print(f"scoring / building the records: {plain / build_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
