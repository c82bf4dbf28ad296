"""The cash-flow schedule: per month or quarter, the expected yield income of each
sleeve, the withdrawal, the tax reserve, what is reinvested, and which sleeve pays.

Deterministic and deliberately plain: prices flat, each sleeve paying today's real
yield plus its emissions decaying as in the Monte Carlo, the same order of cash flows
as the Monte Carlo kernel (yield first, then principal sold pro rata across sleeves to
keep the mix), so the schedule's capital equals a zero-volatility simulation (tested).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from realyield.core.errors import ConfigError
from realyield.planning.montecarlo import PlanConfig


@dataclass(frozen=True, slots=True)
class SleeveYield:
    real: float  # fraction a year
    emission: float = 0.0


@dataclass(frozen=True)
class CashFlowRow:
    period: str  # "Y1 M1" or "Y1 Q1"
    capital_start: float
    yield_by_sleeve: dict[str, float]
    yield_income: float
    tax_reserve: float
    withdrawal: float
    paid_from_yield: float
    paid_from_principal: dict[str, float]  # gross sales per sleeve
    reinvested: float
    capital_end: float

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def schedule(
    config: PlanConfig,
    weights: Mapping[str, float],
    sleeves: Mapping[str, SleeveYield],
    *,
    emission_half_life_years: float = 1.0,
    frequency: str = "quarter",
    years: int | None = None,
) -> list[CashFlowRow]:
    """The expected cash flows, grouped by ``frequency`` (month or quarter).

    Raises:
        ConfigError: an unknown frequency, or a weighted sleeve without a yield.
    """
    if frequency not in ("month", "quarter"):
        raise ConfigError(f"frequency must be month or quarter, got {frequency!r}")
    missing = sorted(set(weights) - set(sleeves))
    if missing:
        raise ConfigError(f"no yield known for sleeve(s) {missing}")
    step = 1 if frequency == "month" else 3
    months = 12 * min(years or config.horizon_years, config.horizon_years)
    goal = config.goal_by_month()
    half = 12.0 * emission_half_life_years
    rate = {
        k: (
            (1.0 + sleeves[k].real) ** (1 / 12) - 1.0,
            sleeves[k].emission,
        )
        for k in weights
    }
    v = config.capital
    basis = v
    wr0 = config.income_per_year / config.capital
    w_month = 0.0
    rows: list[CashFlowRow] = []
    acc: dict[str, Any] = {}
    for t in range(months):
        if t % step == 0:
            acc = {
                "start": v,
                "by": dict.fromkeys(weights, 0.0),
                "tax": 0.0,
                "want": 0.0,
                "from_y": 0.0,
                "sold": dict.fromkeys(weights, 0.0),
                "reinv": 0.0,
            }
        if t >= config.start_month and (t % 12 == 0 or t == config.start_month):
            if config.withdrawal == "percent":
                pct = wr0 if config.percent_rate is None else config.percent_rate
                w_month = v * pct / 12.0
            elif config.withdrawal == "guardrails" and t != config.start_month:
                w_month *= 1.0 + config.inflation
                now = 12.0 * w_month / v if v > 0 else float("inf")
                if now > wr0 * (1 + config.guardrail_band):
                    w_month *= 1 - config.guardrail_step
                elif now < wr0 * (1 - config.guardrail_band):
                    w_month *= 1 + config.guardrail_step
            else:
                w_month = float(goal[t])
                if config.withdrawal == "guardrails" and v > 0:
                    wr0 = 12.0 * w_month / v
        by = {
            k: v * w * (rate[k][0] + (1 + rate[k][1] * 0.5 ** (t / half)) ** (1 / 12) - 1)
            for k, w in weights.items()
        }
        inc = sum(by.values())
        tax = inc * config.tax_income
        net = inc - tax
        want = w_month if t >= config.start_month and v > 0 else 0.0
        from_y = min(net, want)
        reinv = (net - from_y) * config.reinvest
        v += reinv
        basis += reinv
        need = want - from_y
        gain = min(max(1.0 - basis / v, 0.0), 1.0) if v > 0 else 0.0
        sell = min(need / (1.0 - config.tax_sales * gain), v) if need > 0 else 0.0
        tax += sell * config.tax_sales * gain
        if v > 0:
            basis *= 1.0 - sell / v
        v -= sell
        for k, x in by.items():
            acc["by"][k] += x
        for k, w in weights.items():
            acc["sold"][k] += sell * w
        acc["tax"] += tax
        acc["want"] += want
        acc["from_y"] += from_y
        acc["reinv"] += reinv
        if t % step == step - 1 or t == months - 1:
            label = f"Y{t // 12 + 1} " + (
                f"M{t % 12 + 1}" if step == 1 else f"Q{(t % 12) // 3 + 1}"
            )
            rows.append(
                CashFlowRow(
                    label,
                    acc["start"],
                    acc["by"],
                    sum(acc["by"].values()),
                    acc["tax"],
                    acc["want"],
                    acc["from_y"],
                    acc["sold"],
                    acc["reinv"],
                    v,
                )
            )
    return rows
