"""The optimizer (cvxpy CVaR budget), the cash-flow schedule and monthly returns."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from realyield.indices.composition import Constituent, IndexComposition
from realyield.planning.cashflow import SleeveYield, schedule
from realyield.planning.montecarlo import PlanConfig, YieldModel, simulate
from realyield.planning.optimize import annual_scenarios, cvar, optimize_mix, surrogate_mix
from realyield.planning.returns import MonthlyReturns, index_monthly_returns
from realyield.planning.samplers import Constant
from realyield.planning.service import monthly_consistent


def test_cvar_is_the_mean_of_the_worst_five_percent() -> None:
    r = np.arange(-10, 90, dtype=float) / 100  # 100 scenarios, worst 5: -10..-6 %
    assert cvar(r) == pytest.approx(np.mean([0.10, 0.09, 0.08, 0.07, 0.06]))


def _history(seed: int = 0, months: int = 60) -> MonthlyReturns:
    rng = np.random.default_rng(seed)
    risky = rng.normal(0.01, 0.15, months)
    safe = np.zeros(months)
    return MonthlyReturns(
        ("risky", "safe"),
        tuple(date(2015 + m // 12, m % 12 + 1, 1) for m in range(months)),
        np.column_stack([risky, safe]),
    )


def test_the_cvar_budget_binds_and_holds() -> None:
    hist = _history()
    real = {"risky": 0.02, "safe": 0.05}
    scen = annual_scenarios(hist, real, seed=1)
    for budget in (0.05, 0.15, 0.30):
        mix = surrogate_mix(
            scen, hist.names, {"risky": 1.0, "safe": 1.0}, target=0.12, budget=budget
        )
        assert mix is not None
        w = np.array([mix.get("risky", 0.0), mix.get("safe", 0.0)])
        assert cvar(scen @ w) <= budget + 1e-4
    # a looser budget lets the optimizer take more of the risky index to chase 12%
    tight = surrogate_mix(scen, hist.names, {"risky": 1.0, "safe": 1.0}, target=0.12, budget=0.05)
    loose = surrogate_mix(scen, hist.names, {"risky": 1.0, "safe": 1.0}, target=0.12, budget=0.30)
    assert tight is not None and loose is not None
    assert loose.get("risky", 0) > tight.get("risky", 0)


def test_ceilings_hold_and_the_best_candidate_has_the_highest_success() -> None:
    hist = _history(2)
    calls: list[dict[str, float]] = []

    def success(mix: dict[str, float]) -> float:  # a stand-in scorer: prefers the safe index
        calls.append(dict(mix))
        return mix.get("safe", 0.0)

    out = optimize_mix(
        hist,
        {"risky": 0.0, "safe": 0.04},
        {"risky": 0.4, "safe": 0.9},
        need=0.05,
        budget=0.5,
        success_of=success,
        seeds={"given": {"risky": 0.5, "safe": 0.5}},
    )
    for c in out.candidates:
        if c.label.startswith("optimized"):
            assert (
                c.weights.get("risky", 0) <= 0.4 + 1e-9 and c.weights.get("safe", 0) <= 0.9 + 1e-9
            )
    assert out.best.success == max(c.success for c in out.candidates if c.within_budget)
    assert len(calls) == len(out.candidates)


def test_an_impossible_budget_is_reported_not_hidden() -> None:
    hist = _history(3)
    out = optimize_mix(
        hist,
        {"risky": 0.0},
        {"risky": 1.0},
        need=0.05,
        budget=0.001,
        success_of=lambda m: 0.5,
        seeds={"only": {"risky": 1.0}},
    )
    assert "no mix" in out.note and not out.best.within_budget


def test_schedule_matches_a_zero_volatility_simulation() -> None:
    weights = {"a": 0.6, "b": 0.4}
    sleeves = {"a": SleeveYield(0.03), "b": SleeveYield(0.07)}
    cfg = PlanConfig(
        capital=400_000,
        income_per_year=30_000,
        horizon_years=6,
        start_in_years=1,
        tax_income=0.2,
        tax_sales=0.15,
        reinvest=0.5,
        withdrawal="inflation-indexed",
        inflation=0.03,
    )
    rows = schedule(cfg, weights, sleeves, frequency="quarter")
    apy = monthly_consistent(weights, {"a": 0.03, "b": 0.07})
    sim = simulate(cfg, Constant(0.0), YieldModel(apy), paths=1, seed=0)
    assert len(rows) == 24
    for year in range(6):
        assert rows[4 * year + 3].capital_end == pytest.approx(sim.capital[0, year], rel=1e-10)
    # sleeve b pays 4/(6*3+4*7)... of the yield: its share of the income is w_b y_b / sum
    r = rows[5]
    share = r.yield_by_sleeve["b"] / r.yield_income
    mb, ma = 1.07 ** (1 / 12) - 1, 1.03 ** (1 / 12) - 1
    assert share == pytest.approx(0.4 * mb / (0.4 * mb + 0.6 * ma))
    assert rows[0].withdrawal == 0 and rows[4].withdrawal == pytest.approx(3 * 30_000 / 12 * 1.03)


@pytest.mark.parametrize("rate", [None, 0.04])
def test_schedule_matches_the_simulation_under_the_percent_rule(rate: float | None) -> None:
    cfg = PlanConfig(
        capital=250_000,
        income_per_year=15_000,
        horizon_years=4,
        withdrawal="percent",
        percent_rate=rate,
        tax_income=0.1,
    )
    rows = schedule(cfg, {"a": 1.0}, {"a": SleeveYield(0.02)}, frequency="month")
    sim = simulate(cfg, Constant(0.0), YieldModel(0.02), paths=1, seed=0)
    for year in range(4):
        assert rows[12 * year + 11].capital_end == pytest.approx(sim.capital[0, year], rel=1e-12)
    first = (rate if rate is not None else 15_000 / 250_000) * 250_000 / 12
    assert rows[0].withdrawal == pytest.approx(first)


def test_index_monthly_returns_use_holdings_and_treat_stablecoins_as_flat() -> None:
    days = pl.date_range(date(2020, 1, 1), date(2021, 12, 31), eager=True)
    n = days.len()
    btc = 100.0 * 1.01 ** np.arange(n)
    frame = pl.concat(
        [
            pl.DataFrame({"asset_id": "bitcoin", "date": days, "price_usd": btc}),
            pl.DataFrame({"asset_id": "usd-coin", "date": days, "price_usd": np.ones(n)}),
        ]
    )

    def comp(name: str, cons: list[tuple[str, float, tuple[str, ...]]]) -> IndexComposition:
        return IndexComposition(
            name,
            name,
            date(2021, 12, 31),
            [Constituent(i, i, "asset", None, w, 0, 0, 0, 0, 0, u) for i, w, u in cons],
        )

    comps = {
        "btc": comp("btc", [("b", 1.0, ("bitcoin",))]),
        "mix": comp("mix", [("b", 0.5, ("bitcoin",)), ("u", 0.5, ("usd-coin",))]),
    }
    out = index_monthly_returns(comps, frame, stable={"usd-coin"})
    assert len(out.months) == 23  # 24 months, the first has no predecessor
    # month-end to month-end: January 31 -> February 29 2020 is 29 days of +1%
    assert out.column("btc")[0] == pytest.approx(1.01**29 - 1)
    assert out.column("mix") == pytest.approx(0.5 * out.column("btc"))


def test_forecast_ratios_weight_the_holdings_that_have_a_forecast() -> None:
    from realyield.planning.service import forecast_ratios

    def con(i: str, w: float, apy: float) -> Constituent:
        return Constituent(i, i, "lending", None, w, apy, apy, 0, apy, 0, ())

    comps = {
        "x": IndexComposition("x", "x", date(2025, 1, 1), [con("a", 0.5, 10), con("b", 0.5, 4)]),
        "y": IndexComposition("y", "y", date(2025, 1, 1), [con("c", 1.0, 5)]),
        "z": IndexComposition("z", "z", date(2025, 1, 1), [con("d", 1.0, 5)]),
    }
    fc = pl.DataFrame({"id": ["a", "b", "c"], "forecast_apy_30d": [8.0, 4.0, 100.0]})
    out = forecast_ratios(comps, fc)
    assert out["x"] == pytest.approx((0.5 * 8 + 0.5 * 4) / (0.5 * 10 + 0.5 * 4))
    assert out["y"] == 1.5  # bounded
    assert "z" not in out  # no forecast for its holding
    assert forecast_ratios(comps, None) == {}
