"""Cells the old importers crashed on or stored silently are rejected at their row and
column, and the other rows import (each input here was a traceback or a silent misread
before the importers read their cells through ``core.parsing``)."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import Engine

from realyield.core.errors import DataError
from realyield.exchange.history import AccountTrade, Fee, LedgerEntry
from realyield.portfolio import ledger, service
from realyield.portfolio.backup import restore
from realyield.portfolio.imports import cointracker, import_file
from realyield.portfolio.imports.base import RowEvent
from realyield.portfolio.imports.exchange import events_from_history

GENERIC = "time,kind,asset,amount,note\n"
GOOD = "2024-03-01T12:00:00Z,staking_reward,ETH,0.006,ok\n"


def generic_file(tmp_path: Path, *bad: str) -> Path:
    path = tmp_path / "generic.csv"
    path.write_text(GENERIC + GOOD + "".join(bad) + GOOD.replace("12:00", "13:00"))
    return path


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("0001-01-01T00:00:00+01:00,deposit,ETH,1,x\n", "time", "is outside"),
        ("9999-12-31T00:00:00Z,deposit,ETH,1,x\n", "time", "outside the plausible dates"),
        ("0001-01-01T00:00:00Z,deposit,ETH,1,x\n", "time", "outside the plausible dates"),
        ("99999999999999999999,deposit,ETH,1,x\n", "time", "not a plausible Unix timestamp"),
        ("2024-03-02T00:00:00Z,deposit,ETH,1E+999999,x\n", "amount", "outside the range"),
        ("2024-03-02T00:00:00Z,deposit,ETH,NaN,x\n", "amount", "not a finite number"),
        ('2024-03-02T00:00:00Z,deposit,ETH,"1,234.56",x\n', "amount", "thousands separator"),
        ('2024-03-02T00:00:00Z,deposit,ETH,"1.234,56",x\n', "amount", "--decimal-comma"),
        ("2024-03-02T00:00:00Z,deposit,ETH,1_000,x\n", "amount", "thousands separators"),
        ("2024-03-02T00:00:00Z,deposit,ETH,1,a\x00b\n", "note", "control character U+0000"),
        ("2024-03-02T00:00:00Z,deposit,E\x00TH,1,x\n", "asset", "control character U+0000"),
    ],
)
def test_a_bad_cell_rejects_its_row_only(
    db: Engine, tmp_path: Path, row: str, column: str, reason: str
) -> None:
    report = import_file(db, generic_file(tmp_path, row), "generic")
    assert (report.rows, report.inserted, report.rejected_count) == (3, 2, 1)
    [problem] = report.rejected
    assert (problem.row, problem.column) == (3, column)
    assert reason in problem.message
    assert "\x00" not in problem.message  # shown escaped, never raw


def test_decimal_comma_reads_european_numbers_only_when_asked(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "koinly-eu.csv"
    path.write_text(
        "Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Net Worth Amount,"
        "Net Worth Currency,Label\n"
        '2024-01-05 10:00 UTC,"4.500,00",USD,"2,5",ETH,"4.500,00",USD,\n'
        '2024-03-01 12:00 UTC,,,"0,006",ETH,"20,40",USD,reward\n'
    )
    refused = import_file(db, path, "koinly")
    assert (refused.status, refused.rejected_count) == ("failed", 2)
    assert [p.column for p in refused.rejected] == ["Sent Amount", "Received Amount"]
    read = import_file(db, path, "koinly", decimal_comma=True)
    assert (read.status, read.inserted) == ("ok", 2)
    trade, reward = service.list_events(db)
    assert (trade.amount, trade.counter_amount, trade.value) == (D("2.5"), D("4500.00"), D("4500"))
    assert (reward.amount, reward.value) == (D("0.006"), D("20.40"))


def rotki_file(tmp_path: Path, *stamps: str) -> Path:
    path = tmp_path / "rotki.csv"
    rows = [f"Staking,kraken,ETH,0.00{i + 1},,,reward {i},{s}\n" for i, s in enumerate(stamps)]
    path.write_text("Type,Location,Currency,Amount,Fee,Fee Currency,Description,Timestamp\n")
    with path.open("a") as fh:
        fh.writelines(rows)
    return path


def test_rotki_timestamps_in_seconds_or_milliseconds_and_out_of_range(
    db: Engine, tmp_path: Path
) -> None:
    path = rotki_file(
        tmp_path,
        "1709294400000",  # ms: 2024-03-01 12:00 UTC
        "1709298000",  # the same hour + 1 in seconds: read as 1970 before
        "99999999999999999999",  # overflowed datetime before
        "-1",
        "1e400",
    )
    report = import_file(db, path, "rotki")
    assert (report.inserted, report.rejected_count) == (2, 3)
    assert {(p.row, p.column) for p in report.rejected} == {
        (4, "Timestamp"),
        (5, "Timestamp"),
        (6, "Timestamp"),
    }
    times = [e.time for e in service.list_events(db)]
    assert times == [
        datetime(2024, 3, 1, 12, tzinfo=UTC),
        datetime(2024, 3, 1, 13, tzinfo=UTC),
    ]


def test_exchange_items_out_of_range_are_rejected_alone() -> None:
    ok = AccountTrade(
        "t1", 1709294400000, "ETH/USD", "buy", "ETH", "USD", D("1"), D("3400"), Fee(D("1"), "USD")
    )
    bad_time = AccountTrade("t2", 10**20, "ETH/USD", "buy", "ETH", "USD", D("1"), D("3400"), None)
    in_seconds = AccountTrade(
        "t3", 1709294400, "ETH/USD", "buy", "ETH", "USD", D("1"), D("3400"), None
    )
    huge = LedgerEntry(
        "l1", 1709294400000, "in", "transaction", "staking", "ETH", D("1E+999999"), None, None
    )
    skipped: Counter[str] = Counter()
    items = list(
        events_from_history(
            [ok, bad_time, in_seconds],
            [huge],
            source="ccxt:kraken",
            account="kraken",
            fiat="USD",
            skipped=skipped,
        )
    )
    good = [i for i in items if isinstance(i, RowEvent)]
    problems = sorted((p.row, p.message) for p in items if not isinstance(p, RowEvent))
    assert [g.event.key for g in good] == ["trade:t1"]
    assert [row for row, _ in problems] == [2, 3, 4]
    assert "trade t2: column 'timestamp'" in problems[0][1]
    assert "not a plausible Unix timestamp in unit 'ms'" in problems[1][1]
    assert "ledger entry l1: column 'amount'" in problems[2][1]


def test_restore_of_deeply_nested_json_is_a_clear_error(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "nested.jsonl.gz"
    header = {"format": "realyield-ledger-backup", "version": 1, "schema_version": 1}
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(header) + "\n")
        fh.write("[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(DataError, match="JSON nested too deeply"):
        restore(db, path)
    assert ledger.event_count(db) == 0


def test_vendor_date_layouts_are_bounded_and_named_as_written(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "cointracker.csv"
    path.write_text(
        ",".join(cointracker.COLUMNS)
        + "\n03/01/2024 12:00:00,0.006,ETH,,,,,staking\n"
        + "12/31/9999 00:00:00,0.006,ETH,,,,,staking\n"
        + "01/01/0001 00:00:00,0.006,ETH,,,,,staking\n"
    )
    report = import_file(db, path, "cointracker")
    assert (report.inserted, report.rejected_count) == (1, 2)
    assert [p.message.split(" is ")[0] for p in report.rejected] == [
        "'12/31/9999 00:00:00'",
        "'01/01/0001 00:00:00'",
    ]
    assert all(p.column == "Date" and "plausible dates" in p.message for p in report.rejected)
