"""What every plan on the same indices shares, built once: today's index yields, the
price history of their holdings, the forecast's view of each index's yield, the
tail-risk jump sources and the optimizer's frontier (its scenario set and solved mixes).

Why a separate object: a batch of 10,000 clients plans on one set of indices. Building
this once per batch (and sending it to each worker once) instead of once per client is
most of the batch's speed-up; a single plan builds one for itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from realyield.indices.composition import IndexComposition
from realyield.planning.goal import IndexYield
from realyield.planning.montecarlo import PlanConfig, YieldModel
from realyield.planning.optimize import Frontier
from realyield.planning.paths import Run, make_run
from realyield.planning.returns import MonthlyReturns, index_monthly_returns
from realyield.planning.samplers import BlockBootstrap, PriceSampler, RegimeModel, recentre
from realyield.planning.tailrisk import NOT_MODELLED, JumpSources, jump_sources

PRICE_MODELS = ("bootstrap", "regime")


@dataclass
class PlanContext:
    """The shared inputs of plans on one set of indices (see the module docstring)."""

    compositions: dict[str, IndexComposition]
    as_of: date
    yields: dict[str, IndexYield]
    history: MonthlyReturns
    real: dict[str, float]  # the simulation's real yield per index (forecast-adjusted)
    emission: dict[str, float]
    ratios: dict[str, float]  # forecast / headline per index
    jumps: JumpSources
    notes: list[str] = field(default_factory=list)
    _frontier: Frontier | None = None

    @property
    def frontier(self) -> Frontier:
        if self._frontier is None:
            self._frontier = Frontier(self.history, self.real, self.jumps)
        return self._frontier

    def real_today(self, weights: Mapping[str, float]) -> float:
        """The mix's real yield today (fraction): what the verdict's yield test reads."""
        return sum(w * self.yields[k].apy_real for k, w in weights.items()) / 100.0

    def run(
        self,
        config: PlanConfig,
        weights: Mapping[str, float],
        *,
        paths: int,
        seed: int,
        price_model: str = "bootstrap",
        price_drift: float | None = 0.0,
        block_months: int = 6,
        yield_vol: float = 0.30,
        emission_half_life_years: float = 1.0,
    ) -> Run:
        """One Monte Carlo run of ``weights`` (``paths.simulate_runs`` runs it)."""
        model = YieldModel(
            real=monthly_consistent(weights, self.real),
            emission=sum(w * self.emission[k] for k, w in weights.items()),
            emission_half_life_years=emission_half_life_years,
            vol=yield_vol,
        )
        series = self.history.portfolio(weights)
        if price_drift is not None:
            series = recentre(series, price_drift)
        sampler: PriceSampler
        if price_model == "regime":
            sampler = RegimeModel.fit(series)
        else:
            sampler = BlockBootstrap(series, min(block_months, series.size))
        jumps = (self.jumps.intensity, self.jumps.mix_loss(weights))
        return make_run(config, sampler, model, paths=paths, seed=seed, jumps=jumps)

    def tail_risks(self, weights: Mapping[str, float]) -> dict[str, object]:
        """What the simulation of ``weights`` models as jumps, and what it does not."""
        loss = self.jumps.mix_loss(weights)
        hit = loss > 0
        return {
            "modelled": list(self.jumps.modelled),
            "not_modelled": list(NOT_MODELLED),
            "sources": int(hit.sum()),
            "events_per_year": float(self.jumps.intensity[hit].sum()),
            "expected_loss_per_year": float((self.jumps.intensity * loss).sum()),
        }


def plan_context(
    compositions: Mapping[str, IndexComposition],
    prices: pl.DataFrame,
    stable: Set[str],
    *,
    as_of: date,
    notes: list[str] | None = None,
    forecast: pl.DataFrame | None = None,
) -> PlanContext:
    """Build the shared inputs.

    ``forecast`` (columns ``id, forecast_apy_30d``, as the scoring forecast gives) moves
    each index's real yield in the simulation by the ratio of its holdings' forecast to
    their headline APY (bounded to 0.5-1.5). The verdict's yield test stays on today's
    real yields.

    Raises:
        InsufficientDataError: too little price history.
    """
    comps = dict(compositions)
    yields = {n: IndexYield.of(c) for n, c in comps.items()}
    history = index_monthly_returns(comps, prices, stable)
    ratios = forecast_ratios(comps, forecast)
    real = {n: max(y.apy_real, 0.0) / 100.0 * ratios.get(n, 1.0) for n, y in yields.items()}
    emis = {n: max(y.apy_emission, 0.0) / 100.0 for n, y in yields.items()}
    return PlanContext(
        comps,
        as_of,
        yields,
        history,
        real,
        emis,
        ratios,
        jump_sources(comps, stable),
        list(notes or []) + history.notes,
    )


def monthly_consistent(weights: Mapping[str, float], apy: Mapping[str, float]) -> float:
    """The APY of a monthly-rebalanced mix of sleeves each compounding monthly at its own
    APY (fractions): ``(1 + sum w_i ((1 + a_i)^(1/12) - 1))^12 - 1``."""
    m = sum(w * ((1.0 + apy[k]) ** (1 / 12) - 1.0) for k, w in weights.items())
    return float((1.0 + m) ** 12 - 1.0)


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
