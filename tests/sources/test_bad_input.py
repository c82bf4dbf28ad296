"""Malformed files: each input that used to escape as a traceback (or was silently
misread) now gives a clear error, or rejects its own row and lets the rest import.

Every test here calls only the importers' long-standing signatures, so each fails on the
code before ``core.parsing`` (checked on a worktree of that commit: RecursionError,
csv.Error, OSError/OverflowError, ValueError, or a misread value).
"""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from realyield.core.errors import DataError
from realyield.sources import files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_deeply_nested_json_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)  # RecursionError before
    with pytest.raises(DataError, match="nested too deeply") as info:
        files.import_pools(path)
    assert str(path) in str(info.value)


def test_deeply_nested_predictions_cell_rejects_its_row(tmp_path: Path) -> None:
    deep = "[" * 5000 + "]" * 5000
    path = write(tmp_path, "p.csv", f'pool,apy,predictions\na,1,"{deep}"\nb,2,\n')
    opps, report = files.import_pools(path)  # RecursionError before
    assert [o.id for o in opps] == ["b"] and report.rejected == {"bad_structure": 1}


def test_a_json_integer_of_5000_digits_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path, "big.json", '[{"pool": "a", "apy": ' + "9" * 5000 + "}]")
    with pytest.raises(DataError, match="thousands of digits"):  # ValueError before
        files.import_pools(path)


@pytest.mark.parametrize("kind", ["pools", "prices", "history"])
def test_a_csv_field_over_131072_characters_rejects_only_its_row(tmp_path: Path, kind: str) -> None:
    huge = "9" * 140_000  # csv.Error "field larger than field limit" before
    text = {
        "pools": f"pool,apy\na,1\nb,{huge}\nc,2\n",
        "prices": f"date,price\n2024-01-01,1\n2024-01-02,{huge}\n2024-01-03,2\n",
        "history": f"date,pool,apy\n2024-01-01,p,1\n2024-01-02,p,{huge}\n2024-01-03,p,2\n",
    }[kind]
    path = write(tmp_path, "x.csv", text)
    reader = {
        "pools": files.import_pools,
        "prices": lambda p: files.import_prices(p, asset_id="bitcoin"),
        "history": files.import_apy_history,
    }[kind]
    _result, report = reader(path)  # type: ignore[operator]
    assert report.accepted == 2 and report.rejected_total == 1
    problem = report.problems[0]
    assert problem.where == "row 3" and len(problem.detail) < 300  # the value is cut


@pytest.mark.parametrize(
    "stamp",
    ["99999999999999999999", "-99999999999999", "1e20", "0"],
)
def test_epoch_timestamps_out_of_range_reject_their_row(tmp_path: Path, stamp: str) -> None:
    path = write(
        tmp_path,
        "eth.csv",
        f"column_0,column_1,ticker\n1704067200000,2281.47,ethereum\n{stamp},1,ethereum\n",
    )
    points, report = files.import_prices(path)  # OSError/OverflowError before
    assert [p.date for p in points] == [date(2024, 1, 1)]
    assert report.rejected == {"date_out_of_range": 1}


@pytest.mark.parametrize("kind", ["prices", "history", "pools-json"])
def test_year_one_with_an_offset_rejects_its_row(tmp_path: Path, kind: str) -> None:
    bad = "0001-01-01T00:00:00+01:00"  # OverflowError in astimezone before
    if kind == "prices":
        path = write(tmp_path, "p.csv", f"date,price\n2024-01-01,1\n{bad},2\n")
        report = files.import_prices(path, asset_id="x")[1]
    elif kind == "history":
        path = write(tmp_path, "h.csv", f"date,pool,apy\n2024-01-01,p,1\n{bad},p,2\n")
        report = files.import_apy_history(path)[1]
    else:
        pools = [{"pool": "a", "apy": 1, "timestamp": bad}, {"pool": "b", "apy": 2}]
        path = write(tmp_path, "p.json", json.dumps(pools))
        report = files.import_pools(path)[1]
    assert report.accepted == 1 and report.rejected == {"date_out_of_range": 1}
    assert "plausible dates" in report.problems[0].detail


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02\x03" * 100, "binary file"),
        ("date,price\n2024-01-01,1\n".encode("utf-16-le"), "UTF-16"),  # no BOM
        ("chain,apy,pool\nEthéreum,1,a\n".encode("cp1252"), "not UTF-8"),
        (b"", "empty"),
        (gzip.compress(b""), "empty"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage", "gzip"),
    ],
)
def test_binary_empty_and_wrong_encodings_are_one_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    for reader in (files.import_pools, files.import_prices, files.import_apy_history):
        with pytest.raises(DataError, match=message) as info:
            reader(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_european_numbers_are_refused_with_row_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "pools_2023-07-26.csv",
        'chain,project,symbol,apy,pool\nEthereum,aave-v3,USDC,"1.234,56",a\n'
        'Ethereum,aave-v3,DAI,"1,234.5",b\nEthereum,aave-v3,GHO,1_000,c\n'
        "Ethereum,aave-v3,USDT,4.2,d\n",
    )
    opps, report = files.import_pools(path)  # 1.23456, 1234.5 and 1000 stored before
    assert [(o.id, o.apy) for o in opps] == [("d", 4.2)]
    assert report.rejected == {"decimal_comma": 1, "thousands_separator": 2}
    first = report.problems[0]
    assert first.where == "row 2"
    assert "column 'apy': '1.234,56'" in first.detail and "--decimal-comma" in first.detail


@pytest.mark.parametrize(
    ("apy", "tvl", "reason"),
    [("1e300", "1", "implausible_apy"), ("1", "1e300", "implausible_tvl")],
)
def test_implausible_values_reject_the_row(tmp_path: Path, apy: str, tvl: str, reason: str) -> None:
    path = write(tmp_path, "p.csv", f"pool,apy,tvlUsd\na,{apy},{tvl}\nb,1,1\n")
    opps, report = files.import_pools(path)  # stored silently before
    assert [o.id for o in opps] == ["b"] and report.rejected == {reason: 1}


@pytest.mark.parametrize("price", ["1e300", "1e-300"])
def test_implausible_prices_reject_the_row(tmp_path: Path, price: str) -> None:
    path = write(tmp_path, "p.csv", f"date,price\n2024-01-01,{price}\n2024-01-02,5\n")
    points, report = files.import_prices(path, asset_id="x")
    assert [p.price_usd for p in points] == [5.0]
    assert report.rejected == {"implausible_price": 1}


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1970-01-01"])
def test_dates_outside_the_plausible_range_reject_the_row(tmp_path: Path, day: str) -> None:
    path = write(tmp_path, "h.csv", f"date,pool,apy\n{day},p,1\n2024-01-01,p,2\n")
    history, report = files.import_apy_history(path)  # stored silently before
    assert [p.date for p in history.points] == [date(2024, 1, 1)]
    assert report.rejected == {"date_out_of_range": 1}


def test_nul_and_escape_characters_in_names_reject_the_row(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "pool,project,symbol,apy\na,aave\x00v3,USDC,1\nb,aave-v3,\x1b[31mUSDT,1\nc,aave-v3,DAI,1\n",
    )
    opps, report = files.import_pools(path)  # NUL stored in the name before
    assert [o.id for o in opps] == ["c"] and report.rejected == {"control_character": 2}
    assert all("\x00" not in p.detail and "\x1b" not in p.detail for p in report.problems)


def test_a_file_whose_every_row_is_bad_reports_every_row(tmp_path: Path) -> None:
    path = write(tmp_path, "p.csv", "pool,apy\na,x\nb,1e400\nc,\u0661\n")
    opps, report = files.import_pools(path)
    assert opps == [] and report.rows_seen == 3 and report.rejected_total == 3


@pytest.mark.parametrize(
    ("apy", "tvl", "reason"),
    [("1e300", "1", "implausible_apy"), ("1", "1e300", "implausible_tvl")],
)
def test_implausible_history_values_reject_the_row(
    tmp_path: Path, apy: str, tvl: str, reason: str
) -> None:
    path = write(
        tmp_path, "h.csv", f"date,pool,apy,tvl_usd\n2024-01-01,p,{apy},{tvl}\n2024-01-02,p,1,1\n"
    )
    history, report = files.import_apy_history(path)  # stored silently before
    assert [p.date for p in history.points] == [date(2024, 1, 2)]
    assert report.rejected == {reason: 1}


def test_a_control_character_in_a_note_drops_the_note_not_the_pool(tmp_path: Path) -> None:
    pools = [{"pool": "a", "apy": 1, "symbol": "USDC", "poolMeta": "v2\x00\nold", "url": "x"}]
    path = write(tmp_path, "p.json", json.dumps(pools))
    (opp,), report = files.import_pools(path)
    assert "pool_meta" not in opp.meta and opp.meta["url"] == "x"
    assert report.repaired == {"control_character_poolMeta_dropped": 1}
