"""The whole loop on the real public files, offline (issue 16): the price folders and the
DEX and lending histories in ONE ``data import`` call, the tracker file in fraction
units, no snapshot; then the universe, scores, all five indices and a plan as of
2024-08-01. Figures are checked against the CSV files themselves.

Run with ``-s`` to see each index's holdings and yields in the log.
"""

from __future__ import annotations

import csv
import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from realyield.cli import app
from realyield.core.settings import load_settings
from realyield.indices.composition import IndexComposition
from realyield.indices.service import indices_at
from realyield.store import schema
from realyield.store.engine import open_store
from realyield.universe.repository import UniverseQuery, load_assets, load_universe
from tests.conftest import SHARED_DATA

DAY = date(2024, 8, 1)
PRICES = SHARED_DATA / "prices"
YIELDS = SHARED_DATA / "yields"
runner = CliRunner()


def _cli(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def real_loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, dict[str, Any]]]:
    """One store filled from the real files (shared by every test here: the import is
    the expensive part)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not found at {SHARED_DATA} (../shared/data beside the repo)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REALYIELD_HOME", str(tmp_path_factory.mktemp("real-loop")))
        started = time.perf_counter()
        together = _cli(
            "data",
            "import",
            str(PRICES / "coingecko_daily"),
            str(PRICES / "coingecko_2023-08_2024-08"),
            str(YIELDS / "defillama_dex_pool_history.csv.gz"),
            str(YIELDS / "lending_markets_history.csv.gz"),
        )
        tracker = _cli(
            "data",
            "import",
            str(YIELDS / "lending_staking_apy_history.csv"),
            "--apy-unit",
            "fraction",
        )
        seconds = time.perf_counter() - started
        print(f"\nimported {len(together['files']) + 1} files in {seconds:.1f} s")
        engine = open_store(load_settings())
        yield engine, {"together": together, "tracker": tracker, "seconds": seconds}
        engine.dispose()


def test_one_call_imports_every_file_and_no_snapshot(
    real_loop: tuple[Engine, dict[str, Any]],
) -> None:
    engine, runs = real_loop
    files = runs["together"]["files"]
    assert len(files) == 21 + 11 + 2  # both price folders, both histories
    assert {f["status"] for f in files} == {"ok"}
    assert runs["tracker"]["status"] == "ok"
    with engine.connect() as conn:
        sources = {r[0] for r in conn.execute(select(schema.opportunities.c.source).distinct())}
    assert sources == {"file", "staking"}  # nothing from the bundled snapshot


def test_names_map_through_the_alias_table(real_loop: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = real_loop
    with engine.connect() as conn:
        assets = {r[0] for r in conn.execute(select(schema.prices.c.asset_id).distinct())}
        ids = {r[0] for r in conn.execute(select(schema.apy_history.c.id).distinct())}
    assert {"binancecoin", "avalanche-2"} <= assets
    assert not {"bnb", "BNB", "avalanche"} & assets
    tracker = {i for i in ids if i.count(":") == 2}
    assert "aave-v3:ethereum:usdc" in tracker and "makerdao:ethereum:dai" in tracker
    assert not any(i.startswith(("aavev3:", "maker:")) for i in tracker)


def _csv_cap_and_price(name: str, day: date) -> tuple[float, float]:
    with (PRICES / "coingecko_daily" / f"{name}.csv").open() as f:
        for row in csv.DictReader(f):
            if row["date"][:10] == day.isoformat():
                return float(row["market_cap"]), float(row["price"])
    raise AssertionError(f"{name} has no row on {day}")


def _chart_price(name: str, day: date) -> float:
    with (PRICES / "coingecko_2023-08_2024-08" / f"{name}.csv").open() as f:
        for row in csv.DictReader(f):
            if datetime.fromtimestamp(float(row["column_0"]) / 1000, UTC).date() == day:
                return float(row["column_1"])
    raise AssertionError(f"{name} has no market_chart row on {day}")


def test_market_caps_point_in_time(real_loop: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = real_loop
    # a day of the daily export: its own market cap, exactly
    early = {a.id: a for a in load_assets(engine, as_of=date(2023, 6, 1))}
    cap, price = _csv_cap_and_price("bitcoin", date(2023, 6, 1))
    assert early["bitcoin"].market_cap_usd == pytest.approx(cap, rel=1e-12)
    assert early["bitcoin"].price_usd == pytest.approx(price, rel=1e-12)
    # the market_chart dump has prices only: the supply of the last published cap
    # (2023-08-28, kept although the dump overlaps it) at the day's price
    later = {a.id: a for a in load_assets(engine, as_of=DAY)}
    for name in ("bitcoin", "ethereum", "solana"):
        cap, price = _csv_cap_and_price(name, date(2023, 8, 28))
        expected = cap / price * _chart_price(name, DAY)
        assert later[name].market_cap_usd == pytest.approx(expected, rel=1e-9)
    # BNB's prices stop in 2023-08: nothing is known of it on the day
    assert later["binancecoin"].price_usd is None and later["binancecoin"].market_cap_usd is None
    with engine.connect() as conn:
        overlap = conn.execute(
            select(func.count()).where(
                schema.prices.c.asset_id == "bitcoin",
                schema.prices.c.date.between(date(2023, 8, 12), date(2023, 8, 28)),
                schema.prices.c.market_cap_usd.is_(None),
            )
        ).scalar_one()
    assert overlap == 0


def _history_row(pool: str, day: date) -> dict[str, str]:
    with gzip.open(YIELDS / "lending_markets_history.csv.gz", "rt") as f:
        for row in csv.DictReader(f):
            if row["pool"] == pool and row["date"] == day.isoformat():
                return row
    raise AssertionError(f"{pool} has no row on {day}")


def test_universe_as_of_shows_that_days_pools(real_loop: tuple[Engine, dict[str, Any]]) -> None:
    engine, _ = real_loop
    rows = _cli("universe", "--as-of", "2023-12-31", "--limit", "500")
    shown = rows if isinstance(rows, list) else rows.get("opportunities", rows.get("rows", []))
    assert len(shown) > 50
    usdc = "0x98c23e9d8f34fefb1b7bd6a91b7ff122f4e16f5c"  # Aave v3 USDC on Ethereum
    opps = {o.id: o for o in load_universe(engine, UniverseQuery(as_of=date(2023, 12, 31)))}
    row = _history_row(usdc, date(2023, 12, 31))
    assert opps[usdc].apy == pytest.approx(float(row["apy"]))
    assert opps[usdc].tvl_usd == pytest.approx(float(row["tvl_usd"]))
    assert opps[usdc].as_of.date() == date(2023, 12, 31)
    # no look-ahead: the tracker's series start in 2024
    assert "aave-v3:base:usdc" not in opps
    assert "aave-v3:base:usdc" in {o.id for o in load_universe(engine, UniverseQuery(as_of=DAY))}


def test_the_five_indices_and_a_plan_as_of_2024_08_01(
    real_loop: tuple[Engine, dict[str, Any]],
) -> None:
    engine, _ = real_loop
    built, _note = indices_at(engine, as_of=DAY)
    assert set(built) == {
        "balanced",
        "defi-yield",
        "growth",
        "large-cap-staking",
        "stablecoin-income",
    }
    for name, comp in sorted(built.items()):
        if not isinstance(comp, IndexComposition):
            print(f"{name}: NOT BUILT - {comp}")
            continue
        print(
            f"{name}: {comp.expected_apy:.2f}% expected (real {comp.expected_real_apy:.2f}%), "
            f"{len(comp.constituents)} holdings"
        )
        for c in sorted(comp.constituents, key=lambda c: -c.weight):
            print(f"    {c.weight:6.1%}  {c.apy:6.2f}%  {c.label}  ({c.id})")
        for note in comp.notes:
            print(f"    note: {note}")
    # Under the published caps three cannot be built from these files (checked, so
    # another failure does not pass unseen). Every stablecoin lending market with a TVL
    # is Aave's or Compound's on Ethereum (the tracker has no TVL): 2 protocol families
    # for a 25% protocol cap, 1 chain for a 50% chain cap. DeFi Yield has no vault with a
    # TVL (its 30% is re-spread over lending and liquidity, and says so), and its
    # candidates are all on Ethereum but one Polygon pool: 2 chains for a 40% chain cap.
    # Balanced holds DeFi Yield. No published rule relaxes a cap (methodology 3.10).
    stable = built["stablecoin-income"]
    assert isinstance(stable, Exception)
    assert (
        "the 25% protocol cap needs at least 4 protocols; "
        "the eligible candidates span 2 (aave, compound)" in str(stable)
    )
    assert (
        "the 50% chain cap needs at least 2 chains; the eligible candidates span 1 (Ethereum)"
        in str(stable)
    )
    for name in ("defi-yield", "balanced"):
        comp = built[name]
        assert isinstance(comp, Exception), name
        assert f"sleeve vaults empty on {DAY.isoformat()}: its 30% re-spread" in str(comp)
        assert (
            "the 40% chain cap needs at least 3 chains; "
            "the eligible candidates span 2 (Ethereum, Polygon)" in str(comp)
        )
    staking = built["large-cap-staking"]
    assert isinstance(staking, IndexComposition)
    assert len(staking.constituents) >= 5
    assert isinstance(built["growth"], IndexComposition)
    plan = _cli("plan", "--capital", "1000000", "--income", "50k/year", "--as-of", DAY.isoformat())
    print("plan:", json.dumps(plan.get("verdict", plan.get("level")), default=str)[:300])
    assert plan


def test_an_imported_lending_series_is_known_to_backtest(
    real_loop: tuple[Engine, dict[str, Any]], tmp_path: Path
) -> None:
    from realyield.backtest.engine import BacktestConfig
    from realyield.backtest.service import backtest_weights

    engine, _ = real_loop
    pool = "0x98c23e9d8f34fefb1b7bd6a91b7ff122f4e16f5c"  # Aave v3 USDC, Ethereum
    weights = tmp_path / "w.csv"
    weights.write_text(f"date,id,weight\n2023-03-01,{pool},1.0\n")
    start, end = date(2023, 3, 1), date(2023, 8, 1)
    result = backtest_weights(engine, weights, BacktestConfig(start=start, end=end))
    # the income is the file's supply rate accrued day by day (hand sum of apy/365)
    with gzip.open(YIELDS / "lending_markets_history.csv.gz", "rt") as f:
        rates = {
            r["date"]: float(r["apy"])
            for r in csv.DictReader(f)
            if r["pool"] == pool and start.isoformat() <= r["date"] < end.isoformat()
        }
    by_hand = sum(rates.values()) / 100 / 365 * ((end - start).days / len(rates))
    print(f"income {result.attribution}, by hand {by_hand:.4%} over {len(rates)} days with a rate")
    assert result.attribution["income_return"] == pytest.approx(by_hand, rel=0.05)


def test_large_cap_staking_replays_on_the_real_files(
    real_loop: tuple[Engine, dict[str, Any]],
) -> None:
    from realyield.backtest.service import backtest_index

    engine, _ = real_loop
    result = backtest_index(
        engine, "large-cap-staking", {"start": date(2022, 1, 1), "end": date(2023, 8, 1)}
    )
    print(f"large-cap-staking 2022-01..2023-08: {result.attribution}")
    assert result.attribution["rebalances"] >= 5
    # the routes come from the staking table (no rate history): the run says so
    assert any("native-staking:solana:sol" in n and "no APY history" in n for n in result.notes)
    held = set(result.final_weights)
    assert {"native-staking:ethereum:eth", "native-staking:solana:sol"} <= held
