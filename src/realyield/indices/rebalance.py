"""Rebalancing rules: schedule, drift trigger, no-trade band, turnover and costs.

Pure functions over weight mappings (id -> fraction), so levels, backtests and the
execution stage apply the same rules. Holdings are visited in sorted id order, so sums
and the order of the weights returned do not depend on Python's per-process string
hashing: a replay gives the same numbers in every run. Costs are fractions of the index value:
``turnover x (fee + slippage) / 10,000`` plus each trade's gas (USD, by chain) over the
notional the index is assumed to manage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property

from realyield.core.errors import ConfigError

SCHEDULE_MONTHS = {"monthly": 1, "quarterly": 3}


@dataclass(frozen=True)
class CostModel:
    """Trading costs: fee and slippage in basis points of traded value, gas in USD."""

    fee_bps: float = 10.0
    slippage_bps: float = 10.0
    gas_usd: Mapping[str, float] | None = None
    default_gas_usd: float = 1.0
    notional_usd: float = 100_000.0

    @cached_property
    def _gas_by_chain(self) -> dict[str, float]:
        return {k.lower(): v for k, v in (self.gas_usd or {}).items()}

    def gas(self, chain: str | None) -> float:
        return self._gas_by_chain.get((chain or "").lower(), self.default_gas_usd)


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


def drift(current: Mapping[str, float], target: Mapping[str, float]) -> float:
    """Largest absolute difference between current and target weights (fraction)."""
    keys = set(current) | set(target)  # a maximum: the order does not matter
    return max((abs(current.get(k, 0.0) - target.get(k, 0.0)) for k in keys), default=0.0)


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


def turnover(current: Mapping[str, float], new: Mapping[str, float]) -> float:
    """One-way turnover: half the summed absolute weight changes."""
    keys = _ids(current, new)
    return 0.5 * sum(abs(new.get(k, 0.0) - current.get(k, 0.0)) for k in keys)


def trade_cost(
    current: Mapping[str, float],
    new: Mapping[str, float],
    chains: Mapping[str, str | None],
    costs: CostModel,
) -> float:
    """Cost of moving from ``current`` to ``new`` as a fraction of the index value."""
    traded = [k for k in _ids(current, new) if abs(new.get(k, 0.0) - current.get(k, 0.0)) > 1e-12]
    variable = turnover(current, new) * 2 * (costs.fee_bps + costs.slippage_bps) / 10_000
    gas = sum(costs.gas(chains.get(k)) for k in traded) / costs.notional_usd
    return variable + gas
