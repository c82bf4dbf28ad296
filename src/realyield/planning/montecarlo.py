"""Monte Carlo of capital and income, monthly, vectorised across paths (numpy).

One portfolio (a constant mix of indices, rebalanced monthly) per run. Each month, on
every path: yield income accrues on the value at the start of the month (the real
yield times a per-path multiplier that drifts year to year, plus emissions that decay
with a half-life), prices move by the sampler's draw, income tax is withheld at
receipt, and then, in the income phase, the withdrawal is paid from net yield first
and from principal for the rest (sales taxed on their gain share against a cost basis
that reinvested income raises). Yield beyond the withdrawal is reinvested by the
``reinvest`` share and paid out otherwise; in the accumulation phase the same share of
all income is reinvested. A path fails when its capital is exhausted or a year's
income falls short of that year's goal.

With zero volatility and no tax the capital follows the annuity recurrence
``V' = V (1 + r + y) - W`` exactly (tests check it against the closed form).

Memory is O(paths x years), never O(paths x months).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from realyield.core.errors import ConfigError
from realyield.planning.profiles import WITHDRAWAL_RULES
from realyield.planning.samplers import PriceSampler


@dataclass(frozen=True, slots=True)
class YieldModel:
    """The portfolio's yield: fractions a year."""

    real: float  # fees, interest, staking net of inflation
    emission: float = 0.0  # reward tokens, decaying
    emission_half_life_years: float = 1.0
    vol: float = 0.0  # lognormal sd of the real-yield multiplier
    persistence: float = 0.7  # year-to-year autocorrelation of that multiplier

    def __post_init__(self) -> None:
        for name in ("real", "emission", "vol"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise ConfigError(f"yield {name} must be a finite fraction >= 0, got {v!r}")
        if not 0.0 <= self.persistence < 1.0:
            raise ConfigError(f"yield persistence must be in [0, 1), got {self.persistence!r}")
        if not self.emission_half_life_years > 0:
            raise ConfigError("emission half-life must be above zero years")


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """The cash-flow rules of one simulation."""

    capital: float
    income_per_year: float  # the goal, in today's dollars
    horizon_years: int = 30
    start_in_years: float = 0.0
    withdrawal: str = "fixed"
    percent_rate: float | None = None  # 'percent' rule: share of capital a year
    reinvest: float = 0.0
    tax_income: float = 0.0
    tax_sales: float = 0.0
    inflation: float = 0.0
    guardrail_band: float = 0.20
    guardrail_step: float = 0.10

    def __post_init__(self) -> None:
        if not math.isfinite(self.capital) or self.capital <= 0:
            raise ConfigError(f"capital must be above zero, got {self.capital!r}")
        if not math.isfinite(self.income_per_year) or self.income_per_year < 0:
            raise ConfigError(f"income must be zero or more, got {self.income_per_year!r}")
        if not 1 <= self.horizon_years <= 100:
            raise ConfigError(f"horizon must be 1-100 years, got {self.horizon_years!r}")
        if not 0 <= self.start_in_years < self.horizon_years:
            raise ConfigError(
                f"the income phase must start within the horizon ({self.horizon_years} "
                f"years), got start in {self.start_in_years!r} years"
            )
        if self.withdrawal not in WITHDRAWAL_RULES:
            raise ConfigError(f"withdrawal must be one of {WITHDRAWAL_RULES}")
        for name in ("reinvest", "tax_income", "tax_sales"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0 + (name == "reinvest"):
                raise ConfigError(f"{name} must be a fraction in [0, 1), got {v!r}")
        if self.percent_rate is not None and not 0.0 < self.percent_rate < 1.0:
            raise ConfigError(
                f"percent_rate must be a yearly fraction in (0, 1), got {self.percent_rate!r}"
            )
        if not -0.5 < self.inflation < 1.0:
            raise ConfigError(f"inflation must be a yearly fraction, got {self.inflation!r}")

    @property
    def months(self) -> int:
        return 12 * self.horizon_years

    @property
    def start_month(self) -> int:
        return round(12 * self.start_in_years)

    @property
    def indexed_goal(self) -> bool:
        return self.withdrawal in ("inflation-indexed", "guardrails")

    def goal_by_month(self) -> NDArray[np.float64]:
        """The income goal of each month in nominal dollars (0 before the income phase):
        indexed yearly to inflation from today for the indexed rules."""
        t = np.arange(self.months)
        goal = np.full(self.months, self.income_per_year / 12.0)
        if self.indexed_goal:
            goal *= (1.0 + self.inflation) ** (t // 12)
        goal[t < self.start_month] = 0.0
        return goal


@dataclass
class PathTotals:
    """Per path and year (paths x years) and per-year means the summaries read."""

    capital: NDArray[np.float64]  # nominal, at year end
    income: NDArray[np.float64]  # delivered to the user in the year (net of tax)
    exhausted_month: NDArray[np.int64]  # -1 if never
    early_return: NDArray[np.float64]  # log price return in the first 5 income years
    from_yield: NDArray[np.float64]  # mean over paths, per year
    from_principal: NDArray[np.float64]
    tax_paid: NDArray[np.float64]
    reinvested: NDArray[np.float64]
    paid_out_extra: NDArray[np.float64]  # yield beyond the withdrawal, not reinvested


def simulate(
    config: PlanConfig,
    sampler: PriceSampler,
    yields: YieldModel,
    *,
    paths: int,
    seed: int,
    jumps: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None,
) -> PathTotals:
    """Run ``paths`` monthly paths; reproducible for a given ``seed``.

    ``jumps`` is ``(intensity a year, loss)`` per jump source (``tailrisk``), the loss as
    a share of this portfolio. Prices, yields and jumps draw from three generators
    spawned from ``seed``, so a run equals the same run stacked with others
    (``paths.simulate_runs``).

    Raises:
        ConfigError: fewer than one path.
    """
    from realyield.planning.paths import make_run, simulate_runs

    if paths < 1:
        raise ConfigError(f"paths must be at least 1, got {paths}")
    run = make_run(config, sampler, yields, paths=paths, seed=seed, jumps=jumps)
    return simulate_runs([run])[0]
