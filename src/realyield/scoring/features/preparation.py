"""Inputs of ``build_features``: history and attribute frames, built and validated.

``history_from_points`` and ``attrs_from_pool_info`` turn imported records into frames;
``_prepare_history`` and ``_prepare_attrs`` check, cast and de-duplicate whatever frame
a caller passes, so that feature construction can assume clean, sorted input.

Raises:
    DataError: (from the ``_prepare_*`` helpers) a frame that is not a polars DataFrame,
        missing or wrongly typed columns, or a negative APY or TVL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import polars as pl

from realyield.core.errors import DataError
from realyield.core.model import ApyPoint
from realyield.scoring.features.spec import CATEGORICAL_COLUMNS, HISTORY_COLUMNS
from realyield.scoring.features.symbols import exposure_from_symbol, stablecoin_from_symbol

_HISTORY_SCHEMA: Final = {
    "id": pl.Utf8,
    "date": pl.Date,
    "apy": pl.Float64,
    "apy_base": pl.Float64,
    "apy_reward": pl.Float64,
    "tvl_usd": pl.Float64,
}


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
