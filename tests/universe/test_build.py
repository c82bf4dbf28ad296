"""Refreshes and imports into the store: all-or-nothing writes, offline behaviour,
point-in-time views without look-ahead."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy import Engine, select

from realyield.core import clock
from realyield.core.settings import Settings
from realyield.store import records, schema
from realyield.universe import build
from realyield.universe.repository import (
    UniverseQuery,
    apy_history_frame,
    load_universe,
    price_history_frame,
    table_counts,
)
from tests.conftest import contract

LLAMA = "https://yields.llama.fi"


def pools_payload(apy_usdc: float) -> dict[str, object]:
    payload = contract("defillama/pools.json")
    for pool in payload["data"]:
        if pool.get("pool") == "aa70268e-4b52-42bf-a116-608b370f9501":
            pool.update(apy=apy_usdc, apyBase=apy_usdc, apyReward=None)
    return payload


def usdc_apy(engine: Engine) -> float | None:
    opps = load_universe(engine, UniverseQuery(sources=("defillama",)))
    return {o.id: o.apy for o in opps}["aa70268e-4b52-42bf-a116-608b370f9501"]


@respx.mock
def test_refresh_stores_pools_and_reports_rejections(engine: Engine, settings: Settings) -> None:
    respx.get(f"{LLAMA}/pools").mock(return_value=httpx.Response(200, json=pools_payload(4.0)))
    result = build.refresh(engine, settings, "defillama")
    assert result.status == "ok" and result.written == {"opportunities": 5 + 10}
    staking = load_universe(engine, UniverseQuery(sources=("staking",), kind="staking"))
    assert len(staking) == 10  # native routes from the packaged staking table
    atom = {o.id: o for o in staking}["native-staking:cosmos:atom"]
    assert atom.lockup_days == 21 and atom.apy_reward == 0.0
    assert atom.meta["parameters_as_of"] == "2025-06-30" and atom.meta["supply_inflation_pct"] > 0
    assert result.report is not None and result.report.rejected_total == 5
    assert usdc_apy(engine) == 4.0
    with engine.connect() as conn:
        runs = conn.execute(select(schema.refresh_runs)).mappings().all()
    assert [r["status"] for r in runs] == ["ok"]
    assert json.loads(runs[0]["summary"])["rejected"]["implausible_tvl"] == 1


@respx.mock
def test_refresh_interrupted_while_writing_leaves_previous_data(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    respx.get(f"{LLAMA}/pools").mock(return_value=httpx.Response(200, json=pools_payload(4.0)))
    build.refresh(engine, settings, "defillama")
    before = table_counts(engine)

    respx.get(f"{LLAMA}/pools").mock(return_value=httpx.Response(200, json=pools_payload(9.9)))

    def crash(*args: object, **kwargs: object) -> int:
        raise RuntimeError("power cut")  # after the opportunities were upserted

    monkeypatch.setattr(records, "save_apy_history", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        build.refresh(engine, settings, "defillama")
    assert usdc_apy(engine) == 4.0  # the half-written refresh was rolled back
    assert table_counts(engine) == before


@respx.mock
def test_refresh_failing_halfway_through_fetching_keeps_stored_data(
    engine: Engine, settings: Settings
) -> None:
    respx.get(f"{LLAMA}/pools").mock(return_value=httpx.Response(200, json=pools_payload(4.0)))
    build.refresh(engine, settings, "defillama")
    respx.get(f"{LLAMA}/pools").mock(return_value=httpx.Response(200, json=pools_payload(7.0)))
    respx.get(f"{LLAMA}/chart/p-ok").mock(
        return_value=httpx.Response(200, json=contract("defillama/chart.json"))
    )
    respx.get(f"{LLAMA}/chart/p-down").mock(side_effect=httpx.ConnectError("gone"))
    fast = Settings(home=settings.home, http_max_attempts=1)
    with pytest.raises(Exception, match="cannot reach"):
        build.refresh_defillama(engine, fast, chart_pool_ids=["p-ok", "p-down"])
    assert usdc_apy(engine) == 4.0
    assert table_counts(engine)["apy_history"] == 0


@respx.mock
def test_offline_refresh_keeps_last_data_and_says_so(engine: Engine, settings: Settings) -> None:
    respx.get(f"{LLAMA}/pools").mock(return_value=httpx.Response(200, json=pools_payload(4.0)))
    build.refresh(engine, settings, "defillama")
    respx.get(f"{LLAMA}/pools").mock(side_effect=httpx.ConnectError("offline"))
    fast = Settings(home=settings.home, http_max_attempts=2, http_backoff_base_s=0.0)
    result = build.refresh(engine, fast, "defillama")
    assert result.status == "offline" and "last stored data is kept" in result.message
    assert result.fallback is None  # data was stored, so no snapshot fallback
    assert usdc_apy(engine) == 4.0
    with engine.connect() as conn:
        statuses = conn.execute(select(schema.refresh_runs.c.status)).scalars().all()
    assert statuses == ["ok", "offline"]


def test_import_is_idempotent_and_point_in_time(engine: Engine, tmp_path: Path) -> None:
    old = tmp_path / "pools_2023-07-26.csv"
    old.write_text(
        "chain,project,symbol,apy,tvlUsd,pool\nEthereum,aave-v3,USDC,3.0,10,p1\n"
        "Ethereum,aave-v3,DAI,2.0,20,p2\n"
    )
    new = tmp_path / "pools_2024-01-01.csv"
    new.write_text("chain,project,symbol,apy,tvlUsd,pool\nEthereum,aave-v3,USDC,8.0,30,p1\n")
    for _ in range(2):
        build.import_file(engine, old)
    assert table_counts(engine)["opportunities"] == 2
    build.import_file(engine, new)
    latest = {o.id: o.apy for o in load_universe(engine)}
    assert latest == {"p1": 8.0}  # p2 was not listed for 159 days: it left the universe
    everything = load_universe(engine, UniverseQuery(max_age_days=None))
    assert {o.id: o.apy for o in everything} == {"p1": 8.0, "p2": 2.0}
    dec31 = UniverseQuery(as_of=date(2023, 12, 31), max_age_days=None)
    past = {o.id: o.apy for o in load_universe(engine, dec31)}
    assert past == {"p1": 3.0, "p2": 2.0}  # no look-ahead into the 2024 dump
    assert load_universe(engine, UniverseQuery(as_of=date(2023, 1, 1), max_age_days=None)) == []
    ranked = load_universe(engine, UniverseQuery(sort="apy", max_age_days=None))
    assert [o.id for o in ranked] == ["p1", "p2"]
    assert [o.id for o in load_universe(engine, UniverseQuery(min_tvl_usd=15))] == ["p1"]
    within = UniverseQuery(as_of=date(2023, 8, 20), max_age_days=30)
    assert {o.id for o in load_universe(engine, within)} == {"p1", "p2"}
    assert load_universe(engine, UniverseQuery(as_of=date(2023, 8, 26), max_age_days=30)) == []


def test_history_frames_prefer_the_most_direct_source(engine: Engine, tmp_path: Path) -> None:
    prices = tmp_path / "bitcoin.csv"
    prices.write_text("date,price\n2024-01-01,42000\n2024-01-02,43000\n")
    build.import_file(engine, prices)
    with engine.begin() as conn:
        from realyield.core.model import PricePoint

        records.save_prices(
            conn,
            "snapshot",
            [
                PricePoint("bitcoin", date(2024, 1, 2), 1.0),
                PricePoint("bitcoin", date(2024, 1, 3), 44000.0),
            ],
        )
    frame = price_history_frame(engine, ["bitcoin"])
    assert frame["date"].to_list() == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    assert frame["price_usd"].to_list() == [42000.0, 43000.0, 44000.0]  # file beats snapshot
    history = tmp_path / "h.csv"
    history.write_text("date,pool,apy\n2024-01-01,p1,5\n2024-01-02,p1,6\n")
    build.import_file(engine, history)
    assert apy_history_frame(engine, ["p1"], start=date(2024, 1, 2))["apy"].to_list() == [6.0]


def test_detect_file_kind(tmp_path: Path) -> None:
    cases = {
        "a.json": ("[]", "pools"),
        "b.csv": ("chain,project,symbol,apy,pool\n", "pools"),
        "c.csv": ("date,price\n", "prices"),
        "d.csv": ("date,pool,apy\n", "apy-history"),
        "e.csv": ("column_0,column_1,ticker\n", "prices"),
    }
    for name, (content, kind) in cases.items():
        (tmp_path / name).write_text(content + "x\n")
        assert build.detect_file_kind(tmp_path / name) == kind
    (tmp_path / "f.csv").write_text("foo,bar\n1,2\n")
    with pytest.raises(Exception, match="--kind"):
        build.detect_file_kind(tmp_path / "f.csv")


def test_clock_drives_run_timestamps(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("pool,apy\np1,1\n")
    with clock.freeze(datetime(2030, 1, 2, tzinfo=UTC)):
        result = build.import_file(engine, path)
    assert result.as_of == datetime(2030, 1, 2, tzinfo=UTC)
    (opp,) = load_universe(engine)
    assert opp.as_of == datetime(2030, 1, 2, tzinfo=UTC)  # undated dump: dated at import


def test_snapshot_load_keeps_dead_pools_out_of_the_current_universe(engine: Engine) -> None:
    from realyield.sources.snapshot import SNAPSHOT_AS_OF, load_snapshot

    snap = load_snapshot()
    assert build.load_snapshot(engine).status == "ok"
    assert build.load_snapshot(engine).status == "unchanged"  # same version: not rewritten
    current = load_universe(engine, UniverseQuery(sources=("snapshot",)))
    assert {o.id for o in current} == {o.id for o in snap.opportunities}
    dead = snap.delisted[0]
    assert dead.id not in {o.id for o in current}
    before_death = UniverseQuery(sources=("snapshot",), as_of=dead.as_of.date())
    assert dead.id in {o.id for o in load_universe(engine, before_death)}
    frame = apy_history_frame(engine, [dead.id])
    assert frame["date"].max() <= dead.as_of.date() < SNAPSHOT_AS_OF.date()


@respx.mock
def test_history_for_largest_pools_and_a_failing_chart_is_skipped(
    engine: Engine, settings: Settings
) -> None:
    respx.get(f"{LLAMA}/pools").mock(return_value=httpx.Response(200, json=pools_payload(4.0)))
    steth = "747c1d2a-c668-4682-b9f9-296708a3dd90"  # the largest TVL in the payload
    usdc = "aa70268e-4b52-42bf-a116-608b370f9501"  # the second largest
    ok = respx.get(f"{LLAMA}/chart/{steth}").mock(
        return_value=httpx.Response(200, json=contract("defillama/chart.json"))
    )
    missing = respx.get(f"{LLAMA}/chart/{usdc}").mock(return_value=httpx.Response(404))
    result = build.refresh(engine, settings, "defillama", history_top=2)
    assert result.status == "ok"
    assert ok.call_count == 1 and missing.call_count == 1
    assert result.report is not None and result.report.rejected["chart_failed"] == 1
    frame = apy_history_frame(engine, [steth])
    assert frame.height == 4 and frame["source"].unique().to_list() == ["defillama"]


@respx.mock
def test_coingecko_refresh_stores_assets_and_daily_prices(
    engine: Engine, settings: Settings
) -> None:
    base = settings.coingecko_url
    respx.get(f"{base}/coins/markets").mock(
        return_value=httpx.Response(200, json=contract("coingecko/markets.json"))
    )
    respx.get(url__regex=rf"{base}/coins/[a-z0-9-]+/market_chart").mock(
        return_value=httpx.Response(200, json=contract("coingecko/market_chart.json"))
    )
    few = Settings(home=settings.home, coingecko_ids=("bitcoin", "ethereum"))
    with clock.freeze(datetime(2025, 7, 1, 6, tzinfo=UTC)):
        result = build.refresh(engine, few, "coingecko")
    assert result.status == "ok"
    assert result.written == {"assets": 4, "prices": 10}
    assert result.report is not None and result.report.stale == 0
    frame = price_history_frame(engine, ["bitcoin"])
    assert frame.height == 5 and frame["price_usd"][-1] == 60199.4011
    from realyield.universe.repository import load_assets

    assets = {a.id: a for a in load_assets(engine)}
    assert assets["ethereum"].price_usd == 2486.41 and assets["usd-coin"].category == "stablecoin"
    # supply inflation merged in from the staking table (fraction a year)
    assert assets["ethereum"].supply_inflation == pytest.approx(0.007)
    assert assets["bitcoin"].supply_inflation is None


def test_exchange_refresh_maps_symbols_to_asset_ids(engine: Engine, settings: Settings) -> None:
    from realyield.core.model import PricePoint

    class FakeExchange:
        """Stands in for ExchangeClient (tested on recorded ccxt responses elsewhere)."""

        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def daily_prices(self, symbol: str, asset_id: str, since: date) -> list[PricePoint]:
            self.asked.append((symbol, asset_id))
            return [PricePoint(asset_id, date(2024, 1, 1), 100.0)]

    fake = FakeExchange()
    few = Settings(home=settings.home, exchange_symbols=("BTC/USD", "XBT/USDT", "FOO/USD"))
    result = build.refresh_exchange(engine, few, client=fake)
    assert fake.asked == [("BTC/USD", "bitcoin"), ("XBT/USDT", "bitcoin"), ("FOO/USD", "foo")]
    assert result.written == {"prices": 3}
    assert price_history_frame(engine)["asset_id"].to_list() == ["bitcoin", "foo"]
