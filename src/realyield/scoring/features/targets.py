"""The forward targets: the median APY of the next 30 days and DeFiLlama's ``down`` label.

Targets are the only columns that look past a row's date; keeping them here, apart from
the features, makes that boundary easy to audit.

Raises:
    DataError: (``label_down``) a non-finite APY or median.
"""

from __future__ import annotations

import math

import polars as pl

from realyield.core.errors import DataError
from realyield.scoring.features.spec import DOWN_THRESHOLD


def _add_targets(frame: pl.DataFrame, *, horizon_days: int, min_future_obs: int) -> pl.DataFrame:
    """Median APY over (date, date + horizon] and the ``down`` label, where known.

    Rolling on a reversed day axis: with ``r = -day``, the window ``[r - h, r)`` holds
    exactly the days in ``(day, day + h]``.
    """
    last_day = frame.select(pl.col("_day").max()).item()
    window = f"{horizon_days}i"
    rev = frame.with_columns((-pl.col("_dkey")).alias("_rev")).sort("_rev")
    rev = rev.with_columns(
        pl.col("apy").rolling_median_by("_rev", window, closed="left").alias("_fmed"),
        pl.col("_one").rolling_sum_by("_rev", window, closed="left").alias("_fcount"),
    )
    known = (pl.col("_fcount") >= min_future_obs) & (
        pl.col("_day") + horizon_days <= (last_day if last_day is not None else 0)
    )
    median = pl.when(known).then(pl.col("_fmed")).otherwise(None)
    return rev.with_columns(
        median.alias("target_median_30d"),
        pl.when(known)
        .then(pl.col("_fmed") < (1.0 - DOWN_THRESHOLD) * pl.col("apy"))
        .otherwise(None)
        .alias("target_down"),
        pl.col("_fcount").fill_null(0.0).cast(pl.Int64).alias("n_future"),
        (pl.col("date") + pl.duration(days=horizon_days)).alias("label_end"),
    )


def label_down(apy: float, median_next: float) -> bool:
    """The ``down`` label for one pair of values (reference implementation for tests).

    ``(median_next - apy) / apy < -0.2``; at ``apy == 0`` a yield cannot fall, so False.
    """
    if not (math.isfinite(apy) and math.isfinite(median_next)):
        raise DataError(f"apy ({apy}) and median ({median_next}) must be finite")
    if apy == 0:
        return False
    return (median_next - apy) / apy < -DOWN_THRESHOLD
