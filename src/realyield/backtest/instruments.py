"""From stored histories to the kernel's arrays: each holding's daily price relative and
income rate.

How a holding's value moves:

* a token held as is (``asset``): its USD price;
* a deposit, staking or vault position with one underlying token: that token's price
  (the position is redeemable for the token; depeg or failure events write it down);
  with several underlying tokens and no pool: the equal-weight mean of their daily
  returns;
* a liquidity position on two or more tokens: a constant-mean pool share with equal
  weights (Uniswap v2 for two tokens), whose value is the geometric mean of the
  tokens' price relatives, impermanent loss included; or, when a range is given, a
  concentrated (v3) position on that range around the price at each scheduled
  rebalance, re-centred there (the swap back to the new range's mix pays the cost
  rate) and earning no fees while the price sits outside the range.

Income is the holding's realised APY of the day from its stored history (percent /
100 / 365), carried forward over gaps of up to ``STALE_AFTER_DAYS``; after the data
stops for longer the holding earns nothing (it most likely shut down); before its first
data point, and for holdings without history, the APY given with the holding is used.
Missing prices are carried forward; before an asset's first price its holding keeps
a constant value. Every such substitution is recorded as a note.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
from numpy.typing import NDArray

from realyield.backtest import impermanent_loss as il
from realyield.backtest.schedule import HoldingInfo
from realyield.core.errors import ConfigError, DataError

Array = NDArray[np.float64]
STALE_AFTER_DAYS = 7
SNAPSHOT_SOURCE = "snapshot"


@dataclass(frozen=True)
class AssetShock:
    """A permanent write-down of an asset's price from ``day`` on (a depeg that did not
    recover, a bridge or issuer failure): ``loss`` is the fraction lost."""

    asset_id: str
    day: date
    loss: float
    reason: str = ""


@dataclass(frozen=True)
class HoldingShock:
    """A write-down of one holding on ``day`` (a protocol exploit, a frozen market):
    ``loss`` is the fraction of the position lost."""

    holding_id: str
    day: date
    loss: float
    reason: str = ""


@dataclass(frozen=True)
class LpSpec:
    """How a liquidity holding's value is modelled: ``legs`` are its tokens; ``lower`` and
    ``upper`` the concentrated range relative to the entry price (None: full range)."""

    legs: tuple[str, ...]
    lower: float | None = None
    upper: float | None = None

    @property
    def concentrated(self) -> bool:
        return self.lower is not None


@dataclass
class Market:
    """The kernel's inputs for one set of holdings over ``days``."""

    days: list[date]
    ids: list[str]
    growth: Array  # (T, N)
    income: Array  # (T, N)
    lockup_days: NDArray[np.int64]
    chains: list[str | None]
    prices: dict[str, Array]  # asset id -> (T,) USD prices (NaN before the first)
    lp: dict[str, LpSpec] = field(default_factory=dict)
    shocks: list[tuple[int, int, float, str]] = field(default_factory=list)  # (t, n, loss, why)
    notes: list[str] = field(default_factory=list)
    illustrative_prices: list[str] = field(default_factory=list)  # from the bundled snapshot
    illustrative_yields: list[str] = field(default_factory=list)

    @property
    def illustrative(self) -> list[str]:
        return sorted({*self.illustrative_prices, *self.illustrative_yields})

    def illustrative_note(self) -> str | None:
        """One line saying which histories are generated (None when all are real)."""
        parts = []
        if self.illustrative_prices:
            shown = ", ".join(self.illustrative_prices[:8])
            more = len(self.illustrative_prices) - 8
            parts.append(f"prices of {shown}" + (f" and {more} more" if more > 0 else ""))
        if self.illustrative_yields:
            parts.append(f"the yield histories of {len(self.illustrative_yields)} holdings")
        if not parts:
            return None
        return (
            "ILLUSTRATIVE DATA: "
            + " and ".join(parts)
            + " come from the bundled snapshot (generated, not market history)"
        )


def as_day(value: object) -> date:
    """A frame's date cell as a ``date`` (frames type their cells loosely).

    Raises:
        DataError: the cell is not a date (an empty frame gives None).
    """
    if not isinstance(value, date):
        raise DataError(f"expected a date in the history frame, got {value!r}")
    return value


def tokens_of(h: HoldingInfo) -> tuple[str, ...]:
    """The asset ids whose prices move a holding: its underlying tokens, or for a token
    held as is without them, its own id."""
    if h.kind == "cash":
        return ()
    if h.kind == "asset" and not h.underlying:
        return (h.id,)
    return h.underlying


def _dense(
    frame: pl.DataFrame, key: str, value: str, keys: Sequence[str], days: Sequence[date]
) -> Array:
    """A days x keys matrix of ``value``, NaN where missing."""
    out = np.full((len(days), len(keys)), np.nan)
    if not keys or frame.is_empty():
        return out
    index = pl.DataFrame({"date": list(days), "_t": np.arange(len(days))})
    col = pl.DataFrame({key: list(keys), "_k": np.arange(len(keys))})
    sub = (
        frame.select(key, "date", value)
        .join(index, on="date", how="inner")
        .join(col, on=key, how="inner")
        .drop_nulls(value)
    )
    out[sub["_t"].to_numpy(), sub["_k"].to_numpy()] = sub[value].to_numpy()
    return out


def _ffill(a: Array) -> Array:
    """Forward-fill NaNs down each column (leading NaNs stay)."""
    rows = np.arange(a.shape[0])[:, None]
    idx = np.where(np.isnan(a), 0, rows)
    idx = np.maximum.accumulate(idx, axis=0)
    out = a[idx, np.arange(a.shape[1])[None, :]]
    return np.asarray(out)


def _relatives(p: Array) -> Array:
    """Daily price relatives of filled price columns; 1 where a price is missing."""
    rel = np.ones_like(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel[1:] = p[1:] / p[:-1]
    return np.asarray(np.where(np.isfinite(rel) & (rel >= 0), rel, 1.0))


def _sources(
    frame: pl.DataFrame, key: str, keys: Sequence[str], start: date, end: date
) -> list[str]:
    if frame.is_empty() or "source" not in frame.columns:
        return []
    sub = frame.filter(
        pl.col(key).is_in(list(keys))
        & pl.col("date").is_between(start, end)
        & (pl.col("source") == SNAPSHOT_SOURCE)
    )
    return sorted(set(sub[key].to_list()))


def build_market(
    days: Sequence[date],
    ids: Sequence[str],
    info: Mapping[str, HoldingInfo],
    prices: pl.DataFrame,
    apy: pl.DataFrame,
    *,
    lp_ranges: Mapping[str, tuple[float, float]] | None = None,
    recentre_days: Sequence[date] = (),
    swap_cost: float = 0.0,
    asset_shocks: Sequence[AssetShock] = (),
    holding_shocks: Sequence[HoldingShock] = (),
) -> Market:
    """Daily price relatives and income rates of the holdings ``ids`` over ``days``.

    ``prices``: ``asset_id, date, price_usd[, source]``; ``apy``: ``id, date, apy[,
    source]`` (percent).

    Raises:
        ConfigError: a range for a holding that is not a two-token pool, a bad shock.
        DataError: a holding without any price for its underlying tokens.
    """
    days = list(days)
    lp_ranges = dict(lp_ranges or {})
    notes: list[str] = []
    t_of = {d: t for t, d in enumerate(days)}
    # a write-down named by an asset id rather than a holding id moves that asset's price
    asset_shocks = [
        *asset_shocks,
        *(
            AssetShock(h.holding_id, h.day, h.loss, h.reason)
            for h in holding_shocks
            if h.holding_id not in ids
        ),
    ]
    holding_shocks = [h for h in holding_shocks if h.holding_id in ids]
    shocks_in: list[AssetShock | HoldingShock] = [*asset_shocks, *holding_shocks]
    for shock in shocks_in:
        if not 0 < shock.loss <= 1:
            raise ConfigError(f"a write-down must lose a fraction in (0, 1], got {shock}")
    assets = sorted({a for i in ids for a in tokens_of(info[i])})
    raw = _dense(prices, "asset_id", "price_usd", assets, days)
    for shock in asset_shocks:
        if shock.asset_id not in assets:
            raise ConfigError(
                f"write-down of {shock.asset_id!r}: neither a holding nor one of its tokens"
            )
        if shock.day in t_of:
            k = assets.index(shock.asset_id)
            raw[t_of[shock.day] :, k] *= 1.0 - shock.loss
            notes.append(
                f"{shock.day}: {shock.asset_id} written down {shock.loss:.0%} ({shock.reason})"
            )
    filled = _ffill(raw)
    pcol = {a: k for k, a in enumerate(assets)}
    rel = _relatives(filled)
    for a in assets:
        col = filled[:, pcol[a]]
        if np.isnan(col).all():
            continue
        first = int(np.argmax(~np.isnan(col)))
        if first > 0:
            notes.append(
                f"{a}: no price before {days[first]}: holdings of it keep a constant value"
            )
    n_days, n = len(days), len(ids)
    growth = np.ones((n_days, n))
    income = np.zeros((n_days, n))
    lp: dict[str, LpSpec] = {}
    recentre = np.zeros(n_days, dtype=bool)
    for d in recentre_days:
        if d in t_of:
            recentre[t_of[d]] = True
    apy_m = _dense(apy, "id", "apy", list(ids), days)
    for j, ident in enumerate(ids):
        h = info[ident]
        legs = tuple(a for a in tokens_of(h) if a in pcol)
        priced = [a for a in legs if not np.isnan(filled[:, pcol[a]]).all()]
        if h.kind != "cash" and legs and not priced:
            raise DataError(
                f"{ident}: no price history for {', '.join(legs)} in the store; import prices "
                "(realyield data import) or drop it from the weights"
            )
        if not legs and h.kind not in ("cash",):
            notes.append(f"{ident}: no underlying token known: valued at par (price return 0)")
        is_pool = h.kind == "liquidity" and len(priced) >= 2
        if ident in lp_ranges:
            lower, upper = lp_ranges[ident]
            if not (is_pool and len(priced) == 2):
                raise ConfigError(
                    f"{ident}: a concentrated range needs a two-token liquidity holding"
                )
            pa, pb = (filled[:, pcol[a]] for a in priced)
            if np.isnan(pa).any() or np.isnan(pb).any():
                raise DataError(f"{ident}: a concentrated position needs both prices on every day")
            value, outside = il.v3_price_index(
                pa, pb, lower, upper, recentre=recentre, swap_cost=swap_cost
            )
            growth[:, j] = _relatives(value[:, None])[:, 0]
            lp[ident] = LpSpec(tuple(priced), lower, upper)
            apy_m[outside, j] = 0.0
            if outside.any():
                notes.append(
                    f"{ident}: price outside its range on {int(outside.sum())} days (no fees)"
                )
        elif is_pool:
            logs = np.log(rel[:, [pcol[a] for a in priced]])
            growth[:, j] = np.exp(logs.mean(axis=1))
            lp[ident] = LpSpec(tuple(priced))
        elif priced:
            growth[:, j] = rel[:, [pcol[a] for a in priced]].mean(axis=1)
        income[:, j] = _income(apy_m[:, j], h, days, notes)
    shocks: list[tuple[int, int, float, str]] = []
    for hs in holding_shocks:
        if hs.holding_id in ids and hs.day in t_of:
            t, j = t_of[hs.day], list(ids).index(hs.holding_id)
            growth[t, j] *= 1.0 - hs.loss
            if hs.loss >= 1.0:
                income[t:, j] = 0.0
            shocks.append((t, j, hs.loss, hs.reason))
    return Market(
        days,
        list(ids),
        growth,
        income,
        np.array([max(0, info[i].lockup_days) for i in ids], dtype=np.int64),
        [info[i].chain for i in ids],
        {a: filled[:, pcol[a]] for a in assets},
        lp,
        shocks,
        notes,
        _sources(prices, "asset_id", assets, days[0], days[-1]),
        _sources(apy, "id", list(ids), days[0], days[-1]),
    )


def _income(series: Array, h: HoldingInfo, days: Sequence[date], notes: list[str]) -> Array:
    """Daily income rate of one holding from its APY history (percent)."""
    if h.kind in ("asset", "cash"):
        return np.zeros(len(days))
    seen = ~np.isnan(series)
    if not seen.any():
        if h.apy > 0:
            notes.append(f"{h.id}: no APY history in the window: its APY {h.apy:.2f}% is used")
        return np.full(len(days), h.apy / 100.0 / 365.0)
    rows = np.arange(len(days))
    last_seen = np.maximum.accumulate(np.where(seen, rows, -1))
    filled = _ffill(series[:, None])[:, 0]
    first = int(np.argmax(seen))
    out = np.where(rows < first, h.apy, filled)
    stale = (last_seen >= 0) & (rows - last_seen > STALE_AFTER_DAYS)
    if stale.any():
        t = int(np.argmax(stale))
        notes.append(
            f"{h.id}: APY data stops after {days[int(last_seen[t])]}: no income from {days[t]}"
        )
    out = np.where(stale, 0.0, out)
    return np.asarray(np.clip(out, 0.0, None) / 100.0 / 365.0)
