"""Filtering and sorting a scored table: what ``realyield screen`` and the API's
``/v1/opportunities`` (and the dashboard's screener) show.

Kept in the library so the command line and the API filter and order the same way.
Sorting is total and stable: ties (and missing values, always last) are broken by id,
so a page boundary in a paginated listing never drops or repeats a row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from realyield.core.errors import ConfigError
from realyield.core.model import OPPORTUNITY_KINDS

#: sort name -> (column of ``ScoredUniverse.table()``, descending by default)
SORTS: dict[str, tuple[str, bool]] = {
    "sustainable": ("apy_sustainable", True),
    "apy": ("apy", True),
    "sustainability": ("sustainability", True),
    "risk": ("risk", False),  # lowest risk first
    "tvl": ("tvl_usd", True),
    "forecast": ("forecast_apy_30d", True),
}


@dataclass(frozen=True)
class ScreenerQuery:
    """Filters and order of a screener view. Text filters match case-insensitively.

    Raises:
        ConfigError: an unknown kind or sort, or a bound outside 0-100 / negative TVL.
    """

    kind: str | None = None
    chain: str | None = None
    protocol: str | None = None
    min_sustainability: float | None = None
    max_risk: float | None = None
    min_tvl_usd: float | None = None
    include_excluded: bool = False
    sort: str = "sustainable"
    descending: bool | None = None  # None: the sort's natural order

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in OPPORTUNITY_KINDS:
            raise ConfigError(f"unknown kind {self.kind!r}; use one of {OPPORTUNITY_KINDS}")
        if self.sort not in SORTS:
            raise ConfigError(f"unknown sort {self.sort!r}; use one of {tuple(SORTS)}")
        for name in ("min_sustainability", "max_risk"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 100:
                raise ConfigError(f"{name} must be between 0 and 100, not {value}")
        if self.min_tvl_usd is not None and not self.min_tvl_usd >= 0:
            raise ConfigError(f"min TVL must be a non-negative number, not {self.min_tvl_usd}")

    @property
    def column(self) -> str:
        return SORTS[self.sort][0]

    @property
    def is_descending(self) -> bool:
        return SORTS[self.sort][1] if self.descending is None else self.descending


def apply_screener(table: pl.DataFrame, query: ScreenerQuery) -> pl.DataFrame:
    """The rows of a ``ScoredUniverse.table()`` that pass ``query``, in its order.

    A sort column the table lacks (no forecast was made) sorts every row as missing,
    i.e. by id; NaN values count as missing (after every number).
    """
    out = table
    if not query.include_excluded:
        out = out.filter(~pl.col("excluded"))
    if query.kind is not None:
        out = out.filter(pl.col("kind") == query.kind)
    for name, value in (("chain", query.chain), ("protocol", query.protocol)):
        if value is not None:
            out = out.filter(pl.col(name).str.to_lowercase() == value.lower())
    if query.min_sustainability is not None:
        out = out.filter(pl.col("sustainability") >= query.min_sustainability)
    if query.max_risk is not None:
        out = out.filter(pl.col("risk") <= query.max_risk)
    if query.min_tvl_usd is not None:
        out = out.filter(pl.col("tvl_usd") >= query.min_tvl_usd)
    column = query.column
    if column not in out.columns:
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(column))
    elif out.schema[column].is_float():  # NaN is "missing" too: last, like null
        out = out.with_columns(pl.col(column).fill_nan(None))
    return out.sort([column, "id"], descending=[query.is_descending, False], nulls_last=True)


def clean_value(value: Any) -> Any:
    """NaN and infinities become ``None`` (JSON has no NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def screener_rows(table: pl.DataFrame) -> list[dict[str, Any]]:
    """The table as JSON-ready dicts."""
    return [{k: clean_value(v) for k, v in row.items()} for row in table.iter_rows(named=True)]


def rows_after(
    table: pl.DataFrame, query: ScreenerQuery, value: float | None, last_id: str
) -> pl.DataFrame:
    """The rows of ``apply_screener(..., query)`` that come after the row whose sort
    value is ``value`` and id ``last_id`` (keyset pagination: a page boundary stays
    right even when rows were added or removed since the previous page)."""
    col, ident = pl.col(query.column), pl.col("id")
    if value is None:
        return table.filter(col.is_null() & (ident > last_id))
    beyond = col < value if query.is_descending else col > value
    return table.filter(beyond | ((col == value) & (ident > last_id)) | col.is_null())
