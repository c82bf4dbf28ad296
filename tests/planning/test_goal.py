"""Required yield, the verdict, parsing, profiles and presets."""

from __future__ import annotations

import math

import pytest

from realyield.core.errors import ConfigError
from realyield.planning.goal import IndexYield, best_mix_yield, verdict, years_to_exhaustion
from realyield.planning.parse import parse_amount, parse_income, parse_percent, parse_years
from realyield.planning.profiles import check_allocation, presets, risk_profile, risk_profiles

# today's real yields, percent (the shape of the bundled snapshot's indices)
YIELDS = {
    "large-cap-staking": IndexYield("large-cap-staking", 4.1, 3.4, 0.0, 3.4, "A"),
    "stablecoin-income": IndexYield("stablecoin-income", 5.7, 5.35, 0.4, 5.7, "A"),
    "defi-yield": IndexYield("defi-yield", 9.3, 7.7, 1.6, 9.1, "B"),
    "growth": IndexYield("growth", 0.0, 0.0, 0.0, 0.0, "A"),
}


def test_one_million_for_fifty_thousand_needs_five_percent_and_is_sustainable() -> None:
    v = verdict(1_000_000, 50_000, YIELDS, risk_profile("moderate"))
    assert v.required_yield == pytest.approx(0.05)
    assert v.level == "sustainable"
    # the moderate best mix: 35% DeFi at 7.7% + 65% stablecoin lending at 5.35%
    assert v.profile_capacity == pytest.approx(0.35 * 0.077 + 0.65 * 0.0535)
    assert not v.remedies


def test_half_a_million_for_fifty_thousand_needs_ten_percent_and_is_unsustainable() -> None:
    v = verdict(500_000, 50_000, YIELDS, risk_profile("moderate"))
    assert v.required_yield == pytest.approx(0.10)
    assert v.level == "unsustainable"
    assert "no index pays 10.00%" in " ".join(v.reasons)
    cap = v.profile_capacity
    assert v.remedies["capital_needed"] == pytest.approx(50_000 / cap)
    assert v.remedies["income_sustainable_per_year"] == pytest.approx(500_000 * cap)
    assert v.remedies["years_reinvesting_first"] == pytest.approx(
        math.log(50_000 / cap / 500_000) / math.log(1 + cap)
    )
    # principal lasts: the annuity formula, checked by brute force month by month
    v_cap, months, r = 500_000.0, 0, (1 + cap) ** (1 / 12) - 1
    while v_cap > 0:
        v_cap = v_cap * (1 + r) - 50_000 / 12
        months += 1
    assert months - 1 <= v.remedies["years_principal_lasts"] * 12 <= months


def test_stretch_when_only_more_risk_than_the_profile_reaches_it() -> None:
    v = verdict(1_000_000, 65_000, YIELDS, risk_profile("conservative"))
    assert v.level == "stretch" and "defi-yield" in v.reasons[1]
    assert verdict(1_000_000, 65_000, YIELDS, risk_profile("aggressive")).level == "sustainable"


def test_income_tax_raises_the_yield_the_goal_needs() -> None:
    v = verdict(1_000_000, 50_000, YIELDS, risk_profile("conservative"), tax_income=0.25)
    assert v.required_yield == pytest.approx(0.05)  # the headline figure stays income/capital
    assert "6.67%" in v.reasons[0] and v.level != "sustainable"


def test_best_mix_fills_the_best_yield_first() -> None:
    y, mix = best_mix_yield({"a": 0.1, "b": 0.05, "c": 0.02}, {"a": 0.3, "b": 0.5, "c": 1.0})
    assert mix == pytest.approx({"a": 0.3, "b": 0.5, "c": 0.2})
    assert y == pytest.approx(0.03 + 0.025 + 0.004)


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
