"""The planner end to end: the function the CLI, the API and a Python user call.

``make_plan`` works on indices already built (pure: compositions, prices and options
in, a ``Plan`` out); ``plan_stored`` builds them from the store first. A plan holds the
verdict on the goal, the allocation and its blended yield (real and emission), the
optimizer's candidates, the Monte Carlo outcomes and the cash-flow schedule, plus notes
on what the figures rest on (illustrative data, months of history, coverage).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.indices.composition import IndexComposition
from realyield.indices.service import indices_at
from realyield.planning.cashflow import CashFlowRow, SleeveYield, schedule
from realyield.planning.goal import IndexYield, Verdict, verdict
from realyield.planning.montecarlo import PlanConfig, YieldModel, simulate
from realyield.planning.optimize import Optimized, optimize_mix
from realyield.planning.outcomes import Outcomes, succeeded, summarize
from realyield.planning.profiles import check_allocation, preset, risk_profile
from realyield.planning.returns import MonthlyReturns, index_monthly_returns
from realyield.planning.samplers import BlockBootstrap, PriceSampler, RegimeModel, recentre
from realyield.scoring.service import score_stored
from realyield.universe.repository import load_assets, price_history_frame, stored_sources

PRICE_MODELS = ("bootstrap", "regime")
OPTIMIZER_PATHS = 2000


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
            "outcomes": self.outcomes.as_dict(),
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


def monthly_consistent(weights: Mapping[str, float], apy: Mapping[str, float]) -> float:
    """The APY of a monthly-rebalanced mix of sleeves each compounding monthly at its own
    APY (fractions): ``(1 + sum w_i ((1 + a_i)^(1/12) - 1))^12 - 1``."""
    m = sum(w * ((1.0 + apy[k]) ** (1 / 12) - 1.0) for k, w in weights.items())
    return float((1.0 + m) ** 12 - 1.0)


def _sampler(
    request: PlanRequest, history: MonthlyReturns, weights: Mapping[str, float]
) -> PriceSampler:
    series = history.portfolio(weights)
    if request.price_drift is not None:
        series = recentre(series, request.price_drift)
    if request.price_model == "regime":  # make_plan has checked it is one of PRICE_MODELS
        return RegimeModel.fit(series)
    return BlockBootstrap(series, min(request.block_months, series.size))


def make_plan(
    request: PlanRequest,
    compositions: Mapping[str, IndexComposition],
    prices: pl.DataFrame,
    stable: Set[str],
    *,
    as_of: date,
    notes: list[str] | None = None,
    forecast: pl.DataFrame | None = None,
) -> Plan:
    """Plan ``request`` on these indices and prices.

    ``forecast`` (columns ``id, forecast_apy_30d``, as the scoring forecast gives) moves
    each index's expected real yield in the simulation by the ratio of its holdings'
    forecast to their headline APY (bounded to 0.5-1.5): where the model expects yields
    to fall, the paths start lower. The verdict stays on today's real yields.

    Raises:
        ConfigError: invalid options, or an allocation naming an index not built.
        InsufficientDataError: no index built, or too little price history.
    """
    config = request.config()
    if request.paths < 1 or request.paths > 1_000_000:
        raise ConfigError(f"paths must be 1-1,000,000, got {request.paths}")
    if request.price_model not in PRICE_MODELS:
        raise ConfigError(f"price model must be one of {PRICE_MODELS}, got {request.price_model!r}")
    profile = risk_profile(request.risk)
    yields = {n: IndexYield.of(c) for n, c in compositions.items()}
    judged = verdict(
        request.capital, request.income_per_year, yields, profile, tax_income=request.tax_income
    )
    history = index_monthly_returns(compositions, prices, stable)
    ratios = forecast_ratios(compositions, forecast)
    real = {n: max(y.apy_real, 0.0) / 100.0 * ratios.get(n, 1.0) for n, y in yields.items()}
    emis = {n: max(y.apy_emission, 0.0) / 100.0 for n, y in yields.items()}

    def run(weights: Mapping[str, float], paths: int) -> tuple[Any, YieldModel]:
        model = YieldModel(
            real=monthly_consistent(weights, real),
            emission=sum(w * emis[k] for k, w in weights.items()),
            emission_half_life_years=request.emission_half_life_years,
            vol=request.yield_vol,
        )
        sampler = _sampler(request, history, weights)
        return simulate(config, sampler, model, paths=paths, seed=request.seed), model

    def success_of(weights: Mapping[str, float]) -> float:
        totals, _ = run(weights, min(OPTIMIZER_PATHS, request.paths))
        return float(succeeded(totals, config).mean())

    chosen = None
    if request.allocation is not None:
        chosen = check_allocation("allocation", dict(request.allocation))
        unknown = sorted(set(chosen) - set(yields))
        if unknown:
            raise ConfigError(
                f"allocation names index(es) {unknown} that were not built; built: {sorted(yields)}"
            )
    optimized = None
    if request.optimize:
        seeds = {
            f"{profile.name} profile": {k: v for k, v in profile.allocation.items() if k in yields}
        }
        if chosen is not None:
            seeds["requested"] = chosen
        seeds = {k: _normalised(v) for k, v in seeds.items() if v}
        need = judged.required_yield / (1.0 - request.tax_income) + (
            request.inflation if config.indexed_goal else 0.0
        )
        optimized = optimize_mix(
            history,
            real,
            profile.max_share,
            need=need,
            budget=profile.cvar_budget,
            success_of=success_of,
            seeds=seeds,
            seed=request.seed,
        )
    if chosen is None:
        if optimized is not None:
            chosen = dict(optimized.best.weights)
        else:
            chosen = _normalised({k: v for k, v in profile.allocation.items() if k in yields})
    if not chosen:
        raise InsufficientDataError("none of the profile's indices could be built")
    totals, _ = run(chosen, request.paths)
    outcomes = summarize(totals, config)
    rows = schedule(
        config,
        chosen,
        {k: SleeveYield(real[k], emis[k]) for k in chosen},
        emission_half_life_years=request.emission_half_life_years,
    )
    all_notes = list(notes or []) + history.notes
    moved = {k: r for k, r in ratios.items() if abs(r - 1.0) >= 0.005}
    if moved:
        all_notes.append(
            "the simulation starts each index's real yield at the forecast's view: "
            + ", ".join(f"{k} x{r:.2f}" for k, r in sorted(moved.items()))
        )
    if request.price_drift is not None:
        all_notes.append(
            f"price paths keep the history's volatility and crashes but assume a median "
            f"price growth of {request.price_drift:.1%} a year (the history's own trend is "
            "not extrapolated)"
        )
    blended = blend(chosen, yields)
    lo_hi = request.target_apy_range
    if lo_hi is not None and not lo_hi[0] <= blended.apy <= lo_hi[1]:
        parts = ", ".join(
            f"{k} {w:.0%} x {yields[k].apy:.2f}% = {w * yields[k].apy:.2f} pp"
            for k, w in sorted(chosen.items(), key=lambda kv: -kv[1])
        )
        all_notes.append(
            f"the blended yield {blended.apy:.2f}% is outside the target "
            f"{lo_hi[0]:g}-{lo_hi[1]:g}%: {parts} (today's index yields)"
        )
    if history.matrix.shape[0] < 60:
        all_notes.append(
            f"price paths resample only {history.matrix.shape[0]} months of history; "
            "a longer history (real prices via `realyield data import`) widens the range"
        )
    return Plan(
        request,
        as_of,
        judged,
        chosen,
        blended,
        outcomes,
        rows,
        optimized,
        yields,
        history.matrix.shape[0],
        (history.months[0], history.months[-1]),
        all_notes,
    )


def forecast_ratios(
    compositions: Mapping[str, IndexComposition], forecast: pl.DataFrame | None
) -> dict[str, float]:
    """Per index: the weighted 30-day forecast APY over the weighted headline APY of the
    holdings that have a forecast, bounded to [0.5, 1.5]; indices without any: absent."""
    if forecast is None or forecast.is_empty():
        return {}
    fc = {
        str(i): float(v)
        for i, v in forecast.select("id", "forecast_apy_30d").iter_rows()
        if v is not None and math.isfinite(v) and v >= 0
    }
    out = {}
    for name, comp in compositions.items():
        num = sum(c.weight * fc[c.id] for c in comp.constituents if c.id in fc)
        den = sum(c.weight * c.apy for c in comp.constituents if c.id in fc)
        if den > 0:
            out[name] = min(max(num / den, 0.5), 1.5)
    return out


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    return {k: v / total for k, v in weights.items() if v > 0} if total > 0 else {}


def plan_stored(engine: Engine, request: PlanRequest, *, as_of: date | None = None) -> Plan:
    """Build today's indices from the store, then plan.

    Raises:
        DataError: nothing stored (run `realyield demo` or `realyield data refresh`).
        ConfigError, InsufficientDataError: as ``make_plan``.
    """
    scored, forecast_note = score_stored(engine)
    built, _ = indices_at(engine, as_of=as_of, scored=scored)
    day = as_of or scored.inputs.as_of
    return plan_on_indices(
        engine,
        request,
        built,
        as_of=day,
        notes=[forecast_note] if forecast_note else [],
        forecast=scored.forecast,
    )


def plan_on_indices(
    engine: Engine,
    request: PlanRequest,
    built: Mapping[str, IndexComposition | Exception],
    *,
    as_of: date,
    notes: list[str] | None = None,
    forecast: pl.DataFrame | None = None,
) -> Plan:
    """Plan on indices the caller already built (as ``indices_at`` returns them), with
    the stored prices up to ``as_of``.

    Raises:
        InsufficientDataError: no index built; ConfigError as ``make_plan``.
    """
    compositions = {k: v for k, v in built.items() if isinstance(v, IndexComposition)}
    notes = list(notes or []) + [
        f"{k}: not built ({v})" for k, v in built.items() if not isinstance(v, IndexComposition)
    ]
    if not compositions:
        raise InsufficientDataError("no index could be built from the stored data")
    stable = {a.id for a in load_assets(engine) if a.category == "stablecoin"}
    prices = price_history_frame(engine, end=as_of)
    if "snapshot" in stored_sources(engine):
        notes.insert(
            0,
            "the bundled snapshot's price and yield histories are ILLUSTRATIVE (generated): "
            "so are these outcomes; import real prices for a real plan",
        )
    return make_plan(
        request, compositions, prices, stable, as_of=as_of, notes=notes, forecast=forecast
    )
