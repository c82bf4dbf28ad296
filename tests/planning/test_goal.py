"""The need by withdrawal rule (by hand), the verdict's two tests, parsing, profiles and
presets."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from realyield.core.errors import ConfigError
from realyield.planning.goal import (
    MixResult,
    judge,
    plan_need,
    verdict_sentence,
    years_to_exhaustion,
)
from realyield.planning.montecarlo import PlanConfig, YieldModel, simulate
from realyield.planning.outcomes import summarize
from realyield.planning.parse import parse_amount, parse_income, parse_percent, parse_years
from realyield.planning.profiles import check_allocation, presets, risk_profile, risk_profiles
from realyield.planning.samplers import Constant

INDEX_REAL = {"large-cap-staking": 0.034, "stablecoin-income": 0.0535, "defi-yield": 0.077}


def monthly(apy: float) -> float:
    return (1.0 + apy) ** (1.0 / 12.0) - 1.0


@pytest.mark.parametrize(
    ("rule", "tax", "expected"),
    [
        ("fixed", 0.0, 0.05),  # $50k from $1M
        ("fixed", 0.25, 0.05 / 0.75),  # grossed up for income tax
        ("inflation-indexed", 0.0, 1.05 * 1.025 - 1.0),  # and keep purchasing power
        ("guardrails", 0.0, 1.05 * 1.025 - 1.0),  # indexed too
        ("inflation-indexed", 0.2, (1.05 * 1.025 - 1.0) / 0.8),
        ("percent", 0.0, 0.05),  # the rate itself
        ("percent", 0.3, 0.05 / 0.7),
    ],
)
def test_the_need_follows_the_withdrawal_rule_by_hand(
    rule: str, tax: float, expected: float
) -> None:
    cfg = PlanConfig(
        capital=1e6, income_per_year=50_000, withdrawal=rule, tax_income=tax, inflation=0.025
    )
    n = plan_need(cfg, real=0.04)  # the mix's yield plays no part without accumulation
    assert n.required == pytest.approx(expected, rel=1e-12)
    assert n.capital_at_start == 1e6 and n.withdrawal_rate == pytest.approx(0.05)


def test_the_need_uses_the_capital_at_the_start_of_drawing_after_reinvesting() -> None:
    """Independence-like: 15 years reinvesting all net yield, then indexed income."""
    cfg = PlanConfig(
        capital=750_000,
        income_per_year=100_000,
        horizon_years=50,
        start_in_years=15,
        withdrawal="inflation-indexed",
        reinvest=1.0,
        tax_income=0.2,
        inflation=0.025,
    )
    real = 0.06
    at_start = 750_000 * (1 + monthly(real) * 0.8) ** 180
    w = 100_000 * 1.025**15 / at_start  # the indexed goal at year 16 over that capital
    n = plan_need(cfg, real)
    assert n.capital_at_start == pytest.approx(at_start, rel=1e-12)
    assert n.capital_at_start_today == pytest.approx(at_start / 1.025**15, rel=1e-12)
    assert n.withdrawal_rate == pytest.approx(w, rel=1e-12)
    assert n.required == pytest.approx(((1 + w) * 1.025 - 1) / 0.8, rel=1e-12)
    # half reinvested: less capital at the start, a higher need
    assert plan_need(replace(cfg, reinvest=0.5), real).required > n.required


def test_a_mix_paying_exactly_the_need_keeps_real_capital_in_the_simulation() -> None:
    """The indexed need in real terms: at that yield, prices flat, today's-dollar capital
    after 20 years is where it started (up to monthly timing)."""
    cfg = PlanConfig(
        capital=1e6,
        income_per_year=40_000,
        horizon_years=20,
        withdrawal="inflation-indexed",
        inflation=0.03,
        reinvest=1.0,
    )
    need = plan_need(cfg, 0.0).required
    out = summarize(simulate(cfg, Constant(0.0), YieldModel(need), paths=1, seed=0), cfg)
    assert out.capital_real_pct[2, -1] == pytest.approx(1e6, rel=0.02)
    assert out.success_probability == 1.0


def _mix(real: float, need: float, success: float) -> MixResult:
    return MixResult({"stablecoin-income": 1.0}, real, need, success, 2000, "plan")


def test_the_verdict_needs_both_tests() -> None:
    cfg = PlanConfig(capital=1e6, income_per_year=50_000)
    ok = judge(cfg, _mix(0.0535, 0.05, 0.90), INDEX_REAL, 0.85, profile="moderate")
    assert ok.level == "sustainable" and ok.yield_covers and ok.success_passes
    assert not ok.remedies
    # the yield covers but the simulation falls short: a stretch, with remedies
    short = judge(
        cfg,
        _mix(0.0535, 0.05, 0.80),
        INDEX_REAL,
        0.85,
        profile="moderate",
        income_for_threshold=41_000,
        screen_paths=400,
    )
    assert short.level == "stretch" and short.yield_covers and not short.success_passes
    assert short.remedies["income_for_success_threshold"] == 41_000
    assert short.remedies["capital_for_success_threshold"] == pytest.approx(1e6 * 50 / 41)
    assert "simulation test failed" in short.reasons[1]
    # simulation passes but the real yield does not cover: a stretch
    low = judge(cfg, _mix(0.045, 0.05, 0.95), INDEX_REAL, 0.85, profile="moderate")
    assert low.level == "stretch" and not low.yield_covers
    # capital needed for this mix's yield to cover, by hand: 5% / 4.5%
    assert low.remedies["capital_needed"] == pytest.approx(1e6 * 0.05 / 0.045)
    assert low.remedies["income_sustainable_per_year"] == pytest.approx(45_000)
    assert low.remedies["years_reinvesting_first"] == pytest.approx(
        math.log(0.05 / 0.045) / math.log(1.045)
    )


def test_unsustainable_when_no_index_pays_it_or_most_paths_fail() -> None:
    cfg = PlanConfig(capital=500_000, income_per_year=50_000)
    v = judge(cfg, _mix(0.0485, 0.10, 0.20), INDEX_REAL, 0.85, profile="moderate")
    assert v.level == "unsustainable"
    assert "no index pays 10.00%" in " ".join(v.reasons)
    # principal lasts: the annuity formula, checked by brute force month by month
    v_cap, months, r = 500_000.0, 0, monthly(0.0485)
    while v_cap > 0:
        v_cap = v_cap * (1 + r) - 50_000 / 12
        months += 1
    assert months - 1 <= v.remedies["years_principal_lasts"] * 12 <= months
    coin_flip = judge(cfg, _mix(0.077, 0.07, 0.45), INDEX_REAL, 0.85, profile="moderate")
    assert coin_flip.level == "unsustainable" and coin_flip.yield_covers


def test_the_sentence_names_the_level_the_tests_and_the_recommendation() -> None:
    cfg = PlanConfig(capital=1e6, income_per_year=50_000)
    rec = MixResult({"stablecoin-income": 0.7, "defi-yield": 0.3}, 0.0606, 0.05, 0.9, 2000)
    v = judge(cfg, _mix(0.045, 0.05, 0.6), INDEX_REAL, 0.85, profile="moderate", recommended=rec)
    text = verdict_sentence(v)
    assert "is a stretch with this mix" in text and "real yield 4.50% against 5.00% needed" in text
    assert "success 60.0% against the 85% threshold" in text
    assert "recommends 70% stablecoin-income, 30% defi-yield" in text
    assert v.as_dict()["sentence"] == text
    with pytest.raises(ConfigError, match="threshold"):
        judge(cfg, _mix(0.05, 0.05, 0.9), INDEX_REAL, 0.0, profile="moderate")


def test_years_to_exhaustion_is_infinite_when_yield_covers_income() -> None:
    assert years_to_exhaustion(1e6, 40_000, 0.05) == math.inf
    assert years_to_exhaustion(120_000, 12_000, 0.0) == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("text", "per_year"),
    [
        ("1500/month", 18_000),
        ("$50k/yr", 50_000),
        ("50,000", 50_000),
        ("1.2m/year", 1.2e6),
        ("500/week", 26_000),
        ("3000 per quarter", 12_000),
    ],
)
def test_parse_income(text: str, per_year: float) -> None:
    assert parse_income(text) == pytest.approx(per_year)


def test_parse_errors_say_what_to_write() -> None:
    with pytest.raises(ConfigError, match="/month"):
        parse_income("1500/fortnight")
    with pytest.raises(ConfigError, match="above zero"):
        parse_income("0/month")
    with pytest.raises(ConfigError, match="300k"):
        parse_amount("lots")
    with pytest.raises(ConfigError, match="25%"):
        parse_percent("abc", what="tax")
    with pytest.raises(ConfigError, match="above 99%"):
        parse_percent("120%", what="tax", upper=99)
    with pytest.raises(ConfigError, match="30y"):
        parse_years("soon", what="horizon")
    assert parse_percent("25%", what="t") == 0.25
    assert parse_percent("0.25", what="t") == 0.25
    assert parse_percent("3", what="t") == 0.03
    assert parse_years("18m", what="h") == 1.5


def test_profiles_and_presets_load_and_their_mixes_respect_the_ceilings() -> None:
    profiles = risk_profiles()
    assert set(profiles) == {"conservative", "moderate", "aggressive"}
    for p in profiles.values():
        assert sum(p.allocation.values()) == pytest.approx(1.0)
        assert all(w <= p.max_share[k] for k, w in p.allocation.items())
    budgets = [profiles[n].cvar_budget for n in ("conservative", "moderate", "aggressive")]
    assert budgets == sorted(budgets)
    assert all(p.success_threshold >= 0.80 for p in profiles.values())
    ps = presets()
    assert ps["supplemental"].allocation == {
        "large-cap-staking": 0.6,
        "stablecoin-income": 0.3,
        "defi-yield": 0.1,
    }
    assert ps["early-retirement"].start_in_years == 5 and ps["early-retirement"].capital == 1.5e6
    assert ps["independence"].reinvest == 1.0 and ps["independence"].allocation["growth"] == 0.7


def test_allocation_validation() -> None:
    with pytest.raises(ConfigError, match=r"sum to 0\.9"):
        check_allocation("x", {"a": 0.5, "b": 0.4})
    with pytest.raises(ConfigError, match=r"allocation.a must be in \[0, 1\]"):
        check_allocation("x", {"a": -0.5, "b": 1.5})
    with pytest.raises(ConfigError, match="unknown risk profile"):
        risk_profile("yolo")


def test_remedies_even_when_the_mix_cannot_keep_up_with_inflation() -> None:
    """Independence-like on real prices: 2% real against 2.5% inflation, and no income
    level passes the simulation: the verdict still says what to do."""
    cfg = PlanConfig(
        capital=750_000,
        income_per_year=100_000,
        horizon_years=50,
        start_in_years=15,
        withdrawal="inflation-indexed",
        reinvest=1.0,
        inflation=0.025,
    )
    v = judge(
        cfg,
        _mix(0.02, 0.17, 0.20),
        INDEX_REAL,
        0.80,
        profile="aggressive",
        income_for_threshold=0.0,
        screen_paths=2000,
    )
    assert v.level == "unsustainable" and v.remedies
    assert v.remedies["mix_real_yield_below_inflation"] is True
    assert "capital_needed" not in v.remedies  # no capital makes 2% cover indexed 2.5%
    assert v.as_dict()["remedies"]["capital_for_success_threshold"] is None  # infinite
    words = v.reasons[-1]
    assert "does not keep up with 2.5% inflation" in words and "1/128" in words
    assert v.remedies["years_principal_lasts"] > 0
