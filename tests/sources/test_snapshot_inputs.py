"""The snapshot builder's input tables (tools/snapshot_data): dated, sourced, checked.

The byte-for-byte reproduction of the shipped snapshot from these tables is
``test_snapshot.py::test_histories_are_reproducible``.
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from realyield.reference import canonical_asset

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "tools" / "snapshot_data"


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_snapshot_inputs_under_test", REPO / "tools" / "build_snapshot.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _rows(name: str) -> list[dict[str, str]]:
    with (TABLES / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", sorted(p.name for p in TABLES.glob("*.csv")))
def test_every_row_has_a_source_and_a_date(name: str) -> None:
    rows = _rows(name)
    assert rows, name
    today = datetime.now(UTC).date()
    for number, row in enumerate(rows, start=2):
        assert row["source"].strip(), f"{name} row {number}"
        day = row.get("as_of") or row.get("date") or row.get("start")
        assert day and date.fromisoformat(day) <= today, f"{name} row {number}"


def test_tables_hold_what_the_literals_held(builder: ModuleType) -> None:
    """Counts and a few spot values, read independently of the builder's loader."""
    assert len(builder.ASSETS) == 68 and len(builder.OPPORTUNITIES) == 163
    assert len(builder.DELISTED) == 4 and len(builder.STAKING_EXTRA) == 20
    btc = next(a for a in builder.ASSETS if a.id == "bitcoin")
    assert (btc.price, btc.circulating, btc.start_price) == (107100.0, 19.89e6, 19300.0)
    assert btc.waypoints[0] == ("2022-11-21", 15800.0) and len(btc.waypoints) == 12
    usdc = next(o for o in builder.OPPORTUNITIES if o.id == "aave-v3:ethereum:usdc")
    assert (usdc.base, usdc.reward, usdc.tvl_usd, usdc.audits) == (4.12, 0.0, 1850e6, 6)
    ref = next(o for o in builder.OPPORTUNITIES if o.id == "ref-finance:near:near-usdc")
    assert ref.tvl_usd == 4.1 * 1e6  # millions times 1e6, bit for bit as before
    dsr = next(o for o in builder.OPPORTUNITIES if o.id == "makerdao:ethereum:dai-dsr")
    assert dsr.steps[:2] == (("2022-07-01", 0.01), ("2022-12-19", 1.0))
    radiant = next(o for o in builder.DELISTED if o.protocol == "radiant-v2")
    assert (radiant.delisted, radiant.death, radiant.tvl_before_usd) == (
        "2024-10-18",
        "exploit",
        40e6,
    )
    assert builder.STAKING_EXTRA["wrapped-eeth"]["rewards"] == ("ether-fi", "eigenlayer")
    assert builder.PEG_EVENTS["usd-coin"]["2023-03-12"] == 0.9656


def _copy_tables(tmp_path: Path) -> Path:
    target = tmp_path / "snapshot_data"
    shutil.copytree(TABLES, target)
    return target


def test_a_bad_value_names_file_row_and_column(
    builder: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _copy_tables(tmp_path)
    path = tables / "assets.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",2485,", ",24x85,", 1)  # ethereum's price
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(builder, "TABLES", tables)
    with pytest.raises(builder.TableError, match=r"assets\.csv row 3, column 'price'.*'24x85'"):
        builder.load_assets()


def test_a_row_without_source_is_refused(
    builder: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _copy_tables(tmp_path)
    with (tables / "rate_steps.csv").open("a", encoding="utf-8") as fh:
        fh.write("makerdao:ethereum:dai-dsr,2025-01-01,4,\n")  # no source
    monkeypatch.setattr(builder, "TABLES", tables)
    with pytest.raises(builder.TableError, match="needs its source"):
        builder.load_opportunities()


def test_a_step_for_an_unknown_pool_is_refused(
    builder: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _copy_tables(tmp_path)
    with (tables / "rate_steps.csv").open("a", encoding="utf-8") as fh:
        fh.write("nowhere:ethereum:usdc,2023-01-01,1,hand-entered\n")
    monkeypatch.setattr(builder, "TABLES", tables)
    with pytest.raises(builder.TableError, match="unknown pools"):
        builder.load_opportunities()


def _real_prices(shared_data: Path) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for path in sorted((shared_data / "prices").glob("*/*.csv")):
        asset = canonical_asset(path.stem)
        assert asset is not None, path
        frame = pl.read_csv(path)
        if "column_0" in frame.columns:
            days = pl.from_epoch(pl.col("column_0").cast(pl.Int64), time_unit="ms").dt.date()
            frame = frame.select(days.cast(pl.String).alias("d"), pl.col("column_1").alias("p"))
        else:
            frame = frame.select(
                pl.col("date").str.slice(0, 10).alias("d"), pl.col("price").alias("p")
            )
        for day, price in frame.iter_rows():
            out.setdefault((asset, day), price)
    return out


@pytest.mark.shared_data
def test_checked_column_matches_the_real_series(shared_data: Path) -> None:
    """Each ``checked`` note quotes the real 00:00 UTC price; no waypoint is off by a
    typo's margin (a factor of 2), though some are a day's low (SOL on 2022-11-09)."""
    real = _real_prices(shared_data)
    seen = 0
    for name in ("asset_waypoints.csv", "peg_events.csv"):
        for row in _rows(name):
            price = real.get((row["asset_id"], row["date"]))
            if price is None:
                assert row["checked"] == "", row
                continue
            seen += 1
            assert f"00:00 UTC: {price:.5g} " in row["checked"], row
            assert 0.5 < float(row["price"]) / price < 2.0, row
    assert seen == 69  # 54 waypoints and 15 peg events have a real price that day
