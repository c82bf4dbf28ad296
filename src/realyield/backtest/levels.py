"""An index's level history read off its backtest: one run, one accounting.

``realyield index NAME --history`` and ``realyield backtest NAME`` used to compute the
same index twice, with two loops that disagreed (window, income measure, costs, the
daily screen, lock-ups, impermanent loss). The level history is now the backtest's
daily path in index form: with ``V`` the simulated value (base: the capital, the
index's notional) and ``V[-1]`` the capital,

* ``price_return[t] = price_pnl[t] / V[t-1]``, ``income_return[t] = income_pnl[t] /
  V[t-1]``, ``cost[t] = cost[t] / V[t-1]`` and ``total_return[t] = V[t] / V[t-1] - 1``,
  which is their sum exactly;
* ``level_total = 100 V / capital``; ``level_price`` and ``level_income`` compound the
  price and income returns alone (each on its own, as published levels do).

The summary's price, income and costs are contributions to the total return, as in
the backtest's attribution (they add up: total = price + income - costs).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from realyield.backtest.engine import BacktestResult
from realyield.backtest.schedule import WeightsSchedule
from realyield.indices.levels import LevelHistory


def level_history(result: BacktestResult, schedule: WeightsSchedule) -> LevelHistory:
    """The daily levels of the simulated index, and its events: the schedule's notes,
    each removal by the daily screen, and each drift-triggered rebalance."""
    d = result.daily
    value = d["value"].to_numpy()
    capital = result.config.capital_usd
    before = np.concatenate([[capital], value[:-1]])
    safe = np.where(before > 0, before, 1.0)
    held = result.allocation.drop("date", "cash", "unbonding").to_numpy()
    frame = pl.DataFrame(
        {
            "date": d["date"],
            "price_return": d["price_pnl"].to_numpy() / safe,
            "income_return": d["income_pnl"].to_numpy() / safe,
            "cost": d["cost"].to_numpy() / safe,
            "total_return": value / safe - 1.0,
            "turnover": d["turnover"],
            "rebalanced": d["rebalanced"],
            "n_constituents": (held > 1e-12).sum(axis=1).astype(np.int64),
        }
    ).with_columns(
        (100 * (1 + pl.col("price_return")).cum_prod()).alias("level_price"),
        (100 * (1 + pl.col("income_return")).cum_prod()).alias("level_income"),
        pl.Series("level_total", 100.0 * value / capital),
    )
    scheduled = set(schedule.dates)
    dated = [
        (day, f"{day}: removed {i} (failed a screen between rebalances)")
        for day, i in schedule.removals
    ]
    dated += [
        (day, f"{day}: drift beyond the trigger: rebalanced to target")
        for day, traded in zip(d["date"].to_list(), d["rebalanced"].to_list(), strict=True)
        if traded and day not in scheduled
    ]
    events = [*schedule.notes, *(text for _, text in sorted(dated, key=lambda e: e[0]))]
    return LevelHistory(result.name, frame, events)
