"""The universe as it stood on a past date, rebuilt from stored histories.

Index levels and backtests must rebalance with what was known then: an opportunity's
APY parts and TVL on that day (the latest history row at most ``max_gap_days`` old), and
an asset's price and market cap on that day. Opportunities without a history row in
that window did not exist yet, or had died: they are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    A day without a published market cap gets the last known circulating supply times
    that day's price, when the frame carries ``supply`` (``with_implied_supply``) and
    that supply is at most ``MAX_SUPPLY_AGE_DAYS`` old. ``prices`` is the price history
    (``asset_id, date, price_usd[, market_cap_usd]``), or
    a ``SortedHistory`` over it when asking for many days."""
    rows = _sorted(prices, "asset_id")
    at_row = rows.latest_positions(day, max_gap_days)
    price = rows.values("price_usd")
    cap = rows.values("market_cap_usd") if "market_cap_usd" in rows.frame.columns else None
    implied = "supply" in rows.frame.columns
    supply = rows.values("supply") if implied else None
    supply_day = rows.values("supply_date") if implied else None
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = {}
    for a in assets:
        p = at_row.get(a.id)
        if p is None:
            continue
        known = (cap[p] if cap is not None else None) or None
        circulating = a.circulating_supply
        if supply is not None and supply_day is not None and supply[p] is not None:
            circulating = supply[p]
            if known is None and (day - supply_day[p]).days <= MAX_SUPPLY_AGE_DAYS:
                known = supply[p] * price[p]  # the last known supply at today's price
        out[a.id] = replace(
            a, price_usd=price[p], market_cap_usd=known, circulating_supply=circulating, as_of=at
        )
    return out


#: How long a circulating supply (market cap / price on the last day both were
#: published) stands in for a missing market cap: a year, as supplies move a few
#: percent a year (CoinGecko's market_chart exports carry prices without market caps).
MAX_SUPPLY_AGE_DAYS = 400


def with_implied_supply(prices: pl.DataFrame) -> pl.DataFrame:
    """The price history with ``supply`` (market cap / price on the latest day up to
    each row that published a market cap) and ``supply_date`` (that day), carried
    forward per asset: a market cap for days whose source printed only a price.

    A market cap of 0 (CoinGecko's value before it knows the supply) counts as missing.
    """
    if prices.is_empty() or "market_cap_usd" not in prices.columns:
        return prices
    known = (pl.col("market_cap_usd") > 0) & (pl.col("price_usd") > 0)
    return (
        prices.sort("asset_id", "date", maintain_order=True)
        .with_columns(
            pl.when(known).then(pl.col("market_cap_usd") / pl.col("price_usd")).alias("supply"),
            pl.when(known).then(pl.col("date")).alias("supply_date"),
        )
        .with_columns(
            pl.col("supply", "supply_date").forward_fill().over("asset_id"),
        )
    )


def staking_routes_at(
    routes: Sequence[Opportunity],
    assets: Mapping[str, Asset],
    priced_days: Mapping[str, int],
    day: date,
) -> list[Opportunity]:
    """A network's own staking routes (records of the dated staking table) with what the
    network's asset histories say on ``day``.

    The table holds rates, not stake sizes, so the staked value is implied from it: the
    issuance paid to stakers (supply inflation) over their nominal rate is the staked
    share of supply (Solana 4.6% / 7.3% = 63%, about the 65% staked in mid-2025), times
    the asset's market cap that day; a network whose supply shrinks (BNB) gets none.
    ``meta.count`` becomes the days the asset had been priced (the route is as old as
    its network), and ``meta.tvl_basis`` says how the TVL was made.
    """
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = []
    for o in routes:
        asset = assets.get(o.underlying[0]) if o.underlying else None
        cap = asset.market_cap_usd if asset is not None else None
        inflation = o.meta.get("supply_inflation_pct")
        nominal = o.meta.get("nominal_apr_pct")
        meta = dict(o.meta)
        tvl = None
        if (
            cap
            and isinstance(inflation, float | int)
            and isinstance(nominal, float | int)
            and inflation > 0
            and nominal > 0
        ):
            share = min(1.0, inflation / nominal)
            tvl = cap * share
            meta["tvl_basis"] = (
                f"implied: market cap ${cap:,.0f} x staked share {share:.0%} (supply "
                f"inflation {inflation:g}% / nominal rate {nominal:g}%)"
            )
        if o.underlying and o.underlying[0] in priced_days:
            meta["count"] = priced_days[o.underlying[0]]
            meta["count_basis"] = "days the network's asset had been priced (no rate history)"
        out.append(replace(o, tvl_usd=tvl, as_of=at, meta=meta))
    return out


def standing_routes_at(
    opps: Sequence[Opportunity],
    assets: Mapping[str, Asset],
    prices: SortedHistory,
    day: date,
    *,
    sources: Sequence[str] = ("staking",),
) -> list[Opportunity]:
    """The standing records of ``sources`` (the staking table's routes, which have no
    APY history) whose network's asset is priced on ``day``, with that network's facts
    (``staking_routes_at``; ``assets`` as ``assets_at`` gives them for ``day``). A route
    exists as long as its network does, whatever day the record was written.

    What a replay adds to ``opportunities_at``, which keeps only series with history."""
    routes = [o for o in opps if o.source in sources and o.underlying and o.underlying[0] in assets]
    if not routes:
        return []
    number = day_number(day)
    priced: dict[str, int] = {}
    for o in routes:
        code = prices.code_of.get(o.underlying[0]) if o.underlying else None
        if code is not None:
            end = int(prices.ends(number, np.asarray([code], dtype=np.int64))[0])
            priced[o.underlying[0]] = end - int(prices.start[code])
    return staking_routes_at(routes, assets, priced, day)
