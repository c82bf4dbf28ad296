"""The Monte Carlo kernel against closed forms and hand-computed recurrences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.planning.montecarlo import PlanConfig, YieldModel, simulate
from realyield.planning.outcomes import PERCENTILES, succeeded, summarize
from realyield.planning.samplers import BlockBootstrap, Constant, RegimeModel, recentre


def monthly(apy: float) -> float:
    return (1.0 + apy) ** (1.0 / 12.0) - 1.0


def annuity(v0: float, g: float, w: float, n: int) -> float:
    """Closed form of V' = V g - W after n months."""
    return v0 * g**n - w * (g**n - 1.0) / (g - 1.0)


@pytest.mark.parametrize(("r", "apy", "income"), [(0.002, 0.04, 60_000), (-0.001, 0.05, 30_000)])
def test_zero_volatility_equals_the_annuity_formula(r: float, apy: float, income: float) -> None:
    cfg = PlanConfig(capital=1e6, income_per_year=income, horizon_years=10, reinvest=1.0)
    tot = simulate(cfg, Constant(r), YieldModel(apy), paths=4, seed=1)
    g = 1.0 + r + monthly(apy)
    for year in range(10):
        expected = annuity(1e6, g, income / 12, 12 * (year + 1))
        assert tot.capital[:, year] == pytest.approx(expected, rel=1e-12)
    # every path identical, and every year's income delivered in full
    assert np.ptp(tot.capital, axis=0).max() == 0.0
    assert tot.income == pytest.approx(np.full((4, 10), income), rel=1e-12)


def test_yield_beyond_the_withdrawal_is_paid_out_when_not_reinvested() -> None:
    cfg = PlanConfig(capital=1e6, income_per_year=12_000, horizon_years=2, reinvest=0.0)
    tot = simulate(cfg, Constant(0.001), YieldModel(0.06), paths=1, seed=0)
    assert tot.capital[0, -1] == pytest.approx(1e6 * 1.001**24, rel=1e-12)
    surplus = 1e6 * 1.001 ** np.arange(12) * monthly(0.06) - 1_000
    assert tot.paid_out_extra[0] == pytest.approx(surplus.sum(), rel=1e-12)


def test_accumulation_then_draw_follows_compound_then_annuity() -> None:
    cfg = PlanConfig(
        capital=500_000, income_per_year=40_000, horizon_years=20, start_in_years=5, reinvest=1.0
    )
    tot = simulate(cfg, Constant(0.0), YieldModel(0.06), paths=2, seed=0)
    g = 1.0 + monthly(0.06)
    at_start = 500_000 * g**60  # all income reinvested for five years
    assert tot.capital[0, 4] == pytest.approx(at_start, rel=1e-12)
    assert tot.capital[0, -1] == pytest.approx(annuity(at_start, g, 40_000 / 12, 180), rel=1e-12)
    assert (tot.income[:, :5] == 0).all()


def test_income_tax_and_sales_tax_follow_a_hand_recurrence() -> None:
    """Yield 3% a year, withdrawals 60k: the shortfall is sold, taxed on its gain share."""
    tax_i, tax_s = 0.25, 0.20
    cfg = PlanConfig(
        capital=1e6, income_per_year=60_000, horizon_years=3, tax_income=tax_i, tax_sales=tax_s
    )
    r = 0.01
    tot = simulate(cfg, Constant(r), YieldModel(0.03), paths=1, seed=0)
    v, basis, y = 1e6, 1e6, monthly(0.03)
    for _ in range(36):  # independent scalar re-implementation of the rules
        inc = v * y
        v *= 1 + r
        net = inc * (1 - tax_i)
        need = 5000.0 - net
        gain = max(0.0, 1 - basis / v)
        sell = need / (1 - tax_s * gain)
        basis *= 1 - sell / v
        v -= sell
    assert tot.capital[0, -1] == pytest.approx(v, rel=1e-12)
    assert tot.income[0] == pytest.approx([60_000] * 3, rel=1e-12)


def test_inflation_indexed_goal_and_real_percentiles() -> None:
    cfg = PlanConfig(
        capital=1e6,
        income_per_year=40_000,
        horizon_years=5,
        withdrawal="inflation-indexed",
        inflation=0.03,
    )
    tot = simulate(cfg, Constant(0.0), YieldModel(0.08), paths=3, seed=0)
    assert tot.income[0] == pytest.approx([40_000 * 1.03**k for k in range(5)], rel=1e-12)
    out = summarize(tot, cfg)
    # a year's income in the dollars of the year's start, as the indexed goal: a $40k
    # indexed goal reads $40,000 in today's dollars every year (not 40,000 / 1.03)
    real = out.income_real_pct[PERCENTILES.index(50)]
    assert real == pytest.approx([40_000.0] * 5, rel=1e-12)
    assert out.goal_by_year_real == pytest.approx([40_000.0] * 5, rel=1e-12)
    # capital is valued at year end: deflated by a full year more
    cap = out.capital_real_pct[PERCENTILES.index(50)]
    assert cap == pytest.approx(out.capital_pct[PERCENTILES.index(50)] / 1.03 ** np.arange(1, 6))
    assert out.success_probability == 1.0


def test_capital_exhaustion_fails_the_path_at_the_annuity_date() -> None:
    cfg = PlanConfig(capital=100_000, income_per_year=24_000, horizon_years=10)
    tot = simulate(cfg, Constant(0.0), YieldModel(0.0), paths=2, seed=0)
    # 2,000 a month from 100,000 at no return: months 0-49 are paid in full, month 50
    # (the first that cannot be paid) is the exhaustion month
    assert (tot.exhausted_month == 50).all()
    assert not succeeded(tot, cfg).any()
    assert tot.income[0, 4] == pytest.approx(2_000 * 2)  # only two months paid in year 5


def test_percent_rule_never_exhausts_and_guardrails_cut_after_losses() -> None:
    pct = PlanConfig(capital=1e6, income_per_year=50_000, horizon_years=5, withdrawal="percent")
    tot = simulate(pct, Constant(-0.02), YieldModel(0.0), paths=1, seed=0)
    assert (tot.exhausted_month < 0).all() and tot.capital[0, -1] > 0
    assert tot.income[0, 1] < tot.income[0, 0]  # 5% of a smaller capital
    gr = PlanConfig(capital=1e6, income_per_year=50_000, horizon_years=3, withdrawal="guardrails")
    tot = simulate(gr, Constant(-0.03), YieldModel(0.0), paths=1, seed=0)
    # after a year of -3% a month the rate is far above 120% of 5%: cut by 10%
    assert tot.income[0, 1] == pytest.approx(50_000 * 0.9, rel=1e-12)


def test_bootstrap_of_a_constant_series_gives_identical_paths() -> None:
    cfg = PlanConfig(capital=1e6, income_per_year=30_000, horizon_years=15)
    hist = np.full(40, 0.004)
    boot = simulate(cfg, BlockBootstrap(hist, 6), YieldModel(0.03), paths=50, seed=3)
    const = simulate(cfg, Constant(0.004), YieldModel(0.03), paths=50, seed=3)
    assert np.ptp(boot.capital, axis=0).max() == 0.0
    np.testing.assert_array_equal(boot.capital, const.capital)


def test_a_seed_reproduces_results_exactly_and_another_differs() -> None:
    cfg = PlanConfig(
        capital=1e6,
        income_per_year=50_000,
        horizon_years=20,
        tax_income=0.2,
        withdrawal="guardrails",
        inflation=0.03,
        reinvest=0.5,
    )
    hist = np.random.default_rng(0).normal(0.004, 0.09, 48)
    ym = YieldModel(0.05, 0.02, vol=0.3)
    a = simulate(cfg, BlockBootstrap(hist), ym, paths=500, seed=7)
    b = simulate(cfg, BlockBootstrap(hist), ym, paths=500, seed=7)
    c = simulate(cfg, BlockBootstrap(hist), ym, paths=500, seed=8)
    np.testing.assert_array_equal(a.capital, b.capital)
    np.testing.assert_array_equal(a.income, b.income)
    assert not np.array_equal(a.capital, c.capital)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    drift=st.floats(-0.01, 0.02),
    vol=st.floats(0.0, 0.25),
    tax=st.floats(0.0, 0.5),
    rule=st.sampled_from(["fixed", "inflation-indexed", "percent", "guardrails"]),
)
def test_percentiles_are_monotone(
    seed: int, drift: float, vol: float, tax: float, rule: str
) -> None:
    cfg = PlanConfig(
        capital=1e6,
        income_per_year=60_000,
        horizon_years=10,
        tax_income=tax,
        withdrawal=rule,
        inflation=0.02,
    )
    hist = np.random.default_rng(seed).normal(drift, vol + 1e-9, 36).clip(-0.9, None)
    out = summarize(
        simulate(cfg, BlockBootstrap(hist), YieldModel(0.04, vol=0.2), paths=300, seed=seed), cfg
    )
    for table in (out.capital_pct, out.capital_real_pct, out.income_pct, out.income_real_pct):
        assert (np.diff(table, axis=0) >= -1e-9).all()
    assert 0.0 <= out.success_probability <= 1.0
    assert out.success_probability + out.exhaustion_probability <= 1.0 + 1e-12


def test_sequence_risk_shows_early_losses_hurt() -> None:
    cfg = PlanConfig(capital=1e6, income_per_year=70_000, horizon_years=30)
    hist = np.random.default_rng(1).normal(0.005, 0.12, 60).clip(-0.8, None)
    out = summarize(simulate(cfg, BlockBootstrap(hist), YieldModel(0.03), paths=4000, seed=2), cfg)
    sr = out.sequence_risk
    assert sr["success_worst_fifth_early_returns"] < sr["success_best_fifth_early_returns"]
    assert sr["success_best_fifth_early_returns"] - sr["success_worst_fifth_early_returns"] > 0.1
    assert sr["rank_correlation_early_return_terminal_capital"] > 0
    # the worst 5% end below the median
    assert out.worst5_capital_real[-1] <= out.capital_real_pct[PERCENTILES.index(50), -1]


def test_recentre_moves_the_median_growth_and_keeps_the_shocks() -> None:
    r = np.array([0.5, -0.3, 0.2, -0.1, 0.4, 0.0])
    out = recentre(r, 0.0)
    assert np.log1p(out).mean() == pytest.approx(0.0, abs=1e-15)
    # deviations in log space unchanged
    assert np.diff(np.log1p(out)) == pytest.approx(np.diff(np.log1p(r)))
    assert np.log1p(recentre(r, 0.10)).mean() * 12 == pytest.approx(math.log(1.1))
    with pytest.raises(ConfigError, match="above -100%"):
        recentre(r, -1.0)


def test_regime_model_fits_a_stressed_state_with_lower_mean() -> None:
    rng = np.random.default_rng(0)
    calm = rng.normal(0.02, 0.03, 90)
    crash = rng.normal(-0.15, 0.10, 30)
    series = np.concatenate([calm[:45], crash, calm[45:]])
    model = RegimeModel.fit(series)
    assert model.mean[1] < model.mean[0]
    assert model.vol[1] > model.vol[0]
    assert model.stay[1] > 0.5  # the crash months are consecutive
    draws = np.concatenate(
        [model.draw(rng, t) for t in range(1) if model.reset(rng, 20000) is None]
    )
    assert (
        abs(
            draws.mean()
            - (
                model.mean[0] * (1 - model.stationary_stress())
                + model.mean[1] * model.stationary_stress()
            )
        )
        < 0.01
    )


def test_bad_inputs_are_refused_with_the_field_named() -> None:
    with pytest.raises(ConfigError, match="capital"):
        PlanConfig(capital=float("nan"), income_per_year=1.0)
    with pytest.raises(ConfigError, match="start within the horizon"):
        PlanConfig(capital=1.0, income_per_year=1.0, horizon_years=5, start_in_years=5)
    with pytest.raises(ConfigError, match="withdrawal"):
        PlanConfig(capital=1.0, income_per_year=1.0, withdrawal="yolo")
    with pytest.raises(ConfigError, match="tax_income"):
        PlanConfig(capital=1.0, income_per_year=1.0, tax_income=1.2)
    with pytest.raises(ConfigError, match="percent_rate"):
        PlanConfig(capital=1.0, income_per_year=1.0, withdrawal="percent", percent_rate=0.0)
    with pytest.raises(ConfigError, match="yield real"):
        YieldModel(-0.01)
    with pytest.raises(ConfigError, match="finite and above -100%"):
        BlockBootstrap(np.array([0.1, float("nan")]))
    with pytest.raises(InsufficientDataError, match="at least 12"):
        RegimeModel.fit(np.zeros(5))
