"""Monthly price returns of each index's holdings over the stored history.

The Monte Carlo samples how today's holdings moved in the past: each index's current
constituents, through their underlying assets, applied to the stored daily prices
(month-end to month-end). Stablecoins count as flat (the planner does not model a
depeg; the backtest's stress episodes do). An asset without a price history stands in
with the index's priced non-stable part that month, and a month is kept only when
every index has at least half of its non-stable exposure priced. The growth index's
trend filter is not replayed here: its history shows the full drawdowns of the assets
it holds today, which errs on the side of caution.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl
from numpy.typing import NDArray

from realyield.core.errors import InsufficientDataError
from realyield.indices.composition import IndexComposition

MIN_MONTHS = 12
MIN_COVERAGE = 0.5


@dataclass(frozen=True)
class MonthlyReturns:
    """A months x indices matrix of monthly price returns (fractions)."""

    names: tuple[str, ...]
    months: tuple[date, ...]  # the month each return ends in (first day of month)
    matrix: NDArray[np.float64]
    notes: list[str] = field(default_factory=list)

    def column(self, name: str) -> NDArray[np.float64]:
        return self.matrix[:, self.names.index(name)]

    def portfolio(self, weights: Mapping[str, float]) -> NDArray[np.float64]:
        """Monthly returns of a constant mix, rebalanced monthly."""
        w = np.array([weights.get(n, 0.0) for n in self.names])
        return np.asarray(self.matrix @ w, dtype=np.float64)


def exposures(comp: IndexComposition, stable: Set[str]) -> dict[str, float]:
    """Weight per non-stable underlying asset (each holding split equally over its
    underlyings); stablecoins and holdings without an underlying are flat, left out."""
    out: dict[str, float] = {}
    for c in comp.constituents:
        for u in c.underlying:
            if u not in stable:
                out[u] = out.get(u, 0.0) + c.weight / len(c.underlying)
    return out


def month_end_returns(prices: pl.DataFrame) -> tuple[list[date], list[str], NDArray[np.float64]]:
    """Month-end to month-end returns per asset (NaN where a month or its predecessor
    has no price)."""
    if prices.is_empty():
        return [], [], np.empty((0, 0))
    last = (
        prices.filter(pl.col("price_usd") > 0)
        .with_columns(pl.col("date").dt.truncate("1mo").alias("month"))
        .sort("date")
        .group_by("asset_id", "month")
        .agg(pl.col("price_usd").last())
    )
    months = sorted(set(last["month"].to_list()))
    assets = sorted(set(last["asset_id"].to_list()))
    m_ix = {m: i for i, m in enumerate(months)}
    a_ix = {a: j for j, a in enumerate(assets)}
    px = np.full((len(months), len(assets)), np.nan)
    px[
        [m_ix[m] for m in last["month"].to_list()], [a_ix[a] for a in last["asset_id"].to_list()]
    ] = last["price_usd"].to_numpy()
    # consecutive months only: a gap in the calendar leaves NaN
    cal = np.array([m.year * 12 + m.month for m in months])
    ret = np.full_like(px, np.nan)
    step = np.flatnonzero(np.diff(cal) == 1) + 1
    ret[step] = px[step] / px[step - 1] - 1.0
    return months, assets, ret


def index_monthly_returns(
    compositions: Mapping[str, IndexComposition],
    prices: pl.DataFrame,
    stable: Set[str],
) -> MonthlyReturns:
    """The monthly price-return history of every index's current holdings.

    Raises:
        InsufficientDataError: fewer than 12 months in which every index is priced.
    """
    months, assets, ret = month_end_returns(prices)
    names = tuple(sorted(compositions))
    cols = np.zeros((len(months), len(names)))
    keep = np.ones(len(months), dtype=bool)
    keep[0:1] = False
    a_ix = {a: j for j, a in enumerate(assets)}
    notes = []
    for k, name in enumerate(names):
        exp = exposures(compositions[name], stable)
        risky = sum(exp.values())
        if risky <= 1e-12:
            continue  # all flat: zero price return
        ids = [a for a in exp if a in a_ix]
        missing = sorted(set(exp) - set(ids))
        if missing:
            share = sum(exp[a] for a in missing) / risky
            notes.append(
                f"{name}: {share:.0%} of its non-stable exposure has no price history "
                f"({', '.join(missing[:5])}{'...' if len(missing) > 5 else ''}); it moves "
                "with the rest"
            )
        if not ids:
            keep[:] = False
            continue
        r = ret[:, [a_ix[a] for a in ids]]
        w = np.array([exp[a] for a in ids])
        have = ~np.isnan(r)
        covered = have @ w
        keep &= covered >= MIN_COVERAGE * risky
        with np.errstate(invalid="ignore", divide="ignore"):
            cols[:, k] = np.where(covered > 0, np.nan_to_num(r) @ w / covered * risky, 0.0)
    rows = np.flatnonzero(keep)
    if rows.size < MIN_MONTHS:
        raise InsufficientDataError(
            f"only {rows.size} months of prices cover every index's holdings (need "
            f"{MIN_MONTHS}); import a longer price history (`realyield data import`)"
        )
    return MonthlyReturns(names, tuple(months[i] for i in rows), cols[rows], notes)
