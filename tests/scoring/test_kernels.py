"""Scoring kernels: hand-computed values, bounds, and the documented directions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realyield.scoring import risk, sustainability
from realyield.scoring.factors import sustainability_grade
from realyield.scoring.realyield import (
    DEFAULT_REWARD_RETENTION,
    real_staking_rate_pct,
    reward_retention,
    sustainable_apy,
)
from realyield.scoring.screens import ScreenConfig, screen_reasons

NAN = math.nan


def arr(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=float)


def test_real_staking_rate_matches_the_formula() -> None:
    # 7% nominal, 4.5% inflation: 1.07 / 1.045 - 1 = 2.3923...%
    assert real_staking_rate_pct(arr(7.0), arr(0.045))[0] == pytest.approx((1.07 / 1.045 - 1) * 100)
    assert real_staking_rate_pct(arr(3.0), arr(NAN))[0] == 3.0  # unknown inflation kept
    assert real_staking_rate_pct(arr(2.0), arr(0.05))[0] < 0  # diluted faster than paid


def test_reward_retention_rules() -> None:
    none = arr(0.0, 0.0, 0.0, 0.0, 0.0)  # emission APY ~0: no competition term
    r = reward_retention(arr(NAN, 0.25, 0.25, NAN, 0.0), arr(NAN, NAN, -0.4, 0.3, -2.0), none)
    assert r[0] == DEFAULT_REWARD_RETENTION
    assert r[1] == pytest.approx(1 / 1.25)
    assert r[2] == pytest.approx(1 / 1.25 * 0.6)
    assert r[3] == 1.0  # a rising price is not extrapolated into more than the emission
    assert r[4] == 0.0  # a collapsed token: nothing retained
    # the higher the emission APY, the more of it new capital competes away
    high = reward_retention(arr(0.0, 0.0), arr(NAN, NAN), arr(10.0, 265.0))
    assert list(high) == pytest.approx([1 / 1.10, 1 / 3.65])


def test_sustainable_apy_combines_real_base_and_retained_emissions() -> None:
    real, kept, total = sustainable_apy(
        apy_base=arr(4.0, 7.0, 2.0),
        apy_reward=arr(6.0, 0.0, 10.0),
        is_staking=np.array([False, True, False]),
        staking_inflation=arr(NAN, 0.045, NAN),
        reward_dilution=arr(NAN, NAN, 1.0),
        reward_trend=arr(NAN, NAN, -0.5),
    )
    assert list(real) == pytest.approx([4.0, (1.07 / 1.045 - 1) * 100, 2.0])
    assert list(kept) == pytest.approx([6.0 * 0.5 / 1.06, 0.0, 10.0 * 0.5 * 0.5 / 1.10])
    assert list(total) == pytest.approx(list(real + kept))


def s_kernel(**changes: np.ndarray) -> sustainability.FactorColumns:
    base = dict(
        apy=arr(10.0),
        real_base=arr(6.0),
        apy_reward=arr(4.0),
        split_known=np.array([True]),
        retention=arr(0.5),
        mu=arr(9.0),
        sigma=arr(1.8),
        mean_30d=arr(9.5),
        std_30d=arr(1.0),
        tvl_usd=arr(1e8),
        tvl_change_30d=arr(0.1),
    )
    base.update(changes)
    return sustainability.sustainability_kernel(**base)  # type: ignore[arg-type]


def total(columns: sustainability.FactorColumns) -> float:
    return float(sum(e[0] for _, e in columns.values()))


def test_sustainability_by_hand() -> None:
    cols = s_kernel()
    effects = {k: float(e[0]) for k, (_, e) in cols.items()}
    assert effects["real_yield_share"] == pytest.approx(35 * 0.6)
    assert effects["yield_stability"] == pytest.approx(15 * (1 - 1.8 / 9.0))
    assert effects["apy_vs_30d_mean"] == pytest.approx(10 * (1 - abs(10 / 9.5 - 1)))
    assert effects["tvl_size"] == pytest.approx(15 * 3 / 5)  # $100M: 3 of 5 decades
    assert effects["tvl_trend"] == pytest.approx(5 * 0.6)
    assert effects["reward_dilution"] == pytest.approx(10 * (1 - 0.4 * 0.5))
    assert effects["fee_evidence"] == 5.0  # not a pool paid by fees: nothing to doubt
    assert effects["source_outlook"] == 2.5  # no forecast from the source: neutral
    assert sum(sustainability.MAX_POINTS.values()) == 100


def test_data_signals_by_hand() -> None:
    one = np.array([True])
    # the volume pays 40% of the fee APY; the source gives the APY a 98% chance to fall
    cols = s_kernel(fee_applies=one, fee_coverage=arr(0.4), p_down=arr(0.98))
    effects = {k: float(e[0]) for k, (_, e) in cols.items()}
    assert effects["fee_evidence"] == pytest.approx(5 * 0.4)
    assert effects["source_outlook"] == pytest.approx(5 * 0.02)
    assert float(s_kernel(fee_applies=one)["fee_evidence"][1][0]) == 2.5  # volume unknown
    assert float(s_kernel(fee_applies=one, fee_coverage=arr(0.0))["fee_evidence"][1][0]) == 0
    # a frozen rate loses stability and closeness to its mean: it cannot grade A
    best = dict(
        apy=arr(10.0),
        real_base=arr(10.0),
        apy_reward=arr(0.0),
        sigma=arr(0.0),
        mean_30d=arr(10.0),
        tvl_usd=arr(1e10),
        tvl_change_30d=arr(0.5),
        p_down=arr(0.0),
    )
    assert total(s_kernel(**best)) == pytest.approx(100.0)
    frozen = s_kernel(**best, frozen=one)
    assert total(frozen) == pytest.approx(75.0)
    assert sustainability_grade(total(frozen)) != "A"
    text = sustainability.explain("yield_stability", 0.0, 0.0)
    assert "not moved for 30 days" in text


finite = st.floats(0, 1e4, allow_nan=False)
fraction = st.floats(0, 1)


@given(apy=st.floats(0.01, 500), share_a=fraction, share_b=fraction, retention=fraction)
def test_more_emission_share_never_raises_sustainability(
    apy: float, share_a: float, share_b: float, retention: float
) -> None:
    low, high = sorted((share_a, share_b))
    scores = [
        total(
            s_kernel(
                apy=arr(apy),
                real_base=arr(apy * (1 - s)),
                apy_reward=arr(apy * s),
                retention=arr(retention),
            )
        )
        for s in (low, high)
    ]
    assert scores[1] <= scores[0] + 1e-9


@given(sigma_a=finite, sigma_b=finite, tvl_a=st.floats(1, 1e12), tvl_b=st.floats(1, 1e12))
def test_volatility_and_depth_directions(
    sigma_a: float, sigma_b: float, tvl_a: float, tvl_b: float
) -> None:
    lo, hi = sorted((sigma_a, sigma_b))
    assert total(s_kernel(sigma=arr(hi))) <= total(s_kernel(sigma=arr(lo))) + 1e-9
    small, big = sorted((tvl_a, tvl_b))
    assert total(s_kernel(tvl_usd=arr(big))) >= total(s_kernel(tvl_usd=arr(small))) - 1e-9


@given(
    apy=st.floats(0, 1e3),
    base=st.floats(0, 1e3),
    reward=st.floats(0, 1e3),
    known=st.booleans(),
    retention=fraction,
    mu=finite,
    sigma=finite,
    m30=finite,
    tvl=st.floats(0, 1e12) | st.just(NAN),
    change=st.floats(-1, 10) | st.just(NAN),
)
def test_sustainability_stays_within_0_100(
    apy: float,
    base: float,
    reward: float,
    known: bool,
    retention: float,
    mu: float,
    sigma: float,
    m30: float,
    tvl: float,
    change: float,
) -> None:
    t = total(
        s_kernel(
            apy=arr(apy),
            real_base=arr(base),
            apy_reward=arr(reward),
            split_known=np.array([known]),
            retention=arr(retention),
            mu=arr(mu),
            sigma=arr(sigma),
            mean_30d=arr(m30),
            tvl_usd=arr(tvl),
            tvl_change_30d=arr(change),
        )
    )
    assert 0.0 <= t <= 100.0 + 1e-9


def r_kernel(**changes: object) -> risk.FactorColumns:
    base: dict[str, object] = dict(
        protocol_age_years=arr(3.0),
        audits=arr(2.0),
        tvl_usd=arr(5e7),
        exploits=arr(1.0),
        years_since_exploit=arr(3.0),
        layers=arr(0.0),
        collateral=["overcollateralized"],
        custodial=np.array([False]),
        exposure_multi=arr(1.0),
        correlated=arr(0.0),
        il_7d=arr(-1.0),
        depeg_points=arr(4.0),
        lockup_days=arr(7.0),
        is_staking=np.array([False]),
        is_lst=np.array([False]),
        slashing=arr(NAN),
        chain_age_years=arr(4.0),
        chain_kind=["rollup"],
        chain_bridge=arr(1.0),
        chain_incidents=arr(1.0),
    )
    base.update(changes)
    return risk.risk_kernel(**base)  # type: ignore[arg-type]


def test_risk_by_hand_and_bounds() -> None:
    effects = {k: float(e[0]) for k, (_, e) in r_kernel().items()}
    assert effects["smart_contract.age"] == pytest.approx(8 * (1 - 3 / 5))
    assert effects["smart_contract.audits"] == pytest.approx(5 / 3)
    assert effects["smart_contract.pool_tvl"] == pytest.approx(4 * (9 - math.log10(5e7)) / 4)
    assert effects["smart_contract.exploits"] == pytest.approx(2 * 1 * 0.5)  # old exploit
    assert effects["counterparty"] == 3.0
    assert effects["impermanent_loss"] == pytest.approx(12 + 3 * 1 / 5)
    assert effects["lockup"] == pytest.approx(10 * 7 / 30)
    assert effects["slashing"] == 0.0
    assert effects["chain.age"] == pytest.approx(6 * (1 - 4 / 5))
    assert effects["chain.type"] == 2.0 and effects["chain.bridge"] == 3.0
    assert sum(risk.MAX_POINTS.values()) == 100
    worst = r_kernel(
        protocol_age_years=arr(NAN),
        audits=arr(NAN),
        tvl_usd=arr(NAN),
        exploits=arr(5.0),
        years_since_exploit=arr(0.1),
        layers=arr(3.0),
        custodial=np.array([True]),
        il_7d=arr(-50.0),
        depeg_points=arr(12.0),
        lockup_days=arr(400.0),
        is_staking=np.array([True]),
        slashing=arr(1.0),
        chain_age_years=arr(NAN),
        chain_kind=["sidechain"],
        chain_bridge=arr(NAN),
        chain_incidents=arr(9.0),
    )
    assert total(worst) == pytest.approx(100.0)


@given(a=st.floats(0, 2000), b=st.floats(0, 2000))
def test_longer_lockup_never_lowers_risk(a: float, b: float) -> None:
    short, long = sorted((a, b))
    assert total(r_kernel(lockup_days=arr(long))) >= total(r_kernel(lockup_days=arr(short)))


@given(
    a=st.integers(0, 10),
    b=st.integers(0, 10),
    age_a=st.floats(0, 30),
    age_b=st.floats(0, 30),
    years=st.floats(0, 10),
)
def test_exploits_audits_and_age_directions(
    a: int, b: int, age_a: float, age_b: float, years: float
) -> None:
    few, many = sorted((a, b))
    assert total(r_kernel(exploits=arr(many), years_since_exploit=arr(years))) >= total(
        r_kernel(exploits=arr(few), years_since_exploit=arr(years))
    )
    assert total(r_kernel(audits=arr(many))) <= total(r_kernel(audits=arr(few)))
    young, old = sorted((age_a, age_b))
    assert total(r_kernel(protocol_age_years=arr(old))) <= total(
        r_kernel(protocol_age_years=arr(young))
    )
    assert total(r_kernel(chain_age_years=arr(old))) <= total(r_kernel(chain_age_years=arr(young)))


def test_pair_exposure_and_custody_raise_risk() -> None:
    single = total(r_kernel(exposure_multi=arr(0.0)))
    correlated = total(r_kernel(correlated=arr(1.0)))
    volatile = total(r_kernel(correlated=arr(0.0)))
    assert single < correlated < volatile
    assert total(r_kernel(custodial=np.array([True]))) > total(r_kernel())
    assert total(r_kernel(collateral=["undercollateralized"])) > total(
        r_kernel(collateral=["overcollateralized"])
    )


def test_screens_leave_reasons() -> None:
    reasons = screen_reasons(
        ScreenConfig(),
        apy=arr(150.0, 5.0, 5.0, 9.0, 5.0, NAN),
        tvl_usd=arr(5e6, 5e5, NAN, 5e6, 5e6, 5e6),
        n_obs=arr(100, 100, 100, 100, 3, 100),
        mean_30d=arr(140.0, 5.0, 5.0, 3.0, 5.0, NAN),
        mu=arr(NAN, 5, 5, 5, 5, 5),
        sigma=arr(NAN, 1, 1, 1, 1, 1),
        flagged_outlier=arr(NAN, NAN, NAN, NAN, NAN, 1.0),
    )
    assert reasons[0] == ["APY 150.0% above 100% (not a sustainable yield)"]
    assert reasons[1] == ["TVL $500,000 below the $1,000,000 floor"]
    assert reasons[2] == ["TVL unknown (floor $1,000,000)"]
    assert reasons[3] == ["APY spike: 9.00% is 3.0x its 30-day mean 3.00%"]
    assert reasons[4] == ["only 3 days of history (need 14)"]
    assert reasons[5] == ["APY unknown", "flagged as an outlier by the source"]
    off = ScreenConfig(
        max_apy=None, min_tvl_usd=None, min_history_days=None, spike_ratio=None, outlier_iqr=None
    )
    assert screen_reasons(
        off,
        apy=arr(500.0),
        tvl_usd=arr(NAN),
        n_obs=arr(NAN),
        mean_30d=arr(1.0),
        mu=arr(1.0),
        sigma=arr(1.0),
        flagged_outlier=arr(1.0),
    ) == [[]]


def test_outlier_screen_uses_median_and_iqr() -> None:
    mu = arr(4.0, 5.0, 5.0, 6.0, 5.5, 4.5, 60.0)
    reasons = screen_reasons(
        ScreenConfig(min_tvl_usd=None, min_history_days=None),
        apy=mu.copy(),
        tvl_usd=arr(*[1e7] * 7),
        n_obs=arr(*[100] * 7),
        mean_30d=mu.copy(),
        mu=mu,
        sigma=arr(*[1.0] * 7),
        flagged_outlier=arr(*[NAN] * 7),
    )
    q1, med, q3 = np.percentile(mu, [25, 50, 75])
    flagged = [i for i, r in enumerate(reasons) if r]
    expected = [i for i, m in enumerate(mu) if abs(m - med) > 1.5 * (q3 - q1)]
    assert flagged == expected == [6]
    assert reasons[6][0].startswith("outlier: mu 60")


@given(
    a=st.floats(-1, 10),
    b=st.floats(-1, 10),
    d1=st.floats(0, 5),
    d2=st.floats(0, 5),
    p1=st.floats(0, 12),
    p2=st.floats(0, 12),
    il1=st.floats(-50, 0),
    il2=st.floats(-50, 0),
)
def test_remaining_factor_directions(
    a: float, b: float, d1: float, d2: float, p1: float, p2: float, il1: float, il2: float
) -> None:
    falling, rising = sorted((a, b))
    assert (
        total(s_kernel(tvl_change_30d=arr(rising)))
        >= total(s_kernel(tvl_change_30d=arr(falling))) - 1e-9
    )
    near, far = sorted((d1, d2))  # APY further from its 30-day mean never scores higher
    assert (
        total(s_kernel(apy=arr(10.0), mean_30d=arr(10.0 / (1 + far))))
        <= total(s_kernel(apy=arr(10.0), mean_30d=arr(10.0 / (1 + near)))) + 1e-9
    )
    low, high = sorted((p1, p2))
    assert total(r_kernel(depeg_points=arr(high))) >= total(r_kernel(depeg_points=arr(low)))
    small, large = sorted((abs(il1), abs(il2)))
    assert total(r_kernel(il_7d=arr(-large))) >= total(r_kernel(il_7d=arr(-small)))
    staked = {"is_staking": np.array([True])}
    assert total(r_kernel(slashing=arr(1.0), **staked)) >= total(
        r_kernel(slashing=arr(0.0), **staked)
    )
    assert total(r_kernel(layers=arr(2.0))) >= total(r_kernel(layers=arr(0.0)))
