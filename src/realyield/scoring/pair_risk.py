"""Expected impermanent loss of each volatile pool, from its tokens' realised volatility
and correlation as of a date (or, where no price history is stored, fallbacks by asset
category, said so in ``explain``).

Which pools: multi-asset exposure whose tokens do not share a peg (DeFiLlama's
``ilRisk`` or the token table say so; unknown tokens count as volatile). Stable pairs
and single-asset positions pay no deduction. A pool whose record carries its price
range (``meta["price_range_lower"]``, ``meta["price_range_upper"]``, relative to the
current price) is charged the concentrated-liquidity loss of that range, others the
constant-product loss (``scoring.impermanent_loss``).

Realised statistics: daily log returns over the 365 days up to the date, at least
``MIN_RETURNS`` of them, annualised with 365 days (crypto trades every day); a return
across a gap of g days counts as g days of variance. Correlations come from the days
both assets have prices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import polars as pl

from realyield.core.model import Asset, Opportunity
from realyield.reference import split_symbol, token_facts
from realyield.scoring import impermanent_loss as il
from realyield.scoring.record_facts import PairToken
from realyield.universe.point_in_time import SortedHistory, day_number

WINDOW_DAYS: Final = 365
MIN_RETURNS: Final = 60
_ASSET_CATEGORY: Final = {
    "btc": "btc",
    "eth": "eth",
    "pos_l1": "l1",
    "lst": "l1",
    "stablecoin": "stablecoin",
    "defi": "defi",
    "exchange": "defi",
}


@dataclass(frozen=True, slots=True)
class PairLoss:
    """How one pool's expected loss was estimated (the text ``explain`` shows)."""

    tokens: tuple[str, ...]
    volatility: tuple[float, ...]
    from_history: tuple[bool, ...]
    correlation: float  # the mean pairwise correlation used
    correlation_from_history: bool
    ratio_volatility: float
    loss_pct: float  # expected loss over a year, percent (<= 0)
    formula: str  # "constant product" or "concentrated range [a, b]"

    def describe(self) -> str:
        vols = ", ".join(
            f"{t} {v:.0%} ({'history' if h else 'category fallback'})"
            for t, v, h in zip(self.tokens, self.volatility, self.from_history, strict=True)
        )
        corr = "history" if self.correlation_from_history else "fallback"
        return (
            f"volatility {vols}; correlation {self.correlation:.2f} ({corr}) -> price-ratio "
            f"volatility {self.ratio_volatility:.0%}/yr; expected {self.formula} loss "
            f"{-self.loss_pct:.2f}%/yr"
        )


class _Returns:
    """Daily log returns of each asset over the window ending at a date."""

    def __init__(self, prices: SortedHistory | None, as_of: date) -> None:
        self._series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._vol: dict[str, float | None] = {}
        self._corr: dict[tuple[str, str], float | None] = {}
        # each series on the window's calendar (day offset -> log price, and which days
        # are present): two assets' common days are then a mask, not a set intersection
        self._dense: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
        self._base = 0
        if prices is None or not prices.keys:
            return
        day = day_number(as_of)
        self._base = day - WINDOW_DAYS - 1
        first, end = prices.ends(day - WINDOW_DAYS), prices.ends(day)
        price = prices.numbers("price_usd")
        for k in np.flatnonzero(end - first > MIN_RETURNS).tolist():
            p, d = price[first[k] : end[k]], prices.day[first[k] : end[k]]
            ok = np.isfinite(p) & (p > 0)
            self._series[prices.keys[k]] = (d[ok], np.log(p[ok]))

    def volatility(self, asset: str) -> float | None:
        if asset not in self._vol:
            series = self._series.get(asset)
            vol = None
            if series is not None and series[0].size > MIN_RETURNS:
                days, logp = series
                gaps, moves = np.diff(days), np.diff(logp)
                vol = math.sqrt(float(np.sum(moves * moves / gaps) / np.sum(gaps)) * 365.0)
            self._vol[asset] = vol
        return self._vol[asset]

    def correlation(self, a: str, b: str) -> float | None:
        key = (a, b) if a < b else (b, a)
        if key not in self._corr:
            sa, sb = self._series.get(a), self._series.get(b)
            rho = None
            if sa is not None and sb is not None:
                da, db = self._on_calendar(a), self._on_calendar(b)
                if da is not None and db is not None:
                    both = da[0] & db[0]
                    if int(np.count_nonzero(both)) > MIN_RETURNS:
                        ra, rb = np.diff(da[1][both]), np.diff(db[1][both])
                        rho = self._rho(ra, rb)
                else:  # a series with repeated days: the plain intersection
                    common, ia, ib = np.intersect1d(sa[0], sb[0], return_indices=True)
                    if common.size > MIN_RETURNS:
                        rho = self._rho(np.diff(sa[1][ia]), np.diff(sb[1][ib]))
            self._corr[key] = rho
        return self._corr[key]

    @staticmethod
    def _rho(ra: np.ndarray, rb: np.ndarray) -> float | None:
        """``np.corrcoef(ra, rb)[0, 1]``, or ``None`` when either is flat (zero
        standard deviation). The same operations as NumPy's ``cov`` and ``corrcoef``
        (row means, centred rows, one matrix product scaled by ``1 / (n - 1)``, the
        off-diagonal divided by each standard deviation in turn, clipped to [-1, 1]),
        so the same bits, without their checks and copies: a replay asks a thousand
        times."""
        x = np.empty((2, ra.size))
        x[0], x[1] = ra, rb
        x -= x.mean(axis=1)[:, None]
        # a flat series: every deviation from its mean is zero (np.std would be 0)
        if not (x * x).any(axis=1).all():
            return None
        c = np.dot(x, x.T)
        c *= np.true_divide(1, ra.size - 1)
        sd = np.sqrt(np.diag(c))
        return min(max(float(c[0, 1] / sd[0] / sd[1]), -1.0), 1.0)

    def _on_calendar(self, asset: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The asset's (present days, log prices) over the window's calendar, or
        ``None`` when its days repeat (the intersection then decides which row)."""
        if asset not in self._dense:
            days, logp = self._series[asset]
            offset = days - self._base
            dense = None
            if offset.size and bool(np.all(np.diff(offset) > 0)) and offset[0] >= 0:
                size = WINDOW_DAYS + 2
                if int(offset[-1]) < size:
                    present = np.zeros(size, dtype=bool)
                    present[offset] = True
                    values = np.zeros(size)
                    values[offset] = logp
                    dense = (present, values)
            self._dense[asset] = dense
        return self._dense[asset]


def _asset_of(t: PairToken, by_symbol: Mapping[str, Asset]) -> tuple[str | None, str]:
    """The token's asset id and fallback category (the stored asset's category wins
    over the token table's guess when the table does not know the token)."""
    asset = by_symbol.get(t.symbol)
    asset_id = t.asset_id or (asset.id if asset else None)
    category = t.category
    if category == "unknown" and asset is not None:
        category = _ASSET_CATEGORY.get(asset.category, "unknown")
    return asset_id, category


def pair_loss(
    tokens: Sequence[PairToken],
    returns: _Returns,
    by_symbol: Mapping[str, Asset],
    price_range: tuple[float, float] | None = None,
) -> PairLoss:
    """Expected loss over a year of one pool holding ``tokens`` in equal value."""
    ids, vols, hist = [], [], []
    for t in tokens:
        asset_id, category = _asset_of(t, by_symbol)
        vol = returns.volatility(asset_id) if asset_id else None
        if vol is None and t.peg_asset_id:  # a wrapper without its own history: its peg's
            asset_id = t.peg_asset_id
            vol = returns.volatility(asset_id)
        ids.append(asset_id)
        hist.append(vol is not None)
        vols.append(vol if vol is not None else il.FALLBACK_VOLATILITY[category])
    cats = [_asset_of(t, by_symbol)[1] for t in tokens]
    k = len(tokens)
    corr = np.eye(k)
    used, all_hist = [], True
    for i in range(k):
        for j in range(i + 1, k):
            a, b = ids[i], ids[j]
            rho: float | None = None
            if a is not None and a == b:
                rho = 1.0  # two wrappers of one asset (WETH and ETH)
            elif a and b:
                rho = returns.correlation(a, b)
            if rho is None:
                all_hist = False
                stable = "stablecoin" in (cats[i], cats[j])
                rho = il.STABLE_CORRELATION if stable else il.FALLBACK_CORRELATION
            corr[i, j] = corr[j, i] = rho
            used.append(rho)
    sigma = il.basket_volatility(vols, corr.tolist())
    if price_range is not None:
        loss, formula = (
            il.expected_il_v3(sigma, *price_range),
            f"concentrated range [{price_range[0]:g}, {price_range[1]:g}]",
        )
    else:
        loss, formula = float(il.expected_il_v2(sigma)), "constant product"
    return PairLoss(
        tokens=tuple(t.symbol for t in tokens),
        volatility=tuple(vols),
        from_history=tuple(hist),
        correlation=float(np.mean(used)) if used else 1.0,
        correlation_from_history=all_hist,
        ratio_volatility=sigma,
        loss_pct=100.0 * loss,
        formula=formula,
    )


def _price_range(o: Opportunity) -> tuple[float, float] | None:
    lower, upper = o.meta.get("price_range_lower"), o.meta.get("price_range_upper")
    if isinstance(lower, int | float) and isinstance(upper, int | float) and 0 < lower < 1 < upper:
        return float(lower), float(upper)
    return None


def expected_losses(
    opportunities: Sequence[Opportunity],
    pair_tokens: Sequence[tuple[PairToken, ...]],
    volatile: np.ndarray,
    *,
    as_of: date,
    assets: Sequence[Asset] = (),
    prices: pl.DataFrame | SortedHistory | None = None,
) -> tuple[np.ndarray, list[PairLoss | None]]:
    """Per opportunity: expected impermanent loss over a year in percent (0 where
    ``volatile`` is False) and how it was estimated (``None`` there).

    Pools with the same tokens and range share one estimate.
    """
    rows = (
        prices
        if isinstance(prices, SortedHistory) or prices is None
        else SortedHistory(prices, "asset_id")
    )
    returns = _Returns(rows, as_of)
    by_symbol = {a.symbol.upper(): a for a in assets}
    loss = np.zeros(len(opportunities))
    detail: list[PairLoss | None] = [None] * len(opportunities)
    memo: dict[tuple[object, ...], PairLoss] = {}
    for i in np.flatnonzero(volatile).tolist():
        tokens = pair_tokens[i]
        if len(tokens) < 2:
            continue
        rng = _price_range(opportunities[i])
        key = (tokens, rng)
        found = memo.get(key)
        if found is None:
            found = memo[key] = pair_loss(tokens, returns, by_symbol, rng)
        loss[i] = found.loss_pct
        detail[i] = found
    return loss, detail


def pair_asset_ids(opportunities: Sequence[Opportunity], assets: Sequence[Asset] = ()) -> list[str]:
    """The asset ids of the tokens of multi-asset opportunities: the price histories the
    loss estimates can use (for loading prices before scoring)."""
    by_symbol = {a.symbol.upper(): a for a in assets}
    ids: set[str] = set()
    for o in opportunities:
        tokens = split_symbol(o.symbol)
        if o.exposure == "single" or len(tokens) < 2:
            continue
        for symbol in tokens:
            facts = token_facts(symbol)
            asset = by_symbol.get(symbol)
            found = facts.asset_id if facts and facts.asset_id else (asset.id if asset else None)
            peg = token_facts(facts.peg.upper()) if facts and facts.peg else None
            ids.update(i for i in (found, peg.asset_id if peg else None) if i)
    return sorted(ids)
