"""Forecast features from one ``/pools`` record, for pools without stored history.

A DeFiLlama ``/pools`` record carries a summary of the pool's past: today's APY and its
base/reward split, the APY changes over 1, 7 and 30 days (``apyPct1D/7D/30D``, in APY
points), the 30-day mean (``apyMean30d``), the expanding mean (``mu``), the number of
daily observations (``count``) and TVL. ``RECORD_FEATURES`` are the features of
``build_features`` that those fields determine; ``record_features`` computes them from
a frame of records with the same names and scales, so a model head trained on
``RECORD_FEATURES`` of real histories can score a dump's pools the day they are
imported. Changes are turned into the history's log ratios by reconstructing the past
APY (``apy - apyPctND``, floored at 0). Nothing here raises: a missing field is a null
feature.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import polars as pl

from realyield.core.model import Opportunity
from realyield.scoring.features.spec import CATEGORICAL_COLUMNS

#: The numeric features a ``/pools`` record determines (a subset of NUMERIC_FEATURES).
RECORD_NUMERIC: Final = (
    "apy",
    "log_apy",
    "reward_share",
    "mean_30d",
    "rel_mean_30d",
    "mean_exp",
    "rel_mean_exp",
    "apy_change_1obs",
    "apy_change_7d",
    "apy_change_30d",
    "log_tvl",
    "n_obs",
    "stablecoin",
)
RECORD_FEATURES: Final = RECORD_NUMERIC + CATEGORICAL_COLUMNS

#: The record fields read (snake_case, as ``Opportunity.meta`` and the CSV dumps name them).
RECORD_COLUMNS: Final = (
    "id",
    "apy",
    "apy_base",
    "apy_reward",
    "tvl_usd",
    "apy_pct_1d",
    "apy_pct_7d",
    "apy_pct_30d",
    "apy_mean_30d",
    "mu",
    "count",
    "chain",
    "project",
    "kind",
    "stablecoin",
    "exposure",
)


def _change(pct: str) -> pl.Expr:
    past = (pl.col("apy") - pl.col(pct)).clip(lower_bound=0.0)
    return pl.col("apy").log1p() - past.log1p()


def record_features(records: pl.DataFrame) -> pl.DataFrame:
    """``id`` and ``RECORD_FEATURES`` for each record (missing columns become null).

    ``records`` has ``RECORD_COLUMNS`` (any but ``id`` may be absent); APYs in percent.
    """
    frame = records
    for name in RECORD_COLUMNS:
        if name not in frame.columns:
            dtype = pl.Utf8 if name in ("id", *CATEGORICAL_COLUMNS) else pl.Float64
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    numbers = [c for c in RECORD_COLUMNS if c not in ("id", *CATEGORICAL_COLUMNS)]
    frame = frame.with_columns(pl.col(c).cast(pl.Float64, strict=False) for c in numbers)
    frame = frame.with_columns(
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).otherwise(None).alias(c) for c in numbers
    )
    apy = pl.col("apy").clip(lower_bound=0.0)
    split = pl.col("apy_base").is_not_null() | pl.col("apy_reward").is_not_null()
    return frame.select(
        pl.col("id").cast(pl.Utf8),
        apy.alias("apy"),
        apy.log1p().alias("log_apy"),
        pl.when((apy > 0) & split)
        .then((pl.col("apy_reward").fill_null(0.0) / apy).clip(0.0, 1.0))
        .otherwise(None)
        .alias("reward_share"),
        pl.col("apy_mean_30d").alias("mean_30d"),
        (apy.log1p() - pl.col("apy_mean_30d").clip(lower_bound=0.0).log1p()).alias("rel_mean_30d"),
        pl.col("mu").alias("mean_exp"),
        (apy.log1p() - pl.col("mu").clip(lower_bound=0.0).log1p()).alias("rel_mean_exp"),
        _change("apy_pct_1d").alias("apy_change_1obs"),
        _change("apy_pct_7d").alias("apy_change_7d"),
        _change("apy_pct_30d").alias("apy_change_30d"),
        pl.col("tvl_usd").clip(lower_bound=0.0).log1p().alias("log_tvl"),
        pl.col("count").alias("n_obs"),
        pl.col("stablecoin"),
        *(
            pl.col(c).cast(pl.Utf8).str.strip_chars().str.to_lowercase().alias(c)
            for c in CATEGORICAL_COLUMNS
        ),
    )


def record_frame(opps: Iterable[Opportunity]) -> pl.DataFrame:
    """``RECORD_COLUMNS`` (plus DeFiLlama's ``predicted_class``/``predicted_probability``)
    of imported opportunities, read from their fields and ``meta``."""
    rows: list[dict[str, object]] = []
    for o in opps:
        meta = o.meta or {}
        rows.append(
            {
                "id": o.id,
                "apy": o.apy,
                "apy_base": o.apy_base,
                "apy_reward": o.apy_reward,
                "tvl_usd": o.tvl_usd,
                **{k: _number(meta.get(k)) for k in _META_FIELDS},
                "chain": o.chain,
                "project": o.protocol,
                "kind": o.kind,
                "stablecoin": None if o.stablecoin is None else float(o.stablecoin),
                "exposure": o.exposure,
                "predicted_class": meta.get("predicted_class"),
                "predicted_probability": _number(meta.get("predicted_probability")),
            }
        )
    schema = {
        name: (pl.Utf8 if name in _TEXT_FIELDS else pl.Float64)
        for name in (*RECORD_COLUMNS, "predicted_class", "predicted_probability")
    }
    return pl.DataFrame(rows, schema=schema)


_META_FIELDS: Final = ("apy_pct_1d", "apy_pct_7d", "apy_pct_30d", "apy_mean_30d", "mu", "count")
_TEXT_FIELDS: Final = ("id", *CATEGORICAL_COLUMNS, "predicted_class")


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
