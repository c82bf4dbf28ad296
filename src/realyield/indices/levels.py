"""Index levels over history: price return, income return and total return, net of costs.

Point in time: at every scheduled rebalance the caller's ``compose(day)`` builds the
target from data up to that day only. Between rebalances weights drift with each
holding's return; a drift beyond the trigger rebalances back to the last target (no
re-selection); a no-trade band skips small trades; a holding whose APY breaks the cap
or whose data stops is removed at once and its weight spread pro rata over the rest.
Income is the holding's realised APY of that day (its stored history), accrued daily
and reinvested; price return comes from the underlying assets' prices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from realyield.core.errors import DataError, InsufficientDataError
from realyield.indices.composition import IndexComposition
from realyield.indices.rebalance import (
    CostModel,
    apply_band,
    schedule_dates,
    trade_cost,
    turnover,
)
from realyield.indices.weights import InfeasibleWeightsError

DEAD_AFTER_DAYS = 7


@dataclass
class LevelHistory:
    """Daily index levels (base 100) and what happened on each day."""

    name: str
    frame: pl.DataFrame  # date, price_return, income_return, cost, total_return, levels...
    events: list[str] = field(default_factory=list)

    def change(self, days: int = 30, column: str = "level_total") -> float | None:
        """Return (fraction) of ``column`` over the last ``days`` calendar days, or
        ``None`` when the history does not reach back that far."""
        f = self.frame
        if f.is_empty():
            return None
        end = f["date"][-1]
        past = f.filter(pl.col("date") <= end - timedelta(days=days))
        if past.is_empty():
            return None
        return float(f[column][-1] / past[column][-1]) - 1.0

    def drawdown(self, column: str = "level_total") -> np.ndarray:
        """Each day's ``column`` relative to its running peak, minus 1 (0 at a new high)."""
        level = self.frame[column].to_numpy()
        if level.size == 0:
            return level
        return level / np.maximum.accumulate(level) - 1.0

    def summary(self) -> dict[str, float]:
        f = self.frame
        years = max(f.height - 1, 1) / 365.0
        total = float(f["level_total"][-1] / 100.0)
        return {
            "days": float(f.height),
            "total_return": total - 1.0,
            "cagr": total ** (1 / years) - 1.0,
            "price_return": float(f["level_price"][-1] / 100.0) - 1.0,
            "income_return": float(f["level_income"][-1] / 100.0) - 1.0,
            "costs": float(f["cost"].sum()),
            "turnover": float(f["turnover"].sum()),
            "rebalances": float(f["rebalanced"].sum()),
        }


def _dense(
    frame: pl.DataFrame, key: str, value: str, keys: Sequence[str], days: Sequence[date]
) -> np.ndarray:
    """A days x keys matrix of ``value`` (NaN where missing)."""
    out = np.full((len(days), len(keys)), np.nan)
    if not keys or frame.is_empty():
        return out
    col = pl.LazyFrame({key: list(keys), "_col": np.arange(len(keys))})
    sub = (
        frame.lazy()
        .filter(
            pl.col(key).is_in(list(keys))
            & pl.col("date").is_between(days[0], days[-1])
            & pl.col(value).is_not_null()
        )
        .join(col, on=key, how="inner", maintain_order="left")
        .select((pl.col("date") - days[0]).dt.total_days().alias("_row"), "_col", value)
        .collect()
    )
    cell = sub["_row"].to_numpy() * len(keys) + sub["_col"].to_numpy()
    # the last non-null value of a (key, date) wins, as in the frame's order
    _, first_from_end = np.unique(cell[::-1], return_index=True)
    last = cell.size - 1 - first_from_end
    out.reshape(-1)[cell[last]] = sub[value].to_numpy().astype(float)[last]
    return out


def index_levels(
    name: str,
    compose: Callable[[date], IndexComposition],
    *,
    start: date,
    end: date,
    apy: pl.DataFrame,
    prices: pl.DataFrame,
    schedule: str = "monthly",
    drift_trigger: float = 0.05,
    band: float = 0.01,
    costs: CostModel | None = None,
    max_apy: float = 100.0,
) -> LevelHistory:
    """Daily levels of the index that ``compose`` defines, from ``start`` to ``end``.

    ``apy`` holds realised daily APYs (``id, date, apy``); ``prices`` daily prices
    (``asset_id, date, price_usd``).

    Raises:
        InsufficientDataError: no rebalance date could be composed.
        DataError: ``end`` before ``start``.
    """
    if end <= start:
        raise DataError(f"level history needs end after start, got {start}..{end}")
    costs = costs or CostModel()
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    events: list[str] = []
    targets: dict[date, IndexComposition] = {}
    for day in [start, *schedule_dates(start + timedelta(days=1), end, schedule)]:
        try:
            targets[day] = compose(day)
            events.extend(f"{day}: {note}" for note in targets[day].notes)
        except (InfeasibleWeightsError, InsufficientDataError) as exc:
            events.append(f"{day}: kept previous weights ({exc})")
    if not targets:
        raise InsufficientDataError(
            f"{name}: no rebalance date between {start} and {end} could be composed; see the events"
        )
    ids = sorted({c.id for comp in targets.values() for c in comp.constituents})
    info = {c.id: c for comp in targets.values() for c in comp.constituents}
    assets = sorted({a for c in info.values() for a in c.underlying})
    apy_m = _dense(apy, "id", "apy", ids, days)
    px = (
        pl.DataFrame({"date": days})
        .join(
            prices.filter(pl.col("asset_id").is_in(assets)).pivot(
                on="asset_id", index="date", values="price_usd", aggregate_function="first"
            ),
            on="date",
            how="left",
        )
        .sort("date")
        .fill_null(strategy="forward")
    )
    price_m = (
        np.column_stack(
            [
                px[a].to_numpy().astype(float) if a in px.columns else np.full(len(days), np.nan)
                for a in assets
            ]
        )
        if assets
        else np.zeros((len(days), 0))
    )
    col = {i: j for j, i in enumerate(ids)}
    asset_col = {a: j for j, a in enumerate(assets)}
    chains = {c.id: c.chain for c in info.values()}
    # Vectorised once: each holding's daily price return (mean over its underlying assets
    # with a price on both days), its daily income, and the last day it had data.
    with np.errstate(divide="ignore", invalid="ignore"):
        asset_ret = price_m[1:] / price_m[:-1] - 1.0
    asset_ret = np.vstack([np.full((1, len(assets)), np.nan), asset_ret])
    price_ret = np.zeros((len(days), len(ids)))
    for i, c in info.items():
        cols = [asset_col[a] for a in c.underlying]
        if cols:
            block = asset_ret[:, cols]
            known = ~np.isnan(block)
            count = known.sum(axis=1)
            price_ret[:, col[i]] = np.where(
                count > 0, np.nansum(block, axis=1) / np.maximum(count, 1), 0.0
            )
    fallback_apy = np.array([info[i].apy for i in ids], dtype=float)
    income = np.where(np.isnan(apy_m), fallback_apy, apy_m) / 100.0 / 365.0
    day_no = np.arange(len(days))[:, None]
    seen_at = np.where(~np.isnan(apy_m), day_no, -1)
    last_seen_m = np.maximum.accumulate(seen_at, axis=0) if len(days) else seen_at
    # the daily screen, for every holding at once: APY above the cap, or data that stopped
    failing = (~np.isnan(apy_m) & (apy_m > max_apy)) | (
        (last_seen_m >= 0) & (day_no - last_seen_m > DEAD_AFTER_DAYS)
    )
    rows = _roll(
        days,
        targets,
        ids,
        price_ret,
        income,
        failing,
        sleeves=[info[i].sleeve for i in ids],
        chains=chains,
        drift_trigger=drift_trigger,
        band=band,
        costs=costs,
        events=events,
    )
    frame = pl.DataFrame(
        rows,
        schema=[
            "date",
            "price_return",
            "income_return",
            "cost",
            "total_return",
            "turnover",
            "rebalanced",
            "n_constituents",
        ],
        orient="row",
    )
    frame = frame.with_columns(
        (100 * (1 + pl.col("price_return")).cum_prod()).alias("level_price"),
        (100 * (1 + pl.col("income_return")).cum_prod()).alias("level_income"),
        (100 * (1 + pl.col("total_return")).cum_prod()).alias("level_total"),
    )
    return LevelHistory(name, frame, events)


def _as_dict(ids: Sequence[str], w: np.ndarray, held: np.ndarray) -> dict[str, float]:
    return {ids[j]: float(w[j]) for j in np.flatnonzero(held).tolist()}


def _roll(
    days: Sequence[date],
    targets: Mapping[date, IndexComposition],
    ids: Sequence[str],
    price_ret: np.ndarray,
    income: np.ndarray,
    failing: np.ndarray,
    *,
    sleeves: Sequence[str | None],
    chains: Mapping[str, str | None],
    drift_trigger: float,
    band: float,
    costs: CostModel,
    events: list[str],
) -> list[tuple[date, float, float, float, float, float, bool, int]]:
    """The daily loop: weights drift with returns, failing holdings leave, scheduled and
    drift-triggered rebalances trade (through the mapping-based rules of
    ``indices.rebalance``, so levels, backtests and reviews trade alike).

    Weights live in arrays over ``ids`` (sorted, so sums run in a fixed order); a
    holding is what ``held`` marks, which may include a weight that fell to zero.
    """
    n = len(ids)
    col = {i: j for j, i in enumerate(ids)}
    sleeve_codes = {s: k for k, s in enumerate(dict.fromkeys(sleeves))}
    sleeve_of = np.array([sleeve_codes[s] for s in sleeves], dtype=np.intp)
    w = np.zeros(n)
    held = np.zeros(n, dtype=bool)
    target = np.zeros(n)
    has_target = False
    growth_rows = 1.0 + price_ret + income
    # each day's price and income returns side by side: one product gives both
    returns = np.stack([price_ret, income], axis=2)
    failing_days = set(np.flatnonzero(np.any(failing, axis=1)).tolist())
    no_one = np.zeros(0, dtype=np.intp)
    out = []
    for t, day in enumerate(days):
        price_r = income_r = cost = turned = 0.0
        rebalanced = False
        if t > 0 and held.any():
            price_r, income_r = (w @ returns[t]).tolist()
            g = w * growth_rows[t]
            total = float(g.sum())
            if total > 0:
                w = g / total
        gone = np.flatnonzero(held & failing[t]) if t in failing_days else no_one
        for j in gone.tolist():
            events.append(f"{day}: removed {ids[j]} (failed a screen between rebalances)")
            freed = float(w[j])
            w[j], held[j], target[j] = 0.0, False, 0.0
            # spread pro rata within the holding's sleeve, else over the whole index
            peers = held & (sleeve_of == sleeve_of[j])
            if not peers.any():
                peers = held
            rest = float(w[peers].sum())
            if rest > 0:
                w[peers] += freed * w[peers] / rest
            turned += freed
        trade: dict[str, float] | None = None
        if day in targets:
            target = np.zeros(n)
            for i, wt in targets[day].weights().items():
                target[col[i]] = wt
            target[gone] = 0.0
            norm = float(target.sum())
            target = target / norm if norm else target
            has_target = bool(norm)
            current = _as_dict(ids, w, held)
            goal = _as_dict(ids, target, target > 0)
            trade = apply_band(current, goal, band) if current else goal
        elif has_target:
            gap = float(np.abs(w - target).max())
            if gap > drift_trigger:
                current = _as_dict(ids, w, held)
                trade = apply_band(current, _as_dict(ids, target, target > 0), band)
                events.append(f"{day}: drift {gap:.1%} > {drift_trigger:.0%}: rebalanced to target")
        if trade is not None:
            current = _as_dict(ids, w, held)
            cost += trade_cost(current, trade, chains, costs)
            turned += turnover(current, trade)
            w, held = np.zeros(n), np.zeros(n, dtype=bool)
            for i, wt in trade.items():
                w[col[i]], held[col[i]] = wt, True
            rebalanced = True
        out.append(
            (
                day,
                price_r,
                income_r,
                cost,
                price_r + income_r - cost,
                turned,
                rebalanced,
                int(held.sum()),
            )
        )
    return out
