"""The daily check of an index between rebalances (methodology section 3.9).

A holding whose APY breaks the index's cap, or whose data stopped more than
``DEAD_AFTER_DAYS`` days ago, leaves at the next daily check; its weight goes to the rest
of its sleeve (the kernel's removals) and it is not bought back before the next
scheduled date. On a scheduled date a holding failing that day is left out of the new
target, the rest scaled up to fill it. Everything here is decided from the schedule and
the yield history alone (which holdings are in force, which fail on which day), so the
same removals apply to every simulation of the schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import polars as pl
from numpy.typing import NDArray

DEAD_AFTER_DAYS = 7


def failing_days(
    history: pl.DataFrame, ids: Sequence[str], days: Sequence[date], max_apy: float
) -> NDArray[np.bool_]:
    """(days x ids): the holding fails the daily check that day (its APY of the day above
    ``max_apy``, or its last data more than ``DEAD_AFTER_DAYS`` days old).

    ``history`` holds ``id, date, apy`` (percent); the last non-null value of an
    (id, date) counts; data from before ``days`` counts for staleness. A holding with
    no data at all never fails (a plain asset, or a route priced from the staking
    table)."""
    n_days, n = len(days), len(ids)
    out = np.zeros((n_days, n), dtype=bool)
    if n == 0 or n_days == 0:
        return out
    sub = history.filter(
        pl.col("id").is_in(list(ids)) & (pl.col("date") <= days[-1]) & pl.col("apy").is_not_null()
    )
    if sub.is_empty():
        return out
    earliest = sub["date"].min()
    first = min(days[0], earliest) if isinstance(earliest, date) else days[0]
    col = pl.DataFrame({"id": list(ids), "_col": np.arange(n)})
    sub = sub.join(col, on="id", how="inner", maintain_order="left").select(
        (pl.col("date") - pl.lit(first)).dt.total_days().alias("_row"), "_col", "apy"
    )
    offset = (days[0] - first).days
    rows = offset + n_days
    apy = np.full((rows, n), np.nan)
    cell = sub["_row"].to_numpy() * n + sub["_col"].to_numpy()
    # the last non-null value of an (id, date) wins, as in the table's order
    _, first_from_end = np.unique(cell[::-1], return_index=True)
    last = cell.size - 1 - first_from_end
    apy.reshape(-1)[cell[last]] = sub["apy"].to_numpy().astype(float)[last]
    day_no = np.arange(rows)[:, None]
    last_seen = np.maximum.accumulate(np.where(~np.isnan(apy), day_no, -1), axis=0)
    stale = (last_seen >= 0) & (day_no - last_seen > DEAD_AFTER_DAYS)
    with np.errstate(invalid="ignore"):
        too_high = apy > max_apy
    return (stale | too_high)[offset:]


def daily_removals(
    dates: Sequence[date],
    ids: Sequence[str],
    weights: NDArray[np.float64],
    history: pl.DataFrame,
    end: date,
    max_apy: float,
) -> tuple[NDArray[np.float64], list[tuple[date, str]]]:
    """Apply the daily check to a schedule: its rows (a failing holding left out on a
    scheduled date, the rest scaled to the row's old total) and the removals between
    dates, ``(day, id)`` in day order.
    """
    if not dates or not ids:
        return weights, []
    days = [dates[0] + timedelta(days=k) for k in range((end - dates[0]).days + 1)]
    fails = failing_days(history, ids, days, max_apy)
    out = weights.copy()
    removals: list[tuple[date, str]] = []
    held = np.zeros(len(ids), dtype=bool)
    row_of = {d: k for k, d in enumerate(dates)}
    for t, day in enumerate(days):
        if day in row_of:
            k = row_of[day]
            row = out[k]
            total = float(row.sum())
            row[fails[t]] = 0.0
            left = float(row.sum())
            if left > 0:
                row *= total / left
            held = row > 0
            continue
        gone = np.flatnonzero(held & fails[t])
        removals += [(day, ids[j]) for j in gone.tolist()]
        held[gone] = False
    return out, removals
