"""Per-opportunity statistics of the APY/TVL history, as of a date (no look-ahead).

These feed the screens (history length, spike against the 30-day mean, outliers on mu
and sigma) and the stability and TVL-trend factors. ``mu`` and ``sigma`` follow
DeFiLlama's published meaning: the mean and standard deviation of the pool's APY over
its whole history so far.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

STATS_COLUMNS = (
    "id",
    "n_obs",
    "first_date",
    "last_date",
    "mu",
    "sigma",
    "mean_30d",
    "std_30d",
    "tvl_change_30d",
)


def history_stats(history: pl.DataFrame, *, as_of: date | None = None) -> pl.DataFrame:
    """One row per id: observation count, first/last date, mu, sigma, 30-day mean/std of
    APY, and the relative TVL change over the last 30 days (fraction).

    ``history`` has at least ``id, date, apy, tvl_usd``; rows after ``as_of`` are ignored.
    """
    if history.is_empty():
        return pl.DataFrame(
            schema={
                "id": pl.Utf8,
                "n_obs": pl.UInt32,
                "first_date": pl.Date,
                "last_date": pl.Date,
                "mu": pl.Float64,
                "sigma": pl.Float64,
                "mean_30d": pl.Float64,
                "std_30d": pl.Float64,
                "tvl_change_30d": pl.Float64,
            }
        )
    frame = history.select("id", "date", "apy", "tvl_usd")
    if as_of is not None:
        frame = frame.filter(pl.col("date") <= as_of)
    frame = frame.filter(pl.col("apy").is_not_null()).sort("id", "date")
    last = pl.col("date").max().over("id")
    recent = pl.col("date") > last - timedelta(days=30)
    tvl_now = pl.col("tvl_usd").drop_nulls().last()
    tvl_then = (
        pl.col("tvl_usd")
        .filter(pl.col("date") <= pl.col("date").max() - timedelta(days=30))
        .drop_nulls()
        .last()
    )
    return (
        frame.with_columns(recent.alias("_recent"))
        .group_by("id")
        .agg(
            pl.len().alias("n_obs"),
            pl.col("date").min().alias("first_date"),
            pl.col("date").max().alias("last_date"),
            pl.col("apy").mean().alias("mu"),
            pl.col("apy").std().alias("sigma"),
            pl.col("apy").filter(pl.col("_recent")).mean().alias("mean_30d"),
            pl.col("apy").filter(pl.col("_recent")).std().alias("std_30d"),
            (tvl_now / tvl_then - 1.0).alias("tvl_change_30d"),
        )
    )
