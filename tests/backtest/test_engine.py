"""The engine against independent references: index levels, impermanent-loss closed
forms, a concentrated position's formula, write-downs by hand; attribution adds up."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from realyield.backtest import impermanent_loss as il
from realyield.backtest.engine import BacktestConfig, run_backtest
from realyield.backtest.instruments import HoldingShock
from realyield.backtest.levels import level_history
from realyield.backtest.schedule import HoldingInfo, WeightsSchedule
from realyield.core.errors import ConfigError, DataError

START = date(2024, 1, 1)
N_DAYS = 120
DAYS = [START + timedelta(days=k) for k in range(N_DAYS)]
FREE = {"fee_bps": 0.0, "slippage_bps": 0.0, "default_gas_usd": 0.0, "benchmarks": False}
NO_APY = pl.DataFrame(schema={"id": pl.Utf8, "date": pl.Date, "apy": pl.Float64})


def price_frame(paths: dict[str, np.ndarray]) -> pl.DataFrame:
    return pl.concat(
        [
            pl.DataFrame({"asset_id": [a] * N_DAYS, "date": DAYS, "price_usd": p})
            for a, p in paths.items()
        ]
    )


def random_path(seed: int, start: float, vol: float = 0.04) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0, vol, N_DAYS)))


def test_price_only_monthly_rebalancing_by_hand() -> None:
    """Two holdings at 60/40, rebalanced on the first of each month at no cost: the value
    is the product over the months of each month's weighted price relatives, and the
    level history read off the run is 100 x value / capital."""
    pa, pb = random_path(1, 10.0), random_path(2, 50.0)
    prices = price_frame({"a": pa, "b": pb})
    under = {"x": ("a",), "y": ("b",)}
    info = {i: HoldingInfo(i, i, "lending", "Ethereum", under[i]) for i in ("x", "y")}
    schedule = WeightsSchedule([START], ["x", "y"], np.array([[0.6, 0.4]]), "t", info)
    result = run_backtest(schedule, prices, NO_APY, BacktestConfig(rebalance="monthly", **FREE))
    bounds = [0, 31, 60, 91]  # Jan 1, Feb 1, Mar 1, Apr 1
    expected = np.ones(N_DAYS)
    for a, b in itertools.pairwise([*bounds, N_DAYS]):
        start_value = expected[a]
        seg = slice(a, b)
        expected[seg] = start_value * (0.6 * pa[seg] / pa[a] + 0.4 * pb[seg] / pb[a])
        if b < N_DAYS:
            expected[b] = start_value * (0.6 * pa[b] / pa[a] + 0.4 * pb[b] / pb[a])
    ours = result.daily["value"].to_numpy() / 100_000.0
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    assert result.attribution["rebalances"] == 4  # Jan 1 + Feb, Mar, Apr
    levels = level_history(result, schedule)
    np.testing.assert_allclose(levels.frame["level_total"].to_numpy(), 100 * expected, rtol=1e-12)
    summary = levels.summary()
    assert summary["total_return"] == pytest.approx(expected[-1] - 1.0, rel=1e-12)
    assert summary["price_return"] == pytest.approx(result.attribution["price_return"], rel=1e-12)
    assert summary["rebalances"] == 4


def test_liquidity_holding_loses_the_closed_form_impermanent_loss() -> None:
    pa, pb = random_path(3, 2000.0), random_path(4, 1.0, vol=0.002)
    prices = price_frame({"eth": pa, "usdc": pb})
    info = {"pool": HoldingInfo("pool", "ETH-USDC", "liquidity", "Ethereum", ("eth", "usdc"))}
    schedule = WeightsSchedule([START], ["pool"], np.array([[1.0]]), "t", info)
    held = run_backtest(schedule, prices, NO_APY, BacktestConfig(rebalance="none", **FREE))
    ra, rb = pa[-1] / pa[0], pb[-1] / pb[0]
    hodl = 0.5 * (ra + rb)
    assert held.daily["value"][-1] == pytest.approx(100_000 * np.sqrt(ra * rb), rel=1e-10)
    expected = 100_000 * hodl * float(il.il_v2(ra / rb))
    assert held.attribution["impermanent_loss_usd"] == pytest.approx(expected, rel=1e-9)
    # monthly: the position is redeposited at each rebalance and loses per period
    monthly = run_backtest(schedule, prices, NO_APY, BacktestConfig(rebalance="monthly", **FREE))
    bounds = [0, 31, 60, 91, N_DAYS - 1]  # Jan 1, Feb 1, Mar 1, Apr 1, last day
    value = monthly.daily["value"].to_numpy()
    by_hand = sum(
        value[a]
        * 0.5
        * (pa[b] / pa[a] + pb[b] / pb[a])
        * float(il.il_v2((pa[b] / pa[a]) / (pb[b] / pb[a])))
        for a, b in itertools.pairwise(bounds)
    )
    assert monthly.attribution["impermanent_loss_usd"] == pytest.approx(by_hand, rel=1e-9)
    assert monthly.daily["impermanent_loss"][-1] == pytest.approx(by_hand, rel=1e-9)


def test_concentrated_range_follows_the_v3_formula_and_earns_nothing_outside() -> None:
    pa = np.concatenate([np.linspace(2000, 2600, 60), np.linspace(2600, 2000, 60)])
    pb = np.ones(N_DAYS)
    prices = price_frame({"eth": pa, "usdc": pb})
    apy = pl.DataFrame({"id": ["pool"] * N_DAYS, "date": DAYS, "apy": [36.5] * N_DAYS})
    info = {"pool": HoldingInfo("pool", "ETH-USDC v3", "liquidity", "Ethereum", ("eth", "usdc"))}
    schedule = WeightsSchedule([START], ["pool"], np.array([[1.0]]), "t", info)
    config = BacktestConfig(rebalance="none", lp_ranges={"pool": (0.9, 1.2)}, **FREE)
    result = run_backtest(schedule, prices, apy, config)
    value, outside = il.v3_price_index(pa, pb, 0.9, 1.2)
    growth = value[1:] / value[:-1]
    income = np.where(outside[1:], 0.0, 0.001)
    expected = 100_000 * np.concatenate([[1.0], np.cumprod(growth * (1 + income))])
    np.testing.assert_allclose(result.daily["value"].to_numpy(), expected, rtol=1e-10)
    assert outside.any() and any("outside its range" in n for n in result.notes)
    with pytest.raises(ConfigError, match="two-token liquidity"):
        bad = {"x": HoldingInfo("x", "x", "lending", "Ethereum", ("eth",))}
        run_backtest(
            WeightsSchedule([START], ["x"], np.array([[1.0]]), "t", bad),
            prices,
            apy,
            BacktestConfig(lp_ranges={"x": (0.9, 1.1)}, **FREE),
        )


def test_writedown_and_attribution_add_up() -> None:
    prices = price_frame({"usdc": np.ones(N_DAYS), "eth": random_path(5, 2000.0)})
    apy = pl.DataFrame({"id": ["lend"] * N_DAYS, "date": DAYS, "apy": [3.65] * N_DAYS})
    info = {
        "lend": HoldingInfo("lend", "lend USDC", "lending", "Ethereum", ("usdc",)),
        "eth": HoldingInfo("eth", "ETH", "asset", "Ethereum"),
    }
    schedule = WeightsSchedule([START], ["eth", "lend"], np.array([[0.5, 0.5]]), "t", info)
    hit = DAYS[40]
    config = BacktestConfig(
        rebalance="monthly",
        fee_bps=10,
        slippage_bps=5,
        default_gas_usd=2.0,
        benchmarks=False,
        holding_shocks=(HoldingShock("lend", hit, 0.3, "exploit"),),
    )
    r = run_backtest(schedule, prices, apy, config)
    a = r.attribution
    total = a["price_return"] + a["income_return"] - a["costs"]
    assert total == pytest.approx(r.metrics.total_return, rel=1e-10)
    assert r.daily["value"][-1] / 100_000 - 1 == pytest.approx(r.metrics.total_return, rel=1e-12)
    # the lending position the day before the exploit lost 30% on the day
    d = r.daily
    t = DAYS.index(hit)
    lend_before = r.allocation["lend"][t - 1] * d["value"][t - 1]
    assert a["writedowns"] * 100_000 == pytest.approx(0.3 * lend_before, rel=1e-12)
    lend_after = r.allocation["lend"][t] * d["value"][t]
    assert lend_after == pytest.approx(0.7 * lend_before * (1 + 0.0365 / 365), rel=1e-12)
    assert a["income_return"] > 0 and a["costs"] > 0


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="unknown income mode"):
        BacktestConfig(income="reinvest-sometimes")
    with pytest.raises(ConfigError, match="end after its start"):
        BacktestConfig(start=date(2024, 2, 1), end=date(2024, 1, 1))
    prices = price_frame({"eth": random_path(6, 2000.0)})
    info = {"x": HoldingInfo("x", "x", "lending", "Ethereum", ("nothing-priced",))}
    schedule = WeightsSchedule([START], ["x"], np.array([[1.0]]), "t", info)
    with pytest.raises(DataError, match="no prices"):
        run_backtest(schedule, prices, NO_APY, BacktestConfig(**FREE))
