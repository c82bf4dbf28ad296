"""The universe as it stood on a past date, rebuilt from stored histories.

Index levels and backtests must rebalance with what was known then: an opportunity's
APY parts and TVL on that day (the latest history row at most ``max_gap_days`` old), and
an asset's price and market cap on that day. Opportunities without a history row in
that window did not exist yet, or had died: they are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from realyield.core.model import Asset, Opportunity

_DAY_SHIFT = 1 << 31  # day numbers made non-negative inside the composite sort key
_KEY_SHIFT = 1 << 32
_EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    """Days since 1970-01-01 (Polars' integer form of a ``Date``)."""
    return (day - _EPOCH).days


class SortedHistory:
    """A dated table (``key``, ``date``, ...) sorted once by key then date, answering
    as-of questions for many days with binary searches (a replay asks once per
    rebalance; re-sorting the table each time cost more than the questions).

    Keys are numbered 0.. in sorted order (``keys``); ``start``/``stop`` bound each key's
    rows in ``frame`` and ``day`` holds every row's day number. Rows sharing a key and a
    date keep their order in the input; the last one counts as the latest.
    """

    def __init__(self, frame: pl.DataFrame, key: str) -> None:
        self.frame = frame.sort(key, "date", maintain_order=True)
        code = self.frame[key].rle_id().to_numpy().astype(np.int64)
        self.keys: list[str] = self.frame[key].unique(maintain_order=True).to_list()
        self.codes = np.arange(len(self.keys), dtype=np.int64)
        self.day = self.frame["date"].cast(pl.Int32).to_numpy().astype(np.int64)
        self._sort_key = code * _KEY_SHIFT + self.day + _DAY_SHIFT
        self.start = np.searchsorted(code, self.codes)
        self.stop = np.searchsorted(code, self.codes, side="right")
        self.code_of = {k: c for c, k in enumerate(self.keys)}
        self._numbers: dict[str, NDArray[np.float64]] = {}
        self._values: dict[str, list[Any]] = {}

    def values(self, column: str) -> list[Any]:
        """A column of ``frame`` as Python values, null as ``None`` (converted once)."""
        if column not in self._values:
            self._values[column] = self.frame[column].to_list()
        return self._values[column]

    def numbers(self, column: str) -> NDArray[np.float64]:
        """A numeric column of ``frame`` as float64, null as NaN (converted once)."""
        if column not in self._numbers:
            values = self.frame[column].cast(pl.Float64).to_numpy()
            self._numbers[column] = values.astype(np.float64, copy=False)
        return self._numbers[column]

    def ends(
        self, day: int | NDArray[np.int64], codes: NDArray[np.int64] | None = None
    ) -> NDArray[np.intp]:
        """For each key (all, or ``codes``), one past its last row dated at or before
        ``day`` (a day number, or one per key); equal to its ``start`` when none is."""
        codes = self.codes if codes is None else codes
        found: NDArray[np.intp] = np.searchsorted(
            self._sort_key, codes * _KEY_SHIFT + day + _DAY_SHIFT, "right"
        )
        return found

    def latest_positions(self, day: date, max_gap_days: int) -> dict[str, int]:
        """Key -> position in ``frame`` of its latest row dated in
        ``[day - max_gap_days, day]`` (keys without one are left out)."""
        number = day_number(day)
        last = self.ends(number) - 1
        ok = (last >= self.start) & (self.day[np.maximum(last, 0)] >= number - max_gap_days)
        keys = self.keys
        return {
            keys[c]: p for c, p in zip(np.flatnonzero(ok).tolist(), last[ok].tolist(), strict=True)
        }

    def latest(self, day: date, max_gap_days: int) -> pl.DataFrame:
        """Each key's latest row dated in ``[day - max_gap_days, day]`` (keys without
        one are left out)."""
        rows: pl.DataFrame = self.frame[list(self.latest_positions(day, max_gap_days).values())]
        return rows


def _sorted(frame: pl.DataFrame | SortedHistory, key: str) -> SortedHistory:
    return frame if isinstance(frame, SortedHistory) else SortedHistory(frame, key)


def opportunities_at(
    opps: Sequence[Opportunity],
    history: pl.DataFrame | SortedHistory,
    day: date,
    *,
    max_gap_days: int = 7,
) -> list[Opportunity]:
    """Each opportunity with its APY parts and TVL as of ``day`` (dated that day).

    ``history`` is the APY history (``id, date, apy, apy_base, apy_reward, tvl_usd``), or
    a ``SortedHistory`` over it when asking for many days."""
    rows = _sorted(history, "id")
    at_row = rows.latest_positions(day, max_gap_days)
    apy, base, reward, tvl = (rows.values(c) for c in ("apy", "apy_base", "apy_reward", "tvl_usd"))
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = []
    for o in opps:
        p = at_row.get(o.id)
        if p is None or apy[p] is None:
            continue
        out.append(
            o.restated(apy=apy[p], apy_base=base[p], apy_reward=reward[p], tvl_usd=tvl[p], as_of=at)
        )
    return out


def assets_at(
    assets: Sequence[Asset],
    prices: pl.DataFrame | SortedHistory,
    day: date,
    *,
    max_gap_days: int = 7,
) -> dict[str, Asset]:
    """Assets with the price and market cap they had on ``day`` (when known then).

    ``prices`` is the price history (``asset_id, date, price_usd[, market_cap_usd]``), or
    a ``SortedHistory`` over it when asking for many days."""
    rows = _sorted(prices, "asset_id")
    at_row = rows.latest_positions(day, max_gap_days)
    price = rows.values("price_usd")
    cap = rows.values("market_cap_usd") if "market_cap_usd" in rows.frame.columns else None
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = {}
    for a in assets:
        p = at_row.get(a.id)
        if p is None:
            continue
        out[a.id] = replace(
            a,
            price_usd=price[p],
            market_cap_usd=(cap[p] if cap is not None else None) or None,
            as_of=at,
        )
    return out
