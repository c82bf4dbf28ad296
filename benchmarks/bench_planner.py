"""Monte Carlo throughput: 10,000 paths x 40 years monthly with withdrawals and taxes
(target < 1 s), and 100,000 paths (target < 10 s and < 2 GiB peak memory).

Run on demand: ``python benchmarks/bench_planner.py``. The price history is 10 years
of monthly returns with crypto-like volatility (a fixed seed), bootstrapped in 6-month
blocks; yields carry uncertainty and decaying emissions; withdrawals are
inflation-indexed guardrails with income and sales taxes and half of spare income
reinvested, and tail-risk jumps from 20 sources: every branch of the kernel runs. Peak
memory is tracemalloc's peak of Python and numpy allocations during the run (numpy
reports its buffers to it), and the process's max RSS for reference. The reference
for the ratios is the target.
"""

from __future__ import annotations

import resource
import sys
import time
import tracemalloc

import numpy as np

from realyield.planning.montecarlo import PlanConfig, YieldModel, simulate
from realyield.planning.outcomes import summarize
from realyield.planning.samplers import BlockBootstrap

CONFIG = PlanConfig(
    capital=1_000_000,
    income_per_year=50_000,
    horizon_years=40,
    withdrawal="guardrails",
    reinvest=0.5,
    tax_income=0.25,
    tax_sales=0.15,
    inflation=0.03,
)
YIELDS = YieldModel(real=0.045, emission=0.01, vol=0.3)
HISTORY = np.random.default_rng(42).standard_t(4, 120) * 0.12 + 0.004
JUMPS = (np.full(20, 0.01), np.full(20, 0.05))  # 20 sources, 1% a year each, 5% loss


def run(paths: int) -> tuple[float, float, float]:
    tracemalloc.start()
    start, cpu = time.perf_counter(), time.process_time()
    totals = simulate(CONFIG, BlockBootstrap(HISTORY, 6), YIELDS, paths=paths, seed=1, jumps=JUMPS)
    out = summarize(totals, CONFIG)
    seconds = time.perf_counter() - start
    CPU.append(time.process_time() - cpu)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**30, out.success_probability


CPU: list[float] = []  # CPU seconds of each run (this machine is shared: wall time varies)


def main() -> int:
    run(1_000)  # warm-up (imports, numpy first calls)
    best = min(run(10_000)[0] for _ in range(3))
    print(
        f"10,000 paths x 40 years monthly:  {best:6.3f} s  ({best / 1.0:.2f}x the 1 s target; "
        f"CPU {min(CPU[-3:]):.3f} s)"
    )
    seconds, peak_gib, success = run(100_000)
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"100,000 paths x 40 years monthly: {seconds:6.3f} s  ({seconds / 10.0:.2f}x the 10 s "
        f"target; CPU {CPU[-1]:.3f} s); peak traced memory {peak_gib:.3f} GiB "
        f"({peak_gib / 2.0:.2f}x the 2 GiB target), process max RSS {rss_gib:.3f} GiB; "
        f"success probability {success:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
