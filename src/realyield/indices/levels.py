"""Index levels over history: price return, income return and total return, net of costs.

The record the CLI, API and dashboard read. The levels themselves come from the one
simulation of an index over history, its backtest (``backtest.levels`` reads them off
the backtest's daily path; ``backtest.service.index_history`` runs it): point in time,
drift triggers, the no-trade band, the daily screen, costs, lock-ups and impermanent
loss, the same as ``realyield backtest NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import polars as pl


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
        """Total return and CAGR, and the price, income and costs that make it up:
        contributions, each day's return weighted by the level the day starts from
        (``total = price + income - costs``, as in a backtest's attribution; the
        ``level_price`` and ``level_income`` columns compound each on its own)."""
        f = self.frame
        years = max(f.height - 1, 1) / 365.0
        total = float(f["level_total"][-1] / 100.0)
        level = f["level_total"].to_numpy() / 100.0
        start = np.concatenate([[1.0], level[:-1]])  # day 0 starts from the base, 100
        part = {
            c: float(f[c].to_numpy() @ start) for c in ("price_return", "income_return", "cost")
        }
        return {
            "days": float(f.height),
            "total_return": total - 1.0,
            "cagr": total ** (1 / years) - 1.0,
            "price_return": part["price_return"],
            "income_return": part["income_return"],
            "costs": part["cost"],
            "turnover": float(f["turnover"].sum()),
            "rebalances": float(f["rebalanced"].sum()),
        }
