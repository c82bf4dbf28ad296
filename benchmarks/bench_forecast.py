"""Forecast inference for 20,000 opportunities with ~40 days of history each.

Run on demand (``python benchmarks/bench_forecast.py [--ids 20000] [--days 40]``); CI
does not time things. Synthesises a seeded history (log-APY random walks around
per-pool levels, TVL, base/reward split, about 10% of days missing) and attributes,
loads the packaged model and prints, separately, the seconds for

* feature building (``build_features`` over every row, no targets), and
* model prediction (the regressor and the classifier on the latest row per id, the
  output frame included), against the target of 0.2 s for 20,000 opportunities,

plus ``predict()`` end to end (both, as the CLI calls it). Best of three runs each.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import TypeVar

import numpy as np
import polars as pl

from realyield.scoring.features import MIN_OBSERVATIONS, build_features
from realyield.scoring.forecast import _predict_arrays, load_model, predict

TARGET_PREDICT_S = 0.2
T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 3) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def synthetic(n_ids: int, n_days: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    level = rng.normal(1.5, 1.2, n_ids)
    steps = rng.normal(0.0, 0.25, (n_ids, n_days)).cumsum(axis=1)
    apy = np.exp(level[:, None] + steps)
    reward = apy * rng.uniform(0.0, 0.8, n_ids)[:, None]
    tvl = np.exp(rng.normal(14.0, 2.0, n_ids)[:, None] + rng.normal(0, 0.03, (n_ids, n_days)))
    keep = rng.random((n_ids, n_days)) > 0.1
    start = date(2025, 1, 1)
    days = np.array([start + timedelta(days=d) for d in range(n_days)], dtype="datetime64[D]")
    ids = np.array([f"pool-{i:05d}" for i in range(n_ids)])
    history = pl.DataFrame(
        {
            "id": np.repeat(ids, n_days)[keep.ravel()],
            "date": np.tile(days, n_ids)[keep.ravel()],
            "apy": apy.ravel()[keep.ravel()],
            "apy_base": (apy - reward).ravel()[keep.ravel()],
            "apy_reward": reward.ravel()[keep.ravel()],
            "tvl_usd": tvl.ravel()[keep.ravel()],
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    chains = np.array(["ethereum", "arbitrum", "base", "solana", "bsc", "new-chain"])
    projects = np.array(["aave-v3", "pancakeswap-amm-v3", "aerodrome-slipstream", "other"])
    attrs = pl.DataFrame(
        {
            "id": ids,
            "chain": chains[rng.integers(0, len(chains), n_ids)],
            "project": projects[rng.integers(0, len(projects), n_ids)],
            "kind": np.where(rng.random(n_ids) < 0.5, "lending", "liquidity"),
            "stablecoin": rng.random(n_ids) < 0.4,
            "exposure": np.where(rng.random(n_ids) < 0.5, "single", "multi"),
        }
    )
    return history, attrs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ids", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=40)
    args = parser.parse_args()

    history, attrs = synthetic(args.ids, args.days)
    model = load_model()
    print(
        f"history: {history.height:,} rows, {args.ids:,} opportunities x {args.days} days "
        f"(~10% missing); model {model.version} ({len(model.feature_columns)} features)"
    )

    build_s, features = timed(lambda: build_features(history, attrs, targets=False))
    latest = features.unique(subset=["id"], keep="last", maintain_order=True).filter(
        pl.col("n_obs") >= MIN_OBSERVATIONS
    )

    def model_predict() -> tuple[np.ndarray, np.ndarray]:
        return _predict_arrays(
            model.regressor,
            model.classifier,
            model.categories,
            model.feature_columns,
            model.params.target,
            latest,
        )

    predict_s, _ = timed(model_predict)
    total_s, out = timed(lambda: predict(model, history, attrs))
    n = latest.height
    print(
        f"feature building : {build_s:7.3f} s  {history.height / build_s:12,.0f} rows/s "
        f"({features.height:,} rows x {len(model.feature_columns)} features)"
    )
    print(
        f"model prediction : {predict_s:7.3f} s  {n / predict_s:12,.0f} opportunities/s "
        f"(target {TARGET_PREDICT_S} s: {'PASS' if predict_s <= TARGET_PREDICT_S else 'MISS'}, "
        f"{predict_s / TARGET_PREDICT_S:.2f} x target)"
    )
    print(
        f"predict() total  : {total_s:7.3f} s  {out.height / total_s:12,.0f} opportunities/s "
        f"(features + prediction + output frame, {out['forecast_apy_30d'].is_not_null().sum():,} "
        "forecasts)"
    )


if __name__ == "__main__":
    main()
