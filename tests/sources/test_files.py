"""File imports: every accepted layout, and bad files giving clear errors."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realyield.core.errors import DataError
from realyield.sources import files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pools_csv_with_a_subset_of_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pools_2024-01-02.csv",
        "chain,project,symbol,apy,pool\n"
        "Ethereum,aave-v3,USDC,4.2,p1\n"
        "Arbitrum,uniswap-v3,WETH-USDC,0,p2\n",
    )
    opps, report = files.import_pools(path)
    assert [(o.id, o.apy, o.kind) for o in opps] == [
        ("p1", 4.2, "lending"),
        ("p2", 0.0, "liquidity"),
    ]
    assert opps[0].tvl_usd is None and opps[0].apy_base is None  # missing columns -> missing
    assert opps[0].as_of == datetime(2024, 1, 2, tzinfo=UTC)  # from the file name
    assert report.accepted == 2 and report.rejected_total == 0


def test_pools_csv_snake_case_full_schema(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dump.csv",
        "pool,protocol_slug,chain,symbol,tvl_usd,apy,apy_base,apy_reward,stablecoin,"
        "il_risk,exposure,reward_tokens,predictions\n"
        "a,curve-dex,Ethereum,DAI-USDC,1000000,2.5,2.0,0.5,True,no,multi,"
        '"[""0xD533""]","{\'predictedClass\': \'Down\', \'predictedProbability\': 60, '
        "'binnedConfidence': 1}\"\n",
    )
    (opp,), _ = files.import_pools(path, as_of=datetime(2025, 1, 1, tzinfo=UTC))
    assert (opp.protocol, opp.tvl_usd, opp.apy_reward, opp.stablecoin) == (
        "curve-dex",
        1e6,
        0.5,
        True,
    )
    assert opp.reward_tokens == ("0xD533",)
    assert opp.meta["predicted_class"] == "Down"  # Python-literal dict inside a CSV cell


def test_bad_rows_are_reported_by_row_number_then_skipped_or_fatal(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "chain,project,symbol,apy,tvlUsd,pool\n"
        "Ethereum,aave-v3,USDC,4.2,100,ok1\n"
        "Ethereum,aave-v3,USDT,abc,100,bad-apy\n"
        "Ethereum,aave-v3,DAI,4.0,-5,bad-tvl\n"
        "Ethereum,aave-v3,DAI,4.0\n"
        "Ethereum,aave-v3,GHO,3.0,1,\n",
    )
    opps, report = files.import_pools(path)
    assert [o.id for o in opps] == ["ok1"]
    assert [(p.where, p.reason) for p in report.problems] == [
        ("row 3", "not_a_number"),
        ("row 4", "negative_tvl"),
        ("row 5", "wrong_column_count"),
        ("row 6", "missing_id"),
    ]
    with pytest.raises(DataError, match=r"4 bad row\(s\).*row 3: not_a_number"):
        files.import_pools(path, strict=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"date,foo\n2024-01-01,1\n", "wrong columns"),
        ("chain,apy\nEthéreum,1\n".encode("latin-1"), "not UTF-8"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
        (b'{"status": "success", "data": [', "invalid JSON"),
    ],
)
def test_bad_files_give_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        if message == "wrong columns":
            files.import_prices(path)
        else:
            files.import_pools(path)
    assert str(path) in str(info.value)


def test_missing_file_and_pool_file_without_id_column(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        files.import_pools(tmp_path / "nope.csv")
    path = write(tmp_path, "p.csv", "chain,project,symbol,apy\nEthereum,a,b,1\n")
    with pytest.raises(DataError, match="pool id column"):
        files.import_pools(path)


def test_utf16_and_bom_and_gzip_are_read(tmp_path: Path) -> None:
    text = "date,price\n2024-01-01,42000.5\n2024-01-02,43000\n"
    (tmp_path / "u16.csv").write_text(text, encoding="utf-16")
    (tmp_path / "bom.csv").write_text(text, encoding="utf-8-sig")
    (tmp_path / "gz.csv.gz").write_bytes(gzip.compress(text.encode()))
    for name in ("u16.csv", "bom.csv", "gz.csv.gz"):
        points, _ = files.import_prices(tmp_path / name, asset_id="bitcoin")
        assert [(p.date, p.price_usd) for p in points] == [
            (date(2024, 1, 1), 42000.5),
            (date(2024, 1, 2), 43000.0),
        ]


def test_price_layouts_and_same_day_duplicates(tmp_path: Path) -> None:
    coingecko = write(
        tmp_path,
        "eth.csv",
        "column_0,column_1,ticker\n"
        "1704067200000.0,2281.47,ethereum\n"  # 2024-01-01 00:00 UTC
        "1704153600000.0,2352.04,ethereum\n"  # 2024-01-02 00:00 UTC
        "1704190000000.0,2399.00,ethereum\n",
    )  # 2024-01-02 10:06 UTC (intraday)
    points, report = files.import_prices(coingecko)
    assert [(p.asset_id, p.date, p.price_usd) for p in points] == [
        ("ethereum", date(2024, 1, 1), 2281.47),
        ("ethereum", date(2024, 1, 2), 2352.04),
    ]
    assert report.duplicates == 1
    yahoo = write(
        tmp_path,
        "BTC-USD.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-01,42280.23,44175.44,42214.98,44167.33,44167.33,18426978443\n",
    )
    (point,), _ = files.import_prices(yahoo, asset_id="bitcoin")
    assert point.price_usd == 42280.23  # the Open: the 00:00 UTC price
    assert point.volume_usd == 18426978443
    plain = write(
        tmp_path,
        "sol.csv",
        "date,price,total_volume,market_cap,coin_name\n"
        "2023-08-27 00:00:00.000,21.5,1,0.0,solana\n"
        "2023-08-28,-3,1,1,solana\n",
    )
    points, report = files.import_prices(plain)
    assert len(points) == 1 and points[0].market_cap_usd is None  # 0 cap at listing -> missing
    assert report.rejected == {"non_positive_price": 1}


def test_apy_history_layouts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "h.csv",
        "date,pool,apy,apy_base,apy_reward,tvl_usd,chain,project,symbol\n"
        "2024-01-01,p1,5,4,1,100,Ethereum,aave-v3,USDC\n"
        "2024-01-01,p1,6,5,1,100,Ethereum,aave-v3,USDC\n"
        "2024-01-02,p1,-1,,,100,Ethereum,aave-v3,USDC\n"
        "2024-01-03,p1,5,1,1,100,Ethereum,aave-v3,USDC\n",
    )
    history, report = files.import_apy_history(path)
    assert [(p.date.day, p.apy) for p in history.points] == [(1, 6.0), (2, 0.0)]
    assert report.duplicates == 1 and report.repaired["negative_apy_clipped"] == 1
    assert report.rejected == {"invalid_apy": 1}
    assert history.pool_info["p1"] == {"chain": "Ethereum", "project": "aave-v3", "symbol": "USDC"}
    chart = write(tmp_path, "chart.csv", "timestamp,tvlUSD,apy\n09/28/2022,415374,0.0123\n")
    history, _ = files.import_apy_history(chart, opportunity_id="x", apy_unit="fraction")
    assert history.points[0].apy == pytest.approx(1.23)
    assert history.points[0].date == date(2022, 9, 28) and history.points[0].tvl_usd == 415374
    with pytest.raises(DataError, match="id or pool"):
        files.import_apy_history(chart)


# --- the real public files in ../shared/data -----------------------------------------


def test_defillama_2023_universe_loads_every_pool(shared_data: Path) -> None:
    opps, report = files.import_pools(shared_data / "defillama/pools_2023-07-26.csv")
    assert len(opps) == 11_977 and report.rejected_total == 0
    assert sum(1 for o in opps if o.apy == 0) == 2_971
    assert sum(1 for o in opps if o.apy is not None and o.apy > 100) == 423
    assert len({o.chain for o in opps}) == 69 and len({o.protocol for o in opps}) == 358
    assert max(o.apy or 0 for o in opps) == pytest.approx(196_485.33952)


def test_full_schema_files_load_with_every_field(shared_data: Path) -> None:
    opps, report = files.import_pools(shared_data / "defillama/pools_2025-12-24_full_schema.json")
    assert len(opps) == 30 and report.rejected_total == 0
    assert opps[0].as_of == datetime(2025, 12, 24, 7, 27, 1, 395000, tzinfo=UTC)
    assert all(o.tvl_usd and o.apy is not None and o.exposure for o in opps)
    # every non-null value of the served schema survives, as a field or in meta
    import json

    raw = json.loads((shared_data / "defillama/pools_2025-12-24_full_schema.json").read_text())
    by_id = {o.id: o for o in opps}
    meta_names = {
        "mu": "mu",
        "sigma": "sigma",
        "count": "count",
        "apyMean30d": "apy_mean_30d",
        "apyPct1D": "apy_pct_1d",
        "apyPct7D": "apy_pct_7d",
        "apyPct30D": "apy_pct_30d",
        "il7d": "il_7d",
        "apyBase7d": "apy_base_7d",
        "volumeUsd1d": "volume_usd_1d",
        "volumeUsd7d": "volume_usd_7d",
        "outlier": "outlier",
        "poolMeta": "pool_meta",
    }
    checked = 0
    for pool in raw["pools"]:
        opp = by_id[pool["poolId"]]
        assert opp.tvl_usd == pool["tvlUsd"] and opp.apy == pool["apy"]
        assert opp.apy_base == pool["apyBase"] and opp.apy_reward == pool["apyReward"]
        assert opp.underlying == tuple(pool["underlyingTokens"] or ())
        assert opp.reward_tokens == tuple(pool["rewardTokens"] or ())
        assert opp.stablecoin == pool["stablecoin"] and opp.il_risk == (pool["ilRisk"] == "yes")
        for camel, snake in meta_names.items():
            if pool.get(camel) is not None:
                assert opp.meta[snake] == pool[camel], (camel, pool["poolId"])
                checked += 1
        if pool["predictions"]["predictedClass"] is not None:
            assert opp.meta["predicted_class"] == pool["predictions"]["predictedClass"]
    assert checked > 200
    dex, report = files.import_pools(shared_data / "defillama/pools_2025-08-31_dex_full_schema.csv")
    assert len(dex) == 1_134 and report.rejected_total == 0
    assert all(o.tvl_usd is not None and o.exposure in ("single", "multi") for o in dex)
    assert sum(1 for o in dex if "volume_usd_1d" in o.meta) > 500
    assert {o.kind for o in dex} <= {"liquidity", "vault", "lending", "liquid_staking"}


def test_real_histories_import(shared_data: Path) -> None:
    dex, report = files.import_apy_history(shared_data / "yields/defillama_dex_pool_history.csv.gz")
    assert len(dex.points) == 80_842 and report.rejected_total == 0
    assert len({p.opportunity_id for p in dex.points}) == 492
    lending, report = files.import_apy_history(
        shared_data / "yields/lending_markets_history.csv.gz"
    )
    assert len(lending.points) == 52_071 and report.rejected_total == 0
    assert len({p.opportunity_id for p in lending.points}) == 82


def test_every_real_price_file_imports_with_utc_dates(shared_data: Path) -> None:
    paths = sorted((shared_data / "prices").glob("*/*.csv"))
    assert len(paths) >= 30
    for path in paths:
        points, report = files.import_prices(path)
        assert points and report.rejected_total == 0, path
        dates = [p.date for p in points]
        assert dates == sorted(set(dates)), path
    btc, _ = files.import_prices(shared_data / "prices/coingecko_daily/bitcoin.csv")
    assert btc[0].date == date(2015, 1, 1) and btc[0].price_usd == pytest.approx(313.992)
    steth, _ = files.import_prices(shared_data / "prices/coingecko_daily/staked-ether.csv")
    eth, _ = files.import_prices(shared_data / "prices/coingecko_daily/ethereum.csv")
    day = date(2022, 6, 19)
    ratio = {p.date: p.price_usd for p in steth}[day] / {p.date: p.price_usd for p in eth}[day]
    assert ratio == pytest.approx(0.9346, abs=0.01)  # the June 2022 stETH discount
    usdc, _ = files.import_prices(shared_data / "prices/coingecko_daily/usd-coin.csv")
    assert {p.date: p.price_usd for p in usdc}[date(2023, 3, 12)] == pytest.approx(0.9656, abs=1e-3)
    # the 2023-08..2024-08 dumps: ms timestamps at 00:00 UTC, the intraday tail resolved
    chained, report = files.import_prices(
        shared_data / "prices/coingecko_2023-08_2024-08/ethereum.csv"
    )
    assert chained[0].date == date(2023, 8, 12) and report.duplicates == 1


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(content=st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_any_bytes_either_import_or_raise_data_error(tmp_path: Path, content: bytes) -> None:
    """Garbage never escapes as a crash: a result, or a DataError saying what was wrong."""
    for name, reader in (
        ("x.csv", files.import_pools),
        ("y.csv", files.import_prices),
        ("z.csv", files.import_apy_history),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        try:
            reader(path)  # type: ignore[operator]
        except DataError as exc:
            assert str(path) in str(exc) or "apy_unit" in str(exc)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.text(max_size=12), st.text(max_size=8), st.text(max_size=8)), max_size=20
    )
)
def test_garbage_cells_are_rejected_per_row_never_raised(
    tmp_path: Path, rows: list[tuple[str, str, str]]
) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["pool", "apy", "tvlUsd"])
    writer.writerows(rows)
    path = tmp_path / "g.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    opps, report = files.import_pools(path)
    assert report.accepted == len(opps)
    assert all(o.apy is None or o.apy >= 0 for o in opps)
    assert all(o.tvl_usd is None or o.tvl_usd >= 0 for o in opps)
