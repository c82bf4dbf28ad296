"""``build_features``: every feature of every (id, date), vectorised over all ids at once.

Each feature looks only at the same id's rows dated on or before the row's date (no
look-ahead); the forward targets are added by ``features.targets``.

Raises:
    DataError: (``build_features``) malformed history or attributes, a history spanning
        too many days to be daily data, or a horizon below one day.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from realyield.core.errors import DataError
from realyield.scoring.features.preparation import _prepare_attrs, _prepare_history
from realyield.scoring.features.spec import (
    FEATURE_COLUMNS,
    HORIZON_DAYS,
    MIN_FUTURE_OBSERVATIONS,
    NUMERIC_FEATURES,
    TARGET_COLUMNS,
)
from realyield.scoring.features.targets import _add_targets

#: Days reserved per id on the combined (id, day) window key; histories must be shorter.
_SPAN: Final = 1 << 20


def _log_ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return numerator.log1p() - denominator.log1p()


def _lag_values(frame: pl.DataFrame, days: int) -> pl.DataFrame:
    """For each row, log APY and (carried-forward) log TVL of the same id's last
    observation dated on or before ``date - days`` (null when there is none)."""
    left = frame.select("_row", "_g", (pl.col("_dkey") - days).alias("_key"))
    right = frame.select(
        pl.col("_g").alias("_g_lag"),
        pl.col("_dkey").alias("_key"),
        pl.col("log_apy").alias("_apy"),
        pl.col("log_tvl").alias("_tvl"),
    )
    joined = left.join_asof(right, on="_key", strategy="backward", check_sortedness=False)
    same = pl.col("_g_lag") == pl.col("_g")
    return joined.select(
        "_row",
        pl.when(same).then(pl.col("_apy")).otherwise(None).alias(f"_lag_apy_{days}"),
        pl.when(same).then(pl.col("_tvl")).otherwise(None).alias(f"_lag_tvl_{days}"),
    )


def build_features(
    history: pl.DataFrame,
    attrs: pl.DataFrame | None = None,
    *,
    targets: bool = True,
    horizon_days: int = HORIZON_DAYS,
    min_future_obs: int = MIN_FUTURE_OBSERVATIONS,
) -> pl.DataFrame:
    """Features (and, with ``targets``, the forward targets) for every (id, date).

    Returns ``id, date, [source,] *FEATURE_COLUMNS`` plus, with ``targets``,
    ``target_median_30d, target_down, n_future, label_end`` (null where the future is
    not known), sorted by id and date.

    Raises:
        DataError: missing columns, wrong types, negative APY/TVL, or a bad horizon.
    """
    if horizon_days < 1 or min_future_obs < 1:
        raise DataError(
            f"horizon_days ({horizon_days}) and min_future_obs ({min_future_obs}) must be >= 1"
        )
    frame = _prepare_history(history)
    info = _prepare_attrs(attrs)
    has_source = "source" in frame.columns

    first_day = frame.select(pl.col("date").min()).item()
    last_day_seen = frame.select(pl.col("date").max()).item()
    if first_day is not None and (last_day_seen - first_day).days >= _SPAN:
        raise DataError(f"history spans {first_day}..{last_day_seen}: too long to be daily data")
    # One sorted integer key per row, with a gap of _SPAN between ids: a window on the
    # key can never reach into another id, so windows run once over the whole column
    # instead of once per id (the cost of ``.over`` with 20,000 ids).
    group = (pl.col("id") != pl.col("id").shift(1)).fill_null(True).cum_sum().cast(pl.Int64)
    frame = frame.with_columns(group.alias("_g")).with_columns(
        pl.col("date").cast(pl.Int64).alias("_day"),
        pl.lit(1.0).alias("_one"),
        pl.col("apy").log1p().alias("log_apy"),
        pl.col("tvl_usd").log1p().alias("_log_tvl_obs"),
        pl.int_range(1, pl.len() + 1).over("_g").cast(pl.Int64).alias("_n"),
    )
    offset = pl.col("_g") * (2 * _SPAN)
    frame = frame.with_columns(
        (offset + pl.col("_day") - pl.col("_day").min()).alias("_dkey"),
        (offset + pl.col("_n")).alias("_okey"),
        (pl.col("_g") != pl.col("_g").shift(1)).fill_null(True).alias("_start"),
        pl.col("_log_tvl_obs").forward_fill().over("_g").alias("log_tvl"),
    ).with_row_index("_row")
    apy = pl.col("apy")
    first_in_group = pl.col("_start")
    # expanding sums per id, shifted by the id's first APY so that the variance below
    # does not cancel catastrophically for large APYs
    centred = apy - apy.first().over("_g")
    cum = centred.cum_sum().over("_g")
    cum_sq = (centred * centred).cum_sum().over("_g")
    first_day_of_id = pl.col("_day").filter(first_in_group).gather(pl.col("_g") - 1)
    prev_day = pl.when(first_in_group).then(None).otherwise(pl.col("_day").shift(1))
    prev_log = pl.when(first_in_group).then(None).otherwise(pl.col("log_apy").shift(1))
    frame = frame.with_columns(
        pl.col("_n").cast(pl.Float64).alias("n_obs"),
        cum.alias("_cum"),
        cum_sq.alias("_cum_sq"),
        (pl.col("_day") - first_day_of_id).cast(pl.Float64).alias("days_since_first"),
        (pl.col("_day") - prev_day).cast(pl.Float64).alias("days_since_prev"),
        pl.when((apy > 0) & (pl.col("apy_base").is_not_null() | pl.col("apy_reward").is_not_null()))
        .then((pl.col("apy_reward").fill_null(0.0) / apy).clip(0.0, 1.0))
        .otherwise(None)
        .alias("reward_share"),
        apy.rolling_mean_by("_okey", "7i").alias("mean_7obs"),
        apy.rolling_std_by("_okey", "7i", min_samples=2).alias("std_7obs"),
        apy.rolling_mean_by("_okey", "30i").alias("mean_30obs"),
        apy.rolling_std_by("_okey", "30i", min_samples=2).alias("std_30obs"),
        apy.rolling_mean_by("_dkey", "7i").alias("mean_7d"),
        apy.rolling_mean_by("_dkey", "30i").alias("mean_30d"),
        apy.rolling_std_by("_dkey", "30i", min_samples=2).alias("std_30d"),
        apy.rolling_median_by("_dkey", "30i").alias("median_30d"),
        apy.rolling_min_by("_dkey", "30i").alias("min_30d"),
        apy.rolling_max_by("_dkey", "30i").alias("max_30d"),
        pl.col("_one").rolling_sum_by("_dkey", "30i").alias("obs_30d"),
        (pl.col("log_apy") - prev_log).alias("apy_change_1obs"),
    )
    n = pl.col("n_obs")
    frame = frame.with_columns(
        (pl.col("_cum") / n + apy.first().over("_g")).alias("mean_exp"),
        pl.when(n > 1)
        .then(
            ((pl.col("_cum_sq") - pl.col("_cum") * pl.col("_cum") / n) / (n - 1))
            .clip(lower_bound=0.0)
            .sqrt()
        )
        .otherwise(None)
        .alias("std_exp"),
    )
    for days in (7, 30):
        frame = frame.join(_lag_values(frame, days), on="_row", how="left")
    frame = frame.with_columns(
        _log_ratio(apy, pl.col("mean_7obs")).alias("rel_mean_7obs"),
        _log_ratio(apy, pl.col("mean_30d")).alias("rel_mean_30d"),
        _log_ratio(apy, pl.col("median_30d")).alias("rel_median_30d"),
        _log_ratio(apy, pl.col("mean_exp")).alias("rel_mean_exp"),
        (pl.col("std_30d") / (pl.col("mean_30d") + 0.01)).alias("cv_30d"),
        (pl.col("log_apy") - pl.col("_lag_apy_7")).alias("apy_change_7d"),
        (pl.col("log_apy") - pl.col("_lag_apy_30")).alias("apy_change_30d"),
        (pl.col("log_tvl") - pl.col("_lag_tvl_7")).alias("tvl_change_7d"),
        (pl.col("log_tvl") - pl.col("_lag_tvl_30")).alias("tvl_change_30d"),
    )
    frame = frame.join(info, on="id", how="left")

    out_cols = ["id", "date", *(["source"] if has_source else []), *FEATURE_COLUMNS]
    if targets:
        frame = _add_targets(frame, horizon_days=horizon_days, min_future_obs=min_future_obs)
        out_cols += list(TARGET_COLUMNS)
    frame = frame.sort("id", "date")
    return frame.select(out_cols).with_columns(pl.col(c).cast(pl.Float64) for c in NUMERIC_FEATURES)
