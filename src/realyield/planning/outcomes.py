"""What a Monte Carlo run means for the user: success probability, percentiles of
capital and income by year (nominal and in today's dollars, side by side), income from yield against
income from principal, the worst 5% of paths, and sequence-of-returns risk.

Kept apart from the kernel so the CLI, API and report render one record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from realyield.planning.montecarlo import PathTotals, PlanConfig

PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class Outcomes:
    paths: int
    success_probability: float
    exhaustion_probability: float
    median_exhaustion_year: float | None
    years: NDArray[np.int64]  # 1..horizon
    capital_pct: NDArray[np.float64]  # len(PERCENTILES) x years, nominal
    capital_real_pct: NDArray[np.float64]  # in today's dollars
    income_pct: NDArray[np.float64]  # delivered a year, nominal
    income_real_pct: NDArray[np.float64]
    goal_by_year: NDArray[np.float64]  # nominal
    goal_by_year_real: NDArray[np.float64]  # in today's dollars
    from_yield: NDArray[np.float64]  # mean a year
    from_principal: NDArray[np.float64]
    tax_paid: NDArray[np.float64]
    reinvested: NDArray[np.float64]
    worst5_capital_real: NDArray[np.float64]  # mean path of the worst 5% (terminal, real)
    worst5_success: float
    sequence_risk: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        def rows(a: NDArray[np.float64]) -> dict[str, list[float]]:
            return {f"p{p}": a[i].round(2).tolist() for i, p in enumerate(PERCENTILES)}

        return {
            "paths": self.paths,
            "success_probability": self.success_probability,
            "exhaustion_probability": self.exhaustion_probability,
            "median_exhaustion_year": self.median_exhaustion_year,
            "years": self.years.tolist(),
            "capital": rows(self.capital_pct),
            "capital_real": rows(self.capital_real_pct),
            "capital_real_chart_top": chart_top(self),
            "income": rows(self.income_pct),
            "income_real": rows(self.income_real_pct),
            "goal_by_year": self.goal_by_year.round(2).tolist(),
            "goal_by_year_real": self.goal_by_year_real.round(2).tolist(),
            "units": {
                "capital": "nominal dollars at year end",
                "capital_real": "today's dollars (deflated by inflation to year end)",
                "income": "nominal dollars received in the year, after tax",
                "income_real": "today's dollars (deflated to the year's start, as the "
                "indexed goal is)",
            },
            "income_from_yield": self.from_yield.round(2).tolist(),
            "income_from_principal": self.from_principal.round(2).tolist(),
            "tax_paid": self.tax_paid.round(2).tolist(),
            "reinvested": self.reinvested.round(2).tolist(),
            "worst5_capital_real": self.worst5_capital_real.round(2).tolist(),
            "worst5_success": self.worst5_success,
            "sequence_risk": self.sequence_risk,
        }


def succeeded(totals: PathTotals, config: PlanConfig) -> NDArray[np.bool_]:
    """Per path: capital never exhausted and every year's income at least its goal."""
    goal = config.goal_by_month().reshape(config.horizon_years, 12).sum(axis=1)
    met = (totals.income >= goal[None, :] * (1.0 - 1e-9) - 1e-6).all(axis=1)
    return np.asarray(met & (totals.exhausted_month < 0), dtype=bool)


def summarize(totals: PathTotals, config: PlanConfig) -> Outcomes:
    """The user-facing figures of one run."""
    paths, years = totals.capital.shape
    ok = succeeded(totals, config)
    # capital is valued at year end; a year's income in the dollars of the year's start,
    # the convention the indexed goal follows (so $75k indexed reads $75,000 every year)
    deflator = (1.0 + config.inflation) ** np.arange(1, years + 1)
    income_deflator = deflator / (1.0 + config.inflation)
    cap_real = totals.capital / deflator[None, :]
    pct = np.asarray(PERCENTILES, dtype=np.float64)
    both = np.percentile(np.stack([totals.capital, totals.income]), pct, axis=1)
    cap_pct, inc_pct = both[:, 0], both[:, 1]
    ex = totals.exhausted_month[totals.exhausted_month >= 0]
    n_worst = max(1, int(np.ceil(0.05 * paths)))
    worst = np.argpartition(cap_real[:, -1], n_worst - 1)[:n_worst]
    return Outcomes(
        paths=paths,
        success_probability=float(ok.mean()),
        exhaustion_probability=float((totals.exhausted_month >= 0).mean()),
        median_exhaustion_year=float(np.median(ex) / 12.0) if ex.size else None,
        years=np.arange(1, years + 1),
        # deflating is a positive scaling per year: percentiles of the nominal tables,
        # scaled, are the percentiles of the real ones
        capital_pct=cap_pct,
        capital_real_pct=cap_pct / deflator[None, :],
        income_pct=inc_pct,
        income_real_pct=inc_pct / income_deflator[None, :],
        goal_by_year=config.goal_by_month().reshape(years, 12).sum(axis=1),
        goal_by_year_real=config.goal_by_month().reshape(years, 12).sum(axis=1) / income_deflator,
        from_yield=totals.from_yield,
        from_principal=totals.from_principal,
        tax_paid=totals.tax_paid,
        reinvested=totals.reinvested,
        worst5_capital_real=cap_real[worst].mean(axis=0),
        worst5_success=float(ok[worst].mean()),
        sequence_risk=sequence_risk(totals.early_return, cap_real[:, -1], ok),
    )


def sequence_risk(
    early: NDArray[np.float64], terminal: NDArray[np.float64], ok: NDArray[np.bool_]
) -> dict[str, float]:
    """How much the first five income years' returns decide the outcome: success in
    the worst and best fifth of those returns, and the rank correlation between them
    and terminal capital (today's dollars)."""
    n = early.size
    if n < 10:
        return {}
    order = np.argsort(early, kind="stable")
    fifth = max(1, n // 5)
    rank_e = np.empty(n)
    rank_e[order] = np.arange(n)
    rank_t = np.empty(n)
    rank_t[np.argsort(terminal, kind="stable")] = np.arange(n)
    sd = rank_e.std() * rank_t.std()
    corr = float(((rank_e - rank_e.mean()) * (rank_t - rank_t.mean())).mean() / sd) if sd else 0.0
    return {
        "success_worst_fifth_early_returns": float(ok[order[:fifth]].mean()),
        "success_best_fifth_early_returns": float(ok[order[-fifth:]].mean()),
        "rank_correlation_early_return_terminal_capital": corr,
    }


def chart_top(o: Outcomes) -> float:
    """The top of a capital chart's scale (today's dollars): the highest 75th percentile,
    at least twice the highest median, so the median sits well inside the chart (the
    95th percentile of a volatile plan would squash it onto the axis); bands beyond the
    top are cut."""
    p50 = float(np.nanmax(o.capital_real_pct[PERCENTILES.index(50)]))
    p75 = float(np.nanmax(o.capital_real_pct[PERCENTILES.index(75)]))
    return max(p75, 2.0 * p50, 1.0)


def cvar_words(loss: float) -> str:
    """A CVaR (a loss counted positive) in words: ``a loss of 18.3%`` or, when even the
    worst 5% of periods gain, ``a gain of 5.5% (even the worst 5% gain)``."""
    if loss >= 0:
        return f"a loss of {loss:.1%}"
    return f"a gain of {-loss:.1%} (even the worst 5% of periods gain)"
