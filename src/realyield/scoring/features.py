"""Feature and target construction for the forward-yield forecast (pure, vectorised).

Input is a long daily history (``id, date, apy, apy_base, apy_reward, tvl_usd``; APY in
percent, gaps allowed) and a static attributes frame (``id, chain, project, kind,
stablecoin, exposure``; any may be null or missing). ``build_features`` returns one row
per (id, date) observation with:

* **features** (``FEATURE_COLUMNS``), each computed ONLY from that id's rows dated on or
  before the row's date: no look-ahead, so appending or changing later rows never
  changes an earlier row's features (property-tested);
* **targets** (only where the future is known): ``target_median_30d``, the median APY of
  the observations dated in ``(date, date + 30 days]``, when there are at least
  ``MIN_FUTURE_OBSERVATIONS`` of them and the history extends to ``date + 30 days``; and
  ``target_down``, DeFiLlama's label ``(median_next_30d - apy) / apy < -0.2``, computed
  as ``median_next_30d < 0.8 * apy`` so that it is defined at ``apy == 0``: a zero
  yield cannot fall, so ``down`` is false there (a median below zero is impossible);
* ``label_end`` (= ``date + horizon``): the last day the target looks at, which the
  walk-forward evaluation uses to keep training labels out of the test period.

"Observations" are rows with a known APY; rows without one are dropped, and duplicate
(id, date) rows keep the last one. Windows named ``*_7obs`` count observations, windows
named ``*_7d``/``*_30d`` count calendar days ending on the row's date (inclusive).
Ratios are taken on the ``log1p`` scale so that APYs of 0 and of 10,000% both stay finite.

Categorical attributes are returned as strings (null when unknown); the model encodes
them with a vocabulary learnt at training time, so unseen categories at inference are
treated as missing rather than crashing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Final

import polars as pl

from realyield.core.errors import DataError
from realyield.core.model import ApyPoint

#: Fewer observations than this up to the prediction date: no forecast.
MIN_OBSERVATIONS: Final = 7
#: The forecast horizon: the target is the median APY of the next this many days.
HORIZON_DAYS: Final = 30
#: A target needs at least this many observations inside its future window.
MIN_FUTURE_OBSERVATIONS: Final = 10
#: DeFiLlama's threshold: "down" when the next-30-day median is 20% below today's APY.
DOWN_THRESHOLD: Final = 0.2

HISTORY_COLUMNS: Final = ("id", "date", "apy", "apy_base", "apy_reward", "tvl_usd")
ATTRIBUTE_COLUMNS: Final = ("id", "chain", "project", "kind", "stablecoin", "exposure")
#: Categorical features (strings here, encoded by the model).
CATEGORICAL_COLUMNS: Final = ("chain", "project", "kind", "exposure")
NUMERIC_FEATURES: Final = (
    "apy",
    "log_apy",
    "reward_share",
    "mean_7obs",
    "std_7obs",
    "mean_30obs",
    "std_30obs",
    "mean_7d",
    "mean_30d",
    "std_30d",
    "median_30d",
    "min_30d",
    "max_30d",
    "mean_exp",
    "std_exp",
    "rel_mean_7obs",
    "rel_mean_30d",
    "rel_median_30d",
    "rel_mean_exp",
    "cv_30d",
    "apy_change_1obs",
    "apy_change_7d",
    "apy_change_30d",
    "log_tvl",
    "tvl_change_7d",
    "tvl_change_30d",
    "n_obs",
    "days_since_first",
    "days_since_prev",
    "obs_30d",
    "stablecoin",
)
FEATURE_COLUMNS: Final = NUMERIC_FEATURES + CATEGORICAL_COLUMNS
TARGET_COLUMNS: Final = ("target_median_30d", "target_down", "n_future", "label_end")

#: Symbols treated as USD (or EUR) stablecoins when guessing ``stablecoin`` from a symbol.
STABLE_SYMBOLS: Final = frozenset(
    {
        "USDC",
        "USDT",
        "DAI",
        "USDS",
        "SUSDS",
        "SDAI",
        "GHO",
        "FRAX",
        "LUSD",
        "USDP",
        "TUSD",
        "BUSD",
        "SUSD",
        "GUSD",
        "PYUSD",
        "USDE",
        "SUSDE",
        "CRVUSD",
        "USDC.E",
        "USDBC",
        "USDT0",
        "USD0",
        "USD1",
        "FDUSD",
        "RLUSD",
        "DOLA",
        "MIM",
        "EURC",
        "EURS",
        "AGEUR",
        "EURA",
        "USDD",
        "USDB",
        "AUSDC",
        "AUSDT",
        "ADAI",
        "CUSDC",
        "CDAI",
        "CUSDT",
        "USDM",
        "DEUSD",
        "USDX",
        "FXUSD",
        "BOLD",
        "SCUSD",
        "USR",
        "USDA",
        "USDZ",
        "LISUSD",
        "HAY",
        "AXLUSDC",
    }
)

#: Days reserved per id on the combined (id, day) window key; histories must be shorter.
_SPAN: Final = 1 << 20

_HISTORY_SCHEMA: Final = {
    "id": pl.Utf8,
    "date": pl.Date,
    "apy": pl.Float64,
    "apy_base": pl.Float64,
    "apy_reward": pl.Float64,
    "tvl_usd": pl.Float64,
}


def stablecoin_from_symbol(symbol: str | None) -> bool | None:
    """True when every token of ``symbol`` (split on ``-``, ``/``, ``+``, ``_``) is a
    known stablecoin, False when any is not, None when the symbol is empty."""
    if symbol is None or not symbol.strip():
        return None
    parts = [
        p.strip().upper()
        for p in symbol.replace("/", "-").replace("+", "-").replace("_", "-").split("-")
    ]
    parts = [p for p in parts if p]
    if not parts:
        return None
    return all(p in STABLE_SYMBOLS for p in parts)


def exposure_from_symbol(symbol: str | None) -> str | None:
    """``"multi"`` for a pair/basket symbol (``A-B``), ``"single"`` otherwise."""
    if symbol is None or not symbol.strip():
        return None
    parts = [p for p in symbol.replace("/", "-").split("-") if p.strip()]
    return "multi" if len(parts) > 1 else "single"


def history_from_points(points: Iterable[ApyPoint], *, source: str | None = None) -> pl.DataFrame:
    """ApyPoints (e.g. from ``sources.files.import_apy_history``) as a history frame.

    With ``source``, a constant ``source`` column names the dataset (the evaluation
    reports metrics per source).
    """
    rows = [(p.opportunity_id, p.date, p.apy, p.apy_base, p.apy_reward, p.tvl_usd) for p in points]
    frame = pl.DataFrame(rows, schema=_HISTORY_SCHEMA, orient="row")
    if source is not None:
        frame = frame.with_columns(pl.lit(source, dtype=pl.Utf8).alias("source"))
    return frame


def attrs_from_pool_info(
    pool_info: Mapping[str, Mapping[str, str]],
    *,
    kind: str | None = None,
    ids: Iterable[str] = (),
) -> pl.DataFrame:
    """An attributes frame from an import's ``pool_info`` (chain, project, symbol per id).

    ``stablecoin`` and ``exposure`` are guessed from the symbol; ``kind`` is the given
    one for every row. ``ids`` adds rows (all null but kind) for series without info.
    """
    rows: dict[str, tuple[str, str | None, str | None, str | None, bool | None, str | None]]
    rows = {}
    for key, info in pool_info.items():
        symbol = info.get("symbol")
        rows[key] = (
            key,
            info.get("chain"),
            info.get("project"),
            kind,
            stablecoin_from_symbol(symbol),
            exposure_from_symbol(symbol),
        )
    for key in ids:
        rows.setdefault(key, (key, None, None, kind, None, None))
    schema = {
        "id": pl.Utf8,
        "chain": pl.Utf8,
        "project": pl.Utf8,
        "kind": pl.Utf8,
        "stablecoin": pl.Boolean,
        "exposure": pl.Utf8,
    }
    return pl.DataFrame(list(rows.values()), schema=schema, orient="row")


def _prepare_history(history: pl.DataFrame) -> pl.DataFrame:
    """Validate, cast, drop unusable rows, dedupe (id, date), sort by id and date.

    Raises:
        DataError: not a frame, missing ``id``/``date``/``apy`` columns, uncastable
            types, or a negative APY or TVL.
    """
    if not isinstance(history, pl.DataFrame):
        raise DataError(f"history must be a polars DataFrame, not {type(history).__name__}")
    missing = [c for c in ("id", "date", "apy") if c not in history.columns]
    if missing:
        raise DataError(
            f"history is missing column(s) {missing}; expected {list(HISTORY_COLUMNS)} "
            f"(found {history.columns})"
        )
    frame = history
    for name in ("apy_base", "apy_reward", "tvl_usd"):
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(name))
    keep = [*HISTORY_COLUMNS, *(["source"] if "source" in frame.columns else [])]
    frame = frame.select(keep)
    try:
        date_dtype = frame.schema["date"]
        date_expr = pl.col("date")
        if isinstance(date_dtype, pl.Datetime):
            date_expr = date_expr.dt.date()
        elif date_dtype == pl.Utf8:
            date_expr = date_expr.str.to_date()
        frame = frame.with_columns(
            pl.col("id").cast(pl.Utf8),
            date_expr.cast(pl.Date).alias("date"),
            *(pl.col(c).cast(pl.Float64) for c in ("apy", "apy_base", "apy_reward", "tvl_usd")),
            *([pl.col("source").cast(pl.Utf8)] if "source" in frame.columns else []),
        )
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise DataError(f"history has columns of the wrong type: {exc}") from exc
    # NaN/inf are not values: treat them as missing, then drop rows without an APY.
    frame = frame.with_columns(
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).otherwise(None).alias(c)
        for c in ("apy", "apy_base", "apy_reward", "tvl_usd")
    ).filter(
        pl.col("id").is_not_null() & pl.col("date").is_not_null() & pl.col("apy").is_not_null()
    )
    bad = frame.filter(
        (pl.col("apy") < 0)
        | (pl.col("apy_base") < 0)
        | (pl.col("apy_reward") < 0)
        | (pl.col("tvl_usd") < 0)
    )
    if bad.height:
        first = bad.row(0, named=True)
        raise DataError(
            f"history has {bad.height} row(s) with a negative APY or TVL, e.g. "
            f"id={first['id']!r} date={first['date']} apy={first['apy']} "
            f"tvl_usd={first['tvl_usd']}; APYs are percent >= 0"
        )
    return (
        frame.with_row_index("_order")
        .sort("id", "date", "_order")
        .unique(subset=["id", "date"], keep="last", maintain_order=True)
        .drop("_order")
    )


def _prepare_attrs(attrs: pl.DataFrame | None) -> pl.DataFrame:
    """One row per id with every attribute column (strings; stablecoin as 1.0/0.0/null)."""
    schema = {
        "id": pl.Utf8,
        "chain": pl.Utf8,
        "project": pl.Utf8,
        "kind": pl.Utf8,
        "stablecoin": pl.Boolean,
        "exposure": pl.Utf8,
    }
    if attrs is None:
        attrs = pl.DataFrame(schema=schema)
    if not isinstance(attrs, pl.DataFrame):
        raise DataError(f"attrs must be a polars DataFrame or None, not {type(attrs).__name__}")
    if "id" not in attrs.columns:
        raise DataError(f"attrs needs an 'id' column; found {attrs.columns}")
    frame = attrs
    for name, dtype in schema.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    try:
        stable = pl.col("stablecoin")
        if frame.schema["stablecoin"] == pl.Utf8:
            stable = stable.str.to_lowercase().replace_strict(
                {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False},
                default=None,
                return_dtype=pl.Boolean,
            )
        frame = frame.select(
            pl.col("id").cast(pl.Utf8),
            *(
                pl.col(c).cast(pl.Utf8).str.strip_chars().str.to_lowercase()
                for c in CATEGORICAL_COLUMNS
            ),
            stable.cast(pl.Boolean).cast(pl.Float64).alias("stablecoin"),
        )
    except (pl.exceptions.PolarsError, ValueError, TypeError) as exc:
        raise DataError(f"attrs has columns of the wrong type: {exc}") from exc
    frame = frame.with_columns(
        pl.when(pl.col(c).str.len_chars() > 0).then(pl.col(c)).otherwise(None).alias(c)
        for c in CATEGORICAL_COLUMNS
    )
    return frame.filter(pl.col("id").is_not_null()).unique(
        subset=["id"], keep="first", maintain_order=True
    )


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


def latest_rows(features: pl.DataFrame, *, as_of: date | datetime | None = None) -> pl.DataFrame:
    """The last row per id dated on or before ``as_of`` (all rows when None)."""
    frame = features
    if as_of is not None:
        day = as_of.date() if isinstance(as_of, datetime) else as_of
        frame = frame.filter(pl.col("date") <= day)
    return frame.sort("id", "date").unique(subset=["id"], keep="last", maintain_order=True)
