"""Every rule on small hand-made series whose answers are worked out in the test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from realyield.core.errors import ConfigError
from realyield.monitor import market_rules, rules, yield_rules
from realyield.monitor.rules import RuleConfig
from realyield.reference.pegs import pegged_assets, recognise

D0 = date(2024, 1, 1)
CFG = RuleConfig()


def days(n: int, start: date = D0) -> list[date]:
    return [start + timedelta(days=i) for i in range(n)]


def history(
    rows: list[tuple[str, date, float | None, float | None, float | None, float | None]],
) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Utf8,
            "date": pl.Date,
            "apy": pl.Float64,
            "apy_base": pl.Float64,
            "apy_reward": pl.Float64,
            "tvl_usd": pl.Float64,
        },
        orient="row",
    )


def prices(series: dict[str, list[float]], start: date = D0) -> pl.DataFrame:
    rows = [(a, start + timedelta(days=i), p) for a, ps in series.items() for i, p in enumerate(ps)]
    return pl.DataFrame(
        rows, schema={"asset_id": pl.Utf8, "date": pl.Date, "price_usd": pl.Float64}, orient="row"
    )


def test_tvl_drop_compares_with_seven_days_back_within_tolerance() -> None:
    tvl = [100.0] * 7 + [65.0, 71.0, 40.0]
    frame = history([("p", d, 5.0, 5.0, 0.0, v) for d, v in zip(days(10), tvl, strict=True)])
    found = yield_rules.tvl_drop(frame, CFG, D0, D0 + timedelta(days=9))
    # Day 7 (65 vs 100 on day 0) -35%; day 8 (71 vs 100) -29% does not fire; day 9 (40
    # vs 100 on day 2) -60% is critical (twice the 30% threshold).
    assert [(f.day, f.severity) for f in found] == [
        (D0 + timedelta(days=7), "warning"),
        (D0 + timedelta(days=9), "critical"),
    ]
    assert found[0].evidence["drop_pct"] == pytest.approx(35.0)
    assert found[0].evidence["before_date"] == D0.isoformat()
    # A gap: day 2..5 missing. Day 9 then compares with day 1 (the last value on or
    # before day 2, one day older, within the 3-day tolerance).
    gappy = frame.filter(~pl.col("date").is_in(days(4, D0 + timedelta(days=2))))
    (late,) = [
        f
        for f in yield_rules.tvl_drop(gappy, CFG, D0, D0 + timedelta(days=9))
        if f.day == D0 + timedelta(days=9)
    ]
    assert late.evidence["before_date"] == (D0 + timedelta(days=1)).isoformat()
    # Beyond the tolerance nothing is compared: for day 12 the value on or before day 5
    # is day 0's, five days older than day 5, more than the 3-day tolerance.
    sparse = history(
        [("p", D0, 5.0, 5.0, 0.0, 100.0), ("p", D0 + timedelta(days=12), 5.0, 5.0, 0.0, 10.0)]
    )
    assert yield_rules.tvl_drop(sparse, CFG, D0, D0 + timedelta(days=12)) == []


def test_apy_collapse_against_the_trailing_mean_excluding_the_day() -> None:
    apys = [10.0] * 30 + [4.0, 5.5]
    frame = history([("p", d, a, a, 0.0, 1e6) for d, a in zip(days(32), apys, strict=True)])
    found = yield_rules.apy_collapse(frame, CFG, D0, D0 + timedelta(days=31))
    assert [f.day for f in found] == [
        D0 + timedelta(days=30)
    ]  # 4 < 0.5 * 10; 5.5 is not < 0.5 * 9.8
    f = found[0]
    assert f.evidence["mean_apy"] == pytest.approx(10.0) and f.evidence["points"] == 30
    assert f.evidence["fall_pct"] == pytest.approx(60.0)
    # Day 31's mean is of days 1..30 = (29 * 10 + 4) / 30 = 9.8; 5.5 >= 4.9: no alert.
    assert (
        yield_rules.apy_collapse(frame, CFG, D0 + timedelta(days=31), D0 + timedelta(days=31)) == []
    )
    # Too few points: with 9 days of history the rule stays quiet.
    short = history(
        [("p", d, a, a, 0.0, 1e6) for d, a in zip(days(10), [10.0] * 9 + [1.0], strict=True)]
    )
    assert yield_rules.apy_collapse(short, CFG, D0, D0 + timedelta(days=9)) == []


def test_apy_spike_and_outlier() -> None:
    apys = [5.0] * 30 + [12.0, 9.0]
    frame = history([("p", d, a, a, 0.0, 1e6) for d, a in zip(days(32), apys, strict=True)])
    found = yield_rules.apy_spike(frame, CFG, D0, D0 + timedelta(days=31))
    # 12 = 2.4x the mean of 5 and 7 points above; day 31: mean (29*5+12)/30 = 5.2333,
    # 9 / 5.2333 = 1.72x: no spike.
    assert [f.day for f in found] == [D0 + timedelta(days=30)]
    assert found[0].evidence["ratio"] == pytest.approx(2.4)
    fresh = history([("q", D0, 150.0, 150.0, 0.0, 1e6)])  # no history, but above 100%
    (outlier,) = yield_rules.apy_spike(fresh, CFG, D0, D0)
    assert "outlier" in outlier.title and outlier.evidence["mean_apy"] is None


def test_reward_share_jump() -> None:
    rows = [("p", d, 10.0, 8.0, 2.0, 1e6) for d in days(7)]  # 20% rewards
    rows.append(("p", D0 + timedelta(days=7), 10.0, 4.0, 6.0, 1e6))  # 60% rewards
    rows.append(("p", D0 + timedelta(days=8), 10.0, 7.0, 3.0, 1e6))  # 30%: +10 points
    found = yield_rules.reward_share_jump(history(rows), CFG, D0, D0 + timedelta(days=8))
    assert [(f.day, f.evidence["jump_pp"]) for f in found] == [(D0 + timedelta(days=7), 40.0)]


def test_depeg_boundary_and_severity() -> None:
    frame = prices({"usd-coin": [1.0, 0.99, 0.9899, 1.0101, 0.97, 0.969]})
    pegs = pegged_assets(["usd-coin"])
    found = market_rules.depeg(frame, pegs, CFG, D0, D0 + timedelta(days=5))
    # 0.99 is exactly 1% off: not beyond it. 0.9899 and 1.0101 are; 0.97 is 3%: critical.
    assert [(f.day.day, f.severity) for f in found] == [
        (3, "warning"),
        (4, "warning"),
        (5, "critical"),
        (6, "critical"),
    ]
    assert found[0].evidence["deviation_pct"] == pytest.approx(-1.01)
    assert market_rules.depeg(frame, {}, CFG, D0, D0 + timedelta(days=5)) == []


def test_lst_discount_par_and_accruing() -> None:
    eth = [2000.0] * 40
    steth = [2000.0] * 38 + [1950.0, 1900.0]  # 2.5% then 5% below par
    reth = [2100.0 + 2 * i for i in range(38)] + [2100.0, 2150.0]  # ratio up to 1.087, then 1.05
    frame = prices({"ethereum": eth, "staked-ether": steth, "rocket-pool-eth": reth})
    pegs = pegged_assets(["staked-ether", "rocket-pool-eth", "ethereum"])
    assert pegs["staked-ether"].par and not pegs["rocket-pool-eth"].par and "ethereum" not in pegs
    found = market_rules.lst_discount(
        frame, pegs, CFG, D0 + timedelta(days=35), D0 + timedelta(days=39)
    )
    got = {(f.subject, (f.day - D0).days): f.evidence["discount_pct"] for f in found}
    # stETH on days 38 and 39: 1 - 1950/2000 = 2.5% (warning), 1 - 1900/2000 = 5%.
    assert got[("staked-ether", 38)] == pytest.approx(2.5)
    assert got[("staked-ether", 39)] == pytest.approx(5.0)
    assert {f.severity for f in found if f.subject == "staked-ether"} == {"warning", "critical"}
    # rETH day 38: ratio 2100/2000 = 1.05 against the highest of the previous 30 days,
    # day 37's (2100 + 74) / 2000 = 1.087: discount 1 - 1.05 / 1.087 = 3.404%. Day 39:
    # 1.075 / 1.087 is 1.10% below: not beyond 2%.
    assert got[("rocket-pool-eth", 38)] == pytest.approx((1 - 1.05 / 1.087) * 100, abs=1e-4)
    assert ("rocket-pool-eth", 39) not in got
    assert len(got) == 3


def test_price_crash_from_the_trailing_high() -> None:
    frame = prices({"x": [10.0, 12.0, 11.0, 9.0, 7.0, 5.9, 6.5]})
    found = market_rules.price_crash(frame, CFG, D0, D0 + timedelta(days=6))
    # High of the previous 7 days is 12: 5.9 is 50.8% below; 6.5 is 45.8% below.
    assert [(f.day - D0).days for f in found] == [5]
    assert found[0].evidence["high_usd"] == 12.0


def test_portfolio_rules() -> None:
    day = D0
    found = rules.screened_out(
        {"a": 100.0, "b": 50.0, "c": 10.0}, {"b": ["TVL below $1M"]}, {"a", "b"}, day
    )
    assert [(f.subject, f.evidence["reasons"]) for f in found] == [
        ("b", ["TVL below $1M"]),
        ("c", ["no longer listed by any stored source (pool closed, delisted or renamed)"]),
    ]
    (drift,) = rules.drift({"a": 0.62, "b": 0.38}, {"a": 0.5, "b": 0.5}, 5.0, day)
    assert drift.evidence["max_drift_pp"] == pytest.approx(12.0) and drift.severity == "warning"
    assert set(drift.evidence["holdings"]) == {"a", "b"}
    assert rules.drift({"a": 0.52, "b": 0.48}, {"a": 0.5, "b": 0.5}, 5.0, day) == []
    assert rules.income_below_plan(9_500, 10_000, day, CFG) == []  # 5% short: within 10%
    (short,) = rules.income_below_plan(8_000, 10_000, day, CFG)
    assert short.severity == "warning" and short.evidence["shortfall_pct"] == pytest.approx(20.0)
    (worse,) = rules.income_below_plan(7_000, 10_000, day, CFG, basis="realised")
    assert worse.severity == "critical" and worse.evidence["basis"] == "realised"
    with pytest.raises(ConfigError):
        rules.income_below_plan(float("nan"), 10_000, day, CFG)


def test_stale_data() -> None:
    now = datetime(2024, 1, 10, 12, tzinfo=UTC)
    found = rules.stale_data(
        {"defillama": date(2024, 1, 10), "coingecko": date(2024, 1, 7), "exchange": None},
        {"defillama": "defillama unreachable: timeout"},
        now,
        CFG,
    )
    by = {f.subject: f for f in found}
    assert set(by) == {"defillama", "coingecko", "exchange"}
    assert by["coingecko"].evidence["age_hours"] == 72.0
    assert by["defillama"].evidence["last_refresh_error"].startswith("defillama unreachable")
    assert by["exchange"].evidence["newest_data"] is None


def test_rule_config_validation() -> None:
    cfg = RuleConfig.from_mapping(
        {"depeg_pct": 0.5, "cooldown_days": 3.0, "disabled": ["apy_spike"]}
    )
    assert cfg.depeg_pct == 0.5 and cfg.cooldown_days == 3 and not cfg.enabled("apy_spike")
    for bad in (
        {"depeg_pct": -1},
        {"nope": 1},
        {"disabled": ["x"]},
        {"tvl_window_days": 0},
        {"depeg_critical_pct": 0.5},
    ):
        with pytest.raises(ConfigError):
            RuleConfig.from_mapping(bad)


def test_pegs_recognised_by_id_or_symbol() -> None:
    assert recognise("usd-coin").symbol == "USDC"  # type: ignore[union-attr]
    assert recognise("busd").symbol == "BUSD"  # type: ignore[union-attr]  # by symbol
    assert recognise("whatever", "usdt").asset_id == "whatever"  # type: ignore[union-attr]
    assert recognise("terra-luna") is None and recognise("ethereum") is None
    assert recognise("savings-dai") is None  # value grows against the peg
    assert recognise("terrausd").kind == "stablecoin"  # type: ignore[union-attr]
    assert recognise("jito-staked-sol").reference_id == "solana"  # type: ignore[union-attr]
