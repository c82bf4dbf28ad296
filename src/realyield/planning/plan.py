"""The planner's records: what the user asks (``PlanRequest``) and what a plan holds
(``Plan``), with its JSON form (the CLI's ``--json``, the API's response)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from realyield.core.errors import ConfigError
from realyield.planning.cashflow import CashFlowRow
from realyield.planning.goal import IndexYield, Verdict
from realyield.planning.montecarlo import PlanConfig
from realyield.planning.optimize import Optimized
from realyield.planning.outcomes import Outcomes
from realyield.planning.profiles import preset


@dataclass(frozen=True)
class PlanRequest:
    """What the user asks. Fractions for rates; dollars a year for income."""

    capital: float
    income_per_year: float
    risk: str = "moderate"
    allocation: Mapping[str, float] | None = None  # None: the optimizer's choice
    horizon_years: int = 30
    start_in_years: float = 0.0
    withdrawal: str = "fixed"
    reinvest: float = 0.0
    tax_income: float = 0.0
    tax_sales: float = 0.0
    inflation: float = 0.025
    paths: int = 10_000
    seed: int = 0
    price_model: str = "bootstrap"
    price_drift: float | None = 0.0  # median price growth a year; None: the history's
    block_months: int = 6
    yield_vol: float = 0.30
    emission_half_life_years: float = 1.0
    optimize: bool = True
    preset: str | None = None
    target_apy_range: tuple[float, float] | None = None

    def config(self) -> PlanConfig:
        return PlanConfig(
            capital=self.capital,
            income_per_year=self.income_per_year,
            horizon_years=self.horizon_years,
            start_in_years=self.start_in_years,
            withdrawal=self.withdrawal,
            reinvest=self.reinvest,
            tax_income=self.tax_income,
            tax_sales=self.tax_sales,
            inflation=self.inflation,
        )


def request_from_preset(name: str, **overrides: Any) -> PlanRequest:
    """A request filled from a packaged preset; ``overrides`` (not None) win.

    Raises:
        ConfigError: unknown preset or option.
    """
    p = preset(name)
    base = PlanRequest(
        capital=p.capital,
        income_per_year=p.income_per_year,
        risk=p.risk,
        allocation=dict(p.allocation),
        horizon_years=round(p.horizon_years),
        start_in_years=p.start_in_years,
        withdrawal=p.withdrawal,
        reinvest=p.reinvest,
        preset=name,
        target_apy_range=p.target_apy_range,
    )
    clean = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(clean) - set(PlanRequest.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown plan option(s) {sorted(unknown)}")
    return replace(base, **clean)


@dataclass(frozen=True)
class Blended:
    """The allocation's expected yield, percent a year."""

    apy: float
    real: float
    emission: float
    sustainable: float


@dataclass
class Plan:
    request: PlanRequest
    as_of: date
    verdict: Verdict
    allocation: dict[str, float]
    blended: Blended
    outcomes: Outcomes
    schedule: list[CashFlowRow]
    optimized: Optimized | None
    index_yields: dict[str, IndexYield]
    history_months: int
    history_span: tuple[date, date]
    notes: list[str] = field(default_factory=list)
    tail_risks: dict[str, Any] = field(default_factory=dict)

    def in_target_range(self) -> bool | None:
        r = self.request.target_apy_range
        return None if r is None else r[0] <= self.blended.apy <= r[1]

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "as_of": self.as_of.isoformat(),
            "request": {k: getattr(r, k) for k in r.__dataclass_fields__},
            "required_yield": self.verdict.required_yield,
            "verdict": self.verdict.as_dict(),
            "allocation": self.allocation,
            "blended_apy": {
                "headline": self.blended.apy,
                "real": self.blended.real,
                "emission": self.blended.emission,
                "sustainable": self.blended.sustainable,
            },
            "in_target_range": self.in_target_range(),
            "outcomes": {**self.outcomes.as_dict(), "tail_risks": self.tail_risks},
            "cash_flow": [row.as_dict() for row in self.schedule],
            "optimizer": self.optimized.as_dict() if self.optimized else None,
            "index_yields": {k: vars_of(v) for k, v in self.index_yields.items()},
            "history": {
                "months": self.history_months,
                "first": self.history_span[0].isoformat(),
                "last": self.history_span[1].isoformat(),
            },
            "notes": self.notes,
        }


def vars_of(y: IndexYield) -> dict[str, Any]:
    return {k: getattr(y, k) for k in y.__slots__}


def blend(weights: Mapping[str, float], yields: Mapping[str, IndexYield]) -> Blended:
    return Blended(
        sum(w * yields[k].apy for k, w in weights.items()),
        sum(w * yields[k].apy_real for k, w in weights.items()),
        sum(w * yields[k].apy_emission for k, w in weights.items()),
        sum(w * yields[k].apy_sustainable for k, w in weights.items()),
    )
