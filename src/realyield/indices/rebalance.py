"""Rebalancing rules: the schedule and the no-trade band.

Pure functions over dates and weight mappings (id -> fraction), so the backtest kernel
(which applies the band to arrays, ``backtest.kernels.band_weights``, tested equal to
this) and the monitor's reviews apply the same rules. Holdings are visited in sorted id
order, so the order of the weights returned does not depend on Python's per-process
string hashing. Drift triggers and costs are simulated by the backtest kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from realyield.core.errors import ConfigError

SCHEDULE_MONTHS = {"monthly": 1, "quarterly": 3}


def schedule_dates(start: date, end: date, schedule: str) -> list[date]:
    """The first day of every month (or quarter) in ``[start, end]``.

    Raises:
        ConfigError: unknown schedule.
    """
    if schedule not in SCHEDULE_MONTHS:
        raise ConfigError(
            f"unknown rebalance schedule {schedule!r}; use one of {sorted(SCHEDULE_MONTHS)}"
        )
    step = SCHEDULE_MONTHS[schedule]
    out: list[date] = []
    year, month = start.year, start.month
    if step == 3:
        month = ((month - 1) // 3) * 3 + 1
    while True:
        day = date(year, month, 1)
        if day > end:
            return out
        if day >= start:
            out.append(day)
        month += step
        year, month = year + (month - 1) // 12, (month - 1) % 12 + 1


def _ids(a: Mapping[str, float], b: Mapping[str, float]) -> list[str]:
    """The ids of both mappings, sorted (a fixed order for sums and results)."""
    return sorted(set(a) | set(b))


def apply_band(
    current: Mapping[str, float], target: Mapping[str, float], band: float
) -> dict[str, float]:
    """Trade only where the move is at least ``band`` (fraction); untraded holdings keep
    their weight and the traded ones are scaled to fill the rest, so weights sum to 1.
    Holdings leaving the index are always sold. When that scaling would leave a traded
    holding still at least ``band`` from its target (one holding drifted away alone:
    scaled to fill the rest, it would stay where it is), everything trades to the
    target instead, so a rebalance always ends within the band."""
    keys = _ids(current, target)
    keep = {
        k: current[k]
        for k in keys
        if k in current and k in target and abs(target[k] - current[k]) < band
    }
    traded = {k: target[k] for k in keys if k not in keep and target.get(k, 0.0) > 0}
    room = 1.0 - sum(keep.values())
    total = sum(traded.values())
    if total <= 0 or room <= 0:
        return dict(target)
    scaled = {k: v * room / total for k, v in traded.items()}
    if any(abs(v - target[k]) >= band for k, v in scaled.items()):
        return dict(target)
    return {**keep, **scaled}
