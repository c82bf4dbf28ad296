"""Files that build a universe on their own (issue 16): several paths in one import,
names through the alias table, pools and assets created from histories and price
files, and point-in-time views restated from those histories. Every expected figure
is computed by hand from the rows written here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from realyield.core.errors import ConfigError
from realyield.store import schema
from realyield.universe import build
from realyield.universe.batch_import import expand_paths, import_paths
from realyield.universe.repository import UniverseQuery, load_assets, load_universe

START = date(2024, 1, 1)


def _prices(path: Path, coin: str, rows: Sequence[tuple[date, float, float | None]]) -> Path:
    lines = ["date,price,total_volume,market_cap,coin_name"]
    lines += [f"{d},{p},1000,{'' if c is None else c},{coin}" for d, p, c in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def _history(path: Path, rows: list[tuple[date, str, float, float]]) -> Path:
    lines = ["date,pool,chain,project,symbol,tvl_usd,apy,apy_base,apy_reward"]
    lines += [f"{d},{pool},Ethereum,aave-v3,USDC,{tvl},{apy},{apy}," for d, pool, apy, tvl in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_several_paths_in_one_call_each_reported(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    _prices(folder / "bnb.csv", "BNB", [(START, 300.0, 4.5e10)])
    _prices(folder / "avalanche.csv", "avalanche", [(START, 40.0, 1.4e10)])
    (folder / "notes.md").write_text("not a data file")
    bad = tmp_path / "broken.csv"
    bad.write_text("what,ever\n1,2\n")
    outcomes = import_paths(engine, [folder, bad])
    assert [o.path.name for o in outcomes] == ["avalanche.csv", "bnb.csv", "broken.csv"]
    assert [o.failed for o in outcomes] == [False, False, True]
    assert "cannot tell what the file holds" in str(outcomes[2].error)
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(select(schema.prices.c.asset_id).distinct())}
    assert stored == {"binancecoin", "avalanche-2"}  # through the alias table
    with pytest.raises(ConfigError, match="no such file"):
        expand_paths([tmp_path / "missing.csv"])
    with pytest.raises(ConfigError, match="ONE file"):
        import_paths(engine, [folder], asset_id="bitcoin")


def test_unknown_asset_name_is_reported_with_the_alias_row(engine: Engine, tmp_path: Path) -> None:
    path = _prices(tmp_path / "mystery-coin.csv", "mystery-coin", [(START, 1.0, None)])
    result = build.import_file(engine, path)
    assert result.status == "failed" and result.report is not None
    assert result.report.rejected["unknown_asset"] == 1
    detail = result.report.problems[0].detail
    assert "alias=mystery-coin" in detail and "aliases.csv" in detail


def test_tracker_protocols_map_to_the_universe(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tracker.csv"
    path.write_text(
        "date,protocol,asset,chain,apy,last_seen_commit\n"
        "2024-01-02,AAVEV3,USDC,Base,0.05,abc\n"
        "2024-01-02,NOSUCHPROTO,USDC,Base,0.05,abc\n"
    )
    result = build.import_file(engine, path, apy_unit="fraction")
    assert result.report is not None and result.report.rejected["unknown_protocol"] == 1
    opps = load_universe(engine, UniverseQuery(as_of=date(2024, 1, 2)))
    (opp,) = opps
    assert (opp.id, opp.protocol, opp.kind, opp.apy) == (
        "aave-v3:base:usdc",
        "aave-v3",
        "lending",
        5.0,
    )
    assert opp.stablecoin is True and opp.underlying == ("usd-coin",)


def test_history_pools_point_in_time(engine: Engine, tmp_path: Path) -> None:
    rows = [(START + timedelta(days=i), "pool-a", 3.0 + i, 1e6 * (i + 1)) for i in range(60)]
    rows += [(START + timedelta(days=30 + i), "pool-b", 9.0, 5e6) for i in range(5)]
    build.import_file(engine, _history(tmp_path / "h.csv", rows))
    # before pool-a's first day: nothing; on day 10 its row of day 10
    assert load_universe(engine, UniverseQuery(as_of=START - timedelta(days=1))) == []
    (a,) = load_universe(engine, UniverseQuery(as_of=START + timedelta(days=10)))
    assert (a.id, a.apy, a.tvl_usd, a.as_of.date()) == ("pool-a", 13.0, 11e6, START + timedelta(10))
    # pool-b lived 5 days: a week after its last row it has left the universe
    day = START + timedelta(days=34)
    assert {o.id for o in load_universe(engine, UniverseQuery(as_of=day))} == {"pool-a", "pool-b"}
    later = START + timedelta(days=34 + 8)
    assert {o.id for o in load_universe(engine, UniverseQuery(as_of=later))} == {"pool-a"}
    # without a date: the newest history day (records are dated their first day)
    assert {o.id: o.apy for o in load_universe(engine)} == {"pool-a": 62.0}


def test_market_cap_from_the_last_published_supply(engine: Engine, tmp_path: Path) -> None:
    # 2 days with a market cap (supply 19.5M then 19.6M), then prices only
    full = [(START, 40_000.0, 7.8e11), (START + timedelta(1), 42_000.0, 8.232e11)]
    build.import_file(engine, _prices(tmp_path / "bitcoin.csv", "bitcoin", full))
    chart = tmp_path / "chart.csv"
    chart.write_text(
        "column_0,column_1,ticker\n"
        + "".join(
            f"{(START - date(1970, 1, 1)).days * 86_400_000 + d * 86_400_000},{p},bitcoin\n"
            for d, p in ((1, 42_000.0), (2, 50_000.0), (3, 60_000.0))
        )
    )
    build.import_file(engine, chart)
    (day1,) = load_assets(engine, as_of=START + timedelta(1))
    assert day1.market_cap_usd == pytest.approx(8.232e11)  # kept although the dump overlaps
    (day3,) = load_assets(engine, as_of=START + timedelta(3))
    assert day3.price_usd == 60_000.0
    assert day3.market_cap_usd == pytest.approx(19.6e6 * 60_000.0)
    assert day3.circulating_supply == pytest.approx(19.6e6)


def test_staking_route_tvl_implied_from_the_table(engine: Engine, tmp_path: Path) -> None:
    # Solana in the table: nominal 7.3%, supply inflation 4.6% -> 63.0% of supply staked
    build.import_file(engine, _prices(tmp_path / "solana.csv", "solana", [(START, 100.0, 4.0e10)]))
    (route,) = [o for o in load_universe(engine, UniverseQuery(as_of=START)) if o.kind == "staking"]
    assert route.id == "native-staking:solana:sol" and route.source == "staking"
    assert route.tvl_usd == pytest.approx(4.0e10 * 4.6 / 7.3)
    assert "staked share 63%" in route.meta["tvl_basis"]
    assert route.meta["count"] == 1  # one priced day


def test_a_view_says_what_it_rests_on(engine: Engine, tmp_path: Path) -> None:
    from realyield.universe.provenance import view_sources

    rows = [(START + timedelta(days=i), "pool-a", 4.0, 2e6) for i in range(3)]
    build.import_file(engine, _history(tmp_path / "lending.csv", rows))
    # a published cap on day 0, a price only on day 2
    build.import_file(
        engine,
        _prices(
            tmp_path / "solana.csv",
            "solana",
            [(START, 100.0, 4e10), (START + timedelta(2), 110.0, None)],
        ),
    )
    lines = view_sources(engine, START + timedelta(days=2))
    assert lines[0] == "1 opportunities from imported files (lending.csv)"
    assert lines[1].startswith(
        "1 network staking routes from the bundled staking table (rates as of 2025-06-30"
    )
    assert "market caps published for 0, last published supply x price for 1" in lines[2]
    assert f"supply as old as {START}" in lines[2] and "solana.csv" in lines[2]
