"""Projected income of a portfolio on the indices, against a hand computation."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from realyield.core.errors import ConfigError
from realyield.indices.composition import Constituent, IndexComposition
from realyield.portfolio.projection import project_income


def member(cid: str, kind: str, weight: float, real: float, emission: float) -> Constituent:
    return Constituent(
        id=cid,
        label=cid,
        kind=kind,
        chain="Ethereum",
        weight=weight,
        apy=real + emission,
        apy_real=real,
        apy_emission=emission,
        apy_sustainable=real,
        risk=20.0,
        underlying=("ethereum",),
    )


INDEX = IndexComposition(
    name="balanced",
    title="Balanced",
    as_of=date(2025, 6, 30),
    constituents=[
        member("lido", "liquid_staking", 0.5, 3.0, 0.0),
        member("aave-usdc", "lending", 0.3, 5.0, 1.0),
        member("uni-eth-usdc", "liquidity", 0.2, 12.0, 6.0),
    ],
)


def test_projection_matches_the_hand_computation() -> None:
    p = project_income(
        {"balanced": INDEX}, {"balanced": D("100000")}, tax_rate=D("0.3"), start=date(2025, 6, 30)
    )
    # lido 50,000 x 3% = 1,500 staking; aave 30,000 x 5% = 1,500 interest + 1% = 300
    # reward tokens; uni 20,000 x 12% = 2,400 LP fees + 6% = 1,200 reward tokens.
    assert p.by_kind() == {
        "income": D("1500"),
        "lending_interest": D("1500"),
        "lp_fee": D("2400"),
        "staking_reward": D("1500"),
    }
    assert p.total == D("6900") and p.emission_total == D("1500")
    assert p.tax == D("2070.00")
    months = p.by_month()
    assert sorted(months)[0] == "2025-07" and sorted(months)[-1] == "2026-06" and len(months) == 12
    assert all(v == D("575") for v in months.values())
    assert all(isinstance(e.value, D) for e in p.events) and len(p.events) == 5 * 12
    d = p.as_dict()
    assert d["after_tax"] == "4830" and d["income"] == "6900"


def test_monthly_rounding_keeps_the_annual_total() -> None:
    odd = IndexComposition("x", "X", date(2025, 1, 15), [member("a", "lending", 1.0, 3.333, 0)])
    p = project_income({"x": odd}, {"x": D("1000")}, tax_rate=D("0.25"), start=date(2025, 1, 15))
    # 1,000 x 3.333% = 33.33 a year: 2.78 x 11 + 2.75
    assert [e.value for e in p.events] == [D("2.78")] * 11 + [D("2.75")]
    assert p.total == D("33.33") and p.tax == D("8.33")


def test_bad_inputs_are_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="unknown index 'growth'"):
        project_income({"balanced": INDEX}, {"growth": D(1)}, tax_rate=D("0.3"))
    with pytest.raises(ConfigError, match="between 0 and 1"):
        project_income({"balanced": INDEX}, {"balanced": D(1)}, tax_rate=D("30"))
    with pytest.raises(ConfigError, match="could not be built"):
        project_income({"b": ValueError("infeasible caps")}, {"b": D(1)}, tax_rate=D("0.3"))
