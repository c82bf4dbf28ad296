"""The backtest kernel: 5 years daily x 200 assets with monthly rebalancing (target
< 0.3 s), 1,000 parameter variants as columns (target < 10 s), and the same weights run
through vectorbt's ``Portfolio.from_orders`` (target: not slower than vectorbt).

Run on demand: ``python benchmarks/bench_backtest.py``. Prices are seeded random walks
(fat-tailed daily returns, 4% daily volatility) and incomes random APYs, so the script
needs no data. Timings are the best of several runs; vectorbt's first call compiles its
numba kernels, which is timed apart and left out of the comparison. vectorbt is in the
``bench`` extra (``pip install -e '.[bench]'``); without it that part is skipped.

Both engines trade at the close to target weights with cash shared across the assets
(vectorbt: ``size_type="targetpercent"``, ``cash_sharing=True``, ``call_seq="auto"``
so sells come first). With costs vectorbt charges each order exactly, the kernel
charges the rebalance's cost on its traded value and pays it pro rata (a difference of
the order of cost squared); without costs the two equity curves agree to float rounding.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np

from realyield.backtest.kernels import simulate
from realyield.backtest.metrics import metrics_table, returns_from_values
from realyield.backtest.schedule import rebalance_days

YEARS, ASSETS, VARIANTS = 5, 200, 1_000
START = date(2019, 1, 1)
TARGET_ONE, TARGET_SWEEP = 0.3, 10.0


def market(seed: int = 20250630) -> tuple[np.ndarray, np.ndarray, list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    n_days = YEARS * 365 + 1
    returns = 0.04 * rng.standard_t(4, (n_days, ASSETS)) / np.sqrt(2.0)
    growth = np.exp(np.clip(returns, -0.9, 0.9))
    growth[0] = 1.0
    income = np.broadcast_to(rng.uniform(0, 0.12, ASSETS) / 365, (n_days, ASSETS)).copy()
    end = START + timedelta(days=n_days - 1)
    days = [(d - START).days for d in rebalance_days(START, end, "monthly")]
    weights = rng.dirichlet(np.ones(ASSETS), size=len(days))
    return growth, income, days, weights


def best_of(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run_vectorbt(
    growth: np.ndarray, days: list[int], weights: np.ndarray, fees: float
) -> tuple[float, float, np.ndarray] | None:
    try:
        import pandas as pd
        import vectorbt as vbt
    except ImportError:
        print("vectorbt comparison skipped: vectorbt is not installed (pip install -e '.[bench]')")
        return None
    prices = pd.DataFrame(np.cumprod(growth, axis=0) * 100.0)
    size = np.full(growth.shape, np.nan)
    size[days] = weights

    def once() -> object:
        return vbt.Portfolio.from_orders(
            prices,
            size=size,
            size_type="targetpercent",
            group_by=True,
            cash_sharing=True,
            call_seq="auto",
            fees=fees,
            init_cash=1.0,
            freq="1D",
        ).value()

    t = time.perf_counter()
    once()
    compile_s = time.perf_counter() - t
    seconds = best_of(once, 5)
    value = np.asarray(once()).ravel()
    return seconds, compile_s, value


def main() -> int:
    growth, income, days, weights = market()
    n_days = growth.shape[0]
    fees = 0.002

    def one() -> object:
        paths = simulate(growth, income, days, weights, cost_rate=fees)
        return metrics_table(returns_from_values(paths.nav))

    one_s = best_of(one, 7)
    print(
        f"{YEARS} years daily x {ASSETS} assets, monthly ({len(days)} rebalances), "
        f"with metrics: {one_s:7.4f} s ({one_s / TARGET_ONE:.2f}x the {TARGET_ONE} s target)"
    )

    rng = np.random.default_rng(1)
    variant_w = rng.dirichlet(np.ones(ASSETS), size=VARIANTS) * rng.uniform(0.7, 1.0, (VARIANTS, 1))
    targets = np.broadcast_to(variant_w, (len(days), VARIANTS, ASSETS))
    cost = rng.uniform(0.0, 0.004, (VARIANTS, 1))
    band = rng.uniform(0.0, 0.01, VARIANTS)

    def sweep() -> object:
        paths = simulate(growth, income, days, targets, cost_rate=cost, band=band)
        return metrics_table(returns_from_values(paths.nav))

    sweep_s = best_of(sweep, 2)
    print(
        f"{VARIANTS:,} variants as columns (weights, cost, band) x {ASSETS} assets x "
        f"{n_days} days: {sweep_s:7.3f} s ({sweep_s / TARGET_SWEEP:.2f}x the "
        f"{TARGET_SWEEP:.0f} s target)"
    )

    zero = np.zeros_like(income)
    kernel_s = best_of(lambda: simulate(growth, zero, days, weights, cost_rate=fees), 7)
    ours = simulate(growth, zero, days, weights, cost_rate=fees).nav[:, 0]
    ours_free = simulate(growth, zero, days, weights).nav[:, 0]
    vb = run_vectorbt(growth, days, weights, fees)
    if vb is not None:
        vb_s, compile_s, vb_value = vb
        vb_free = run_vectorbt(growth, days, weights, 0.0)
        assert vb_free is not None
        print(
            f"same weights (no income, {fees:.1%} fees): kernel {kernel_s:7.4f} s, vectorbt "
            f"from_orders {vb_s:7.4f} s (+{compile_s:.1f} s first-call compile): vectorbt / "
            f"kernel = {vb_s / kernel_s:.1f}x (target >= 1)"
        )
        print(
            f"  final value: kernel {ours[-1]:.6f}, vectorbt {vb_value[-1]:.6f} (relative "
            f"difference {ours[-1] / vb_value[-1] - 1:+.2e}); without fees "
            f"{np.max(np.abs(ours_free / vb_free[2] - 1)):.1e} at most over the path"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
