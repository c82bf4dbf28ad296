"""Data signals (volume, fee tier, frozen rates, the source's forecast), the defunct-token
table, readable ids and realised volatility: by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from realyield.core.errors import DataError
from realyield.core.model import Opportunity
from realyield.reference.defunct import defunct_tokens_in, load_defunct_tokens, parse_defunct
from realyield.scoring import impermanent_loss as il
from realyield.scoring import labels, signals
from realyield.scoring.factors import sustainability_grade
from realyield.scoring.pair_risk import _Returns, expected_losses
from realyield.scoring.record_facts import PairToken
from realyield.scoring.score import score_universe
from realyield.universe.point_in_time import SortedHistory

NAN = math.nan
AS_OF = date(2025, 8, 31)


def arr(*values: float) -> np.ndarray:
    return np.array(values, dtype=float)


def test_fee_tier_and_implied_fee_apy_by_hand() -> None:
    assert signals.fee_tier_pct("CL200 - 0.3%") == 0.3
    assert signals.fee_tier_pct("0.05%") == 0.05
    assert math.isnan(signals.fee_tier_pct(None)) and math.isnan(signals.fee_tier_pct("v2"))
    # $7M a week at 0.3% on $10M: 1M/day x 365 x 0.003 / 10M = 10.95%
    implied = signals.implied_fee_apy(arr(0.0), arr(7e6), arr(0.3), arr(1e7))
    assert float(implied[0]) == pytest.approx(10.95)
    # unknown tier: charged the 1% ceiling; the last day's volume counts when larger
    implied = signals.implied_fee_apy(arr(2e6), arr(7e6), arr(NAN), arr(1e7))
    assert float(implied[0]) == pytest.approx(2e6 * 365 * 1.0 / 1e7)
    coverage = signals.fee_coverage(arr(21.9, 5.0, 0.0), arr(10.95, 10.95, 1.0))
    assert coverage[0] == pytest.approx(0.5) and coverage[1] == 1.0 and math.isnan(coverage[2])


def test_zero_volume_and_the_sources_forecast() -> None:
    zero = signals.zero_volume(arr(0.0, 0.0, 5.0, NAN, 0.0), arr(0.0, 10.0, 0.0, NAN, NAN))
    assert zero.tolist() == [True, False, True, False, True]
    assert signals.p_down("Down", 98) == pytest.approx(0.98)
    assert signals.p_down("Stable/Up", 95) == pytest.approx(0.05)
    assert math.isnan(signals.p_down(None, 50)) and math.isnan(signals.p_down("Down", "x"))


def test_frozen_rates() -> None:
    apy = arr(15.2, 15.2, 0.0, 15.2)
    assert signals.frozen_from_history(
        apy, arr(0.0, 0.3, 0.0, 0.0), arr(60, 60, 60, 5)
    ).tolist() == [
        True,
        False,
        False,  # no rate to freeze
        False,  # too short to tell
    ]
    source = signals.frozen_from_source(
        apy, arr(0.0, 0.0, 0.0, 1.0), arr(15.2, 14.0, 0.0, 15.2), arr(1149, 1149, 1149, 1149)
    )
    assert source.tolist() == [True, False, False, False]


def _pool(pid: str, symbol: str, **kw: object) -> Opportunity:
    fields: dict[str, object] = dict(
        id=pid,
        kind="liquidity",
        chain="BSC",
        protocol="pancakeswap-amm",
        symbol=symbol,
        apy=15.1998,
        apy_base=15.1998,
        apy_reward=0.0,
        tvl_usd=2.7e6,
        as_of=datetime(2025, 8, 31, tzinfo=UTC),
        source="file",
        exposure="multi",
        il_risk=True,
    )
    fields.update(kw)
    return Opportunity(**fields)  # type: ignore[arg-type]


def test_a_volatile_pair_frozen_for_30_days_cannot_grade_a() -> None:
    days = [AS_OF - timedelta(days=k) for k in range(90)]
    history = pl.DataFrame(
        {
            "id": ["frozen"] * 90 + ["moving"] * 90,
            "date": days * 2,
            "apy": [15.1998] * 90 + [15.0 + 0.01 * (k % 7) for k in range(90)],
            "tvl_usd": [2.7e9] * 180,
        }
    )
    pools = [
        _pool("frozen", "MBOX-WBNB", tvl_usd=2.7e9),
        _pool("moving", "MBOX-WBNB", tvl_usd=2.7e9, apy=15.0, apy_base=15.0),
    ]
    scored = score_universe(pools, as_of=AS_OF, history=history)
    frozen, moving = scored.explain("frozen"), scored.explain("moving")
    assert scored.inputs.frozen.tolist() == [True, False]
    assert frozen.sustainability.grade != "A"
    assert moving.sustainability.total - frozen.sustainability.total > 20
    why = {f.name: f.explanation for f in frozen.sustainability.factors}
    assert "not moved for 30 days" in why["yield_stability"]
    assert sustainability_grade(frozen.sustainability.total) == frozen.sustainability.grade


def test_defunct_table_is_dated_sourced_and_point_in_time() -> None:
    rows = load_defunct_tokens()
    assert rows and all(r.source.startswith("https://") and r.since <= r.as_of for r in rows)
    held = defunct_tokens_in(("UST", "USDC"), (), "Fantom", as_of=date(2022, 6, 1))
    assert [(s, r.issuer) for s, r in held] == [("UST", "terra")]
    assert defunct_tokens_in(("UST", "USDC"), (), "Fantom", as_of=date(2022, 5, 1)) == []
    # by contract address, whatever the symbol says
    by_address = defunct_tokens_in(
        ("X",), ("0x8E595470Ed749b85C6F7669de83EAe304C2ec68F",), "Ethereum", as_of=AS_OF
    )
    assert [r.issuer for _, r in by_address] == ["iron-bank"]
    # chain-bound symbols do not match elsewhere
    assert defunct_tokens_in(("IDAI",), (), "Polygon", as_of=AS_OF) == []
    with pytest.raises(DataError, match="row 2: since"):
        parse_defunct(
            "symbols,address,chains,issuer,status,since,as_of,source\nX,,,i,s,soon,2025-01-01,u\n",
            name="t.csv",
        )


def test_readable_ids_are_unique_and_resolve() -> None:
    a = _pool("7e218bc2-186c-473d-af0c-415bcdfe392b", "USDC-USDT", chain="Ethereum")
    b = _pool("7e218bc2-0000-473d-af0c-415bcdfe392b", "USDC-USDT", chain="Ethereum")
    c = _pool("c0ffee00-1111-2222-3333-444455556666", "WETH-USDC", chain="Base")
    found = labels.readable_ids([a, b, c])
    assert found[2] == "pancakeswap-amm:base:weth-usdc"
    # the first 8 characters are shared: the suffix grows until it tells them apart
    assert found[0] == "pancakeswap-amm:ethereum:usdc-usdt#7e218bc2186c"
    assert found[1] == "pancakeswap-amm:ethereum:usdc-usdt#7e218bc20000"
    ids = [a.id, b.id, c.id]
    assert labels.resolve(found[1], ids, found) == 1
    assert labels.resolve(c.id, ids, found) == 2  # the UUID itself
    assert labels.resolve("PancakeSwap-AMM:Base:WETH-USDC", ids, found) == 2
    assert labels.resolve("c0ffee00", ids, found) == 2  # an id prefix
    with pytest.raises(DataError, match="names 2 opportunities"):
        labels.resolve("pancakeswap-amm:ethereum:usdc-usdt", ids, found)
    with pytest.raises(DataError, match="no opportunity"):
        labels.resolve("nothing", ids, found)


def test_realised_volatility_and_correlation_from_prices() -> None:
    rng = np.random.default_rng(7)
    n = 366
    days = [AS_OF - timedelta(days=n - 1 - k) for k in range(n)]
    ra = rng.normal(0, 0.04, n - 1)
    rb = 0.5 * ra + rng.normal(0, 0.03, n - 1)
    pa = 2000 * np.exp(np.concatenate([[0.0], np.cumsum(ra)]))
    pb = 1.0 * np.exp(np.concatenate([[0.0], np.cumsum(rb)]))
    prices = pl.DataFrame(
        {
            "asset_id": ["alpha"] * n + ["beta"] * n,
            "date": days * 2,
            "price_usd": np.concatenate([pa, pb]),
        }
    )
    tokens = (PairToken("ALPHA", "alpha", "unknown"), PairToken("BETA", "beta", "unknown"))
    pool = _pool("p", "ALPHA-BETA")
    loss, detail = expected_losses([pool], [tokens], np.array([True]), as_of=AS_OF, prices=prices)
    d = detail[0]
    assert d is not None and all(d.from_history) and d.correlation_from_history
    # by hand: the window keeps the 365 days up to AS_OF (364 returns), zero-mean variance
    wa, wb = np.diff(np.log(pa[1:])), np.diff(np.log(pb[1:]))
    va, vb = math.sqrt(np.mean(wa**2) * 365), math.sqrt(np.mean(wb**2) * 365)
    assert d.volatility == pytest.approx((va, vb))
    rho = float(np.corrcoef(wa, wb)[0, 1])
    assert d.correlation == pytest.approx(rho)
    sigma = math.sqrt(va**2 + vb**2 - 2 * rho * va * vb)
    assert loss[0] == pytest.approx(100 * float(il.expected_il_v2(sigma)))
    # no history: the category fallbacks, and the text says so
    loss, detail = expected_losses([pool], [tokens], np.array([True]), as_of=AS_OF)
    assert detail[0] is not None and "category fallback" in detail[0].describe()
    fallback = il.pair_volatility(1.5, 1.5, il.FALLBACK_CORRELATION)
    assert loss[0] == pytest.approx(100 * float(il.expected_il_v2(fallback)))


def test_correlation_on_gapped_and_repeated_days_matches_the_intersection() -> None:
    """The common days of two price series (read off the window's calendar) are those of
    a plain set intersection: gaps in either series, and a series with a repeated day
    (first row counts, as ``np.intersect1d`` has it)."""
    rng = np.random.default_rng(11)
    n = 400
    days = np.array([AS_OF - timedelta(days=n - 1 - k) for k in range(n)])
    keep_a, keep_b = rng.random(n) > 0.2, rng.random(n) > 0.3
    pa = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, n)))
    pb = 5 * np.exp(np.cumsum(rng.normal(0, 0.05, n)))
    dup = np.flatnonzero(keep_a)[-50]  # gamma repeats one of alpha's days
    prices = pl.DataFrame(
        {
            "asset_id": ["alpha"] * int(keep_a.sum())
            + ["beta"] * int(keep_b.sum())
            + ["gamma"] * (int(keep_a.sum()) + 1),
            "date": [*days[keep_a], *days[keep_b], *days[keep_a], days[dup]],
            "price_usd": np.concatenate([pa[keep_a], pb[keep_b], pa[keep_a] * 2, [7.0]]),
        }
    )
    returns = _Returns(SortedHistory(prices, "asset_id"), AS_OF)
    window = returns._series  # asset -> (day numbers, log prices) in the 365-day window

    def reference(a: str, b: str) -> float:
        _, ia, ib = np.intersect1d(window[a][0], window[b][0], return_indices=True)
        return float(np.corrcoef(np.diff(window[a][1][ia]), np.diff(window[b][1][ib]))[0, 1])

    assert returns._on_calendar("gamma") is None  # repeated day: the intersection path
    for a, b in (("alpha", "beta"), ("beta", "gamma"), ("alpha", "gamma")):
        assert returns.correlation(a, b) == reference(a, b)
    # the correlation itself: NumPy's corrcoef to the bit, None for a flat series
    for k in range(200):
        ra = rng.normal(0, 0.05, 61 + k)
        rb = [rng.uniform(-1, 1) * ra + rng.normal(0, 0.02, ra.size), -ra, 3 * ra][k % 3]
        assert _Returns._rho(ra, rb) == float(np.corrcoef(ra, rb)[0, 1])
    assert _Returns._rho(ra, np.full(ra.size, 0.01)) is None


def test_live_pools_schema_reaches_the_signals() -> None:
    """The served camelCase /pools record (recorded response) feeds the same columns as
    the snake_case dump: volume, fee tier from poolMeta, the source's forecast."""
    from realyield.sources.defillama import parse_pools
    from realyield.sources.sanitize import IngestReport
    from tests.conftest import contract

    payload = contract("defillama/pools.json")
    opps = parse_pools(payload, as_of=datetime(2025, 6, 30, tzinfo=UTC), report=IngestReport("t"))
    scored = score_universe(opps, as_of=date(2025, 6, 30))
    x = scored.inputs
    raw = {p["pool"]: p for p in payload["data"] if isinstance(p, dict) and p.get("pool")}
    checked = 0
    for i, o in enumerate(opps):
        pool = raw[o.id]
        if pool.get("volumeUsd7d") is not None:
            assert x.volume_7d[i] == pool["volumeUsd7d"]
            assert x.volume_1d[i] == pool["volumeUsd1d"]
            checked += 1
        predictions = pool.get("predictions")
        if isinstance(predictions, dict) and predictions.get("predictedClass") == "Down":
            assert x.p_down[i] == pytest.approx(predictions["predictedProbability"] / 100)
            checked += 1
    assert checked >= 3
    weth_usdc = next(i for i, o in enumerate(opps) if o.symbol == "WETH-USDC")
    assert x.fee_tier[weth_usdc] == 0.05


def test_a_known_range_is_charged_the_concentrated_loss() -> None:
    tokens = (PairToken("ALPHA", None, "unknown"), PairToken("USDC", None, "stablecoin"))
    ranged = _pool("r", "ALPHA-USDC", meta={"price_range_lower": 0.5, "price_range_upper": 2.0})
    full = _pool("f", "ALPHA-USDC")
    loss, detail = expected_losses(
        [ranged, full], [tokens, tokens], np.array([True, True]), as_of=AS_OF
    )
    sigma = float(il.pair_volatility(1.5, 0.06, il.STABLE_CORRELATION))
    assert loss[0] == pytest.approx(100 * il.expected_il_v3(sigma, 0.5, 2.0))
    assert loss[1] == pytest.approx(100 * float(il.expected_il_v2(sigma)))
    assert loss[0] < loss[1] < 0
    assert detail[0] is not None and "concentrated range [0.5, 2]" in detail[0].describe()
