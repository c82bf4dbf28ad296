"""One bad ledger row never blocks the others: it is rejected alone with its row,
column and reason, the rest imports, and a re-run completes idempotently (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy import exc as sa_exc

from realyield.core.errors import StoreError
from realyield.core.model import PricePoint
from realyield.portfolio import ledger, service
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.imports import import_file
from realyield.portfolio.imports.base import ImportReport, Problem, RowEvent
from realyield.portfolio.imports.writer import write_events
from realyield.portfolio.pricing import AssetIds, PriceBook
from realyield.store import records
from realyield.store.ledger_tables import ledger_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ledger"


def eth_price(engine: Engine) -> None:
    with engine.begin() as conn:
        records.save_prices(conn, "coingecko", [PricePoint("ethereum", date(2024, 1, 1), 2250.0)])


def koinly_28_plus_1(path: Path) -> int:
    """The Koinly fixture's 7 good rows, 21 more rewards, and one reward of
    ``1E+999999`` ETH in the middle; returns the bad row's number."""
    lines = (FIXTURES / "koinly_universal.csv").read_text().splitlines()
    header, good = lines[0], [x for x in lines[1:] if "broken row" not in x]
    assert len(good) == 7
    start = datetime(2024, 8, 1, 9, 0, tzinfo=UTC)
    for i in range(21):
        stamp = (start + timedelta(days=i)).strftime("%Y-%m-%d %H:%M UTC")
        good.append(f"{stamp},,,0.00{i + 1},ETH,,,,,reward,Lido reward {i},")
    bad = "2024-09-15 12:00 UTC,,,1E+999999,ETH,,,,,reward,an absurd amount,"
    rows = [header, *good[:14], bad, *good[14:]]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return 16  # header = row 1, then 14 good rows


def keys(engine: Engine) -> list[tuple[str, str, str]]:
    c = ledger_events.c
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(c.source, c.account, c.key)))


def test_28_good_rows_and_one_absurd_amount(db: Engine, tmp_path: Path) -> None:
    eth_price(db)  # so the absurd amount is valued: the old code overflowed here
    path = tmp_path / "koinly.csv"
    bad_row = koinly_28_plus_1(path)
    report = import_file(db, path, "koinly", batch_size=5)
    assert (report.rows, report.inserted, report.duplicates, report.rejected_count) == (
        29,
        28,
        0,
        1,
    )
    assert report.status == "partial"
    [problem] = report.rejected
    assert (problem.row, problem.column) == (bad_row, "Received Amount")
    assert problem.message.startswith("'1E+999999' is outside the range an amount can have")
    assert problem.describe("koinly.csv").startswith(
        f"koinly.csv row {bad_row}, column 'Received Amount': '1E+999999'"
    )
    stored = keys(db)
    assert len(stored) == 28 == ledger.event_count(db)
    assert max(e.amount for e in service.list_events(db)) == D("3020.5")

    again = import_file(db, path, "koinly", batch_size=5)
    assert (again.rows, again.inserted, again.duplicates, again.rejected_count) == (29, 0, 28, 1)
    assert again.rejected == [problem]  # reported again, the same way
    assert keys(db) == stored
    runs = ledger.import_runs(db)
    assert [
        (r["status"], r["rows_read"], r["inserted"], r["duplicates"], r["rejected"]) for r in runs
    ] == [
        ("partial", 29, 28, 0, 1),
        ("partial", 29, 0, 28, 1),
    ]
    assert f"row {bad_row}" in runs[0]["message"]


def event(i: int, amount: D) -> LedgerEvent:
    return LedgerEvent(
        kind="staking_reward",
        time=datetime(2024, 2, 1, tzinfo=UTC) + timedelta(hours=i),
        asset="ETH",
        amount=amount,
        key=f"k{i}",
    )


def test_a_row_that_cannot_be_valued_is_rejected_alone(db: Engine) -> None:
    # An amount every parser would accept as a Decimal, whose value overflows.
    rows: list[RowEvent | Problem] = [RowEvent(i + 2, event(i, D("0.5"))) for i in range(9)]
    rows.insert(4, RowEvent(99, event(99, D("1E+999999"))))
    rows.append(Problem(50, "unreadable", "amount"))
    report = ImportReport(format="test", origin="mem")
    book = PriceBook({"ethereum": [(date(2024, 1, 1), D("2250"), "coingecko")]})
    write_events(
        db,
        rows,
        report,
        source="manual",
        account="default",
        digest=None,
        book=book,
        ids=AssetIds(),
        batch_size=3,
    )
    assert (report.rows, report.inserted, report.rejected_count) == (11, 9, 2)
    assert sorted(p.row for p in report.rejected) == [50, 99]
    overflow = next(p for p in report.rejected if p.row == 99)
    assert "cannot be valued" in overflow.message and "Overflow" in overflow.message
    assert all(e.value == D("1125.0") for e in service.list_events(db))
    [run] = ledger.import_runs(db)
    assert (run["status"], run["rows_read"], run["inserted"], run["rejected"]) == (
        "partial",
        11,
        9,
        2,
    )


def test_a_csv_field_over_the_reader_limit_is_one_rejected_row(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "big-field.csv"
    lines = ["time,kind,asset,amount,note"]
    lines += [f"2024-01-0{i}T00:00:00Z,deposit,USD,{i},ok" for i in range(1, 4)]
    lines.insert(2, "2024-01-09T00:00:00Z,deposit,USD,9," + "x" * 131_073)
    path.write_text("\n".join(lines) + "\n")
    report = import_file(db, path, "generic")
    assert (report.inserted, report.rejected_count) == (3, 1)
    assert report.rejected[0].row == 3
    assert "field larger than field limit" in report.rejected[0].message


def test_every_row_rejected_is_a_failed_run(db: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,kind,asset,amount\nyesterday,deposit,USD,1\n2024-01-01,deposit,USD,\n")
    report = import_file(db, path, "generic")
    assert (report.status, report.rows, report.rejected_count) == ("failed", 2, 2)
    [run] = ledger.import_runs(db)
    assert run["status"] == "failed" and "row 2" in run["message"]
    empty = tmp_path / "empty.csv"
    empty.write_text("time,kind,asset,amount\n")
    assert import_file(db, empty, "generic").status == "failed"
    assert ledger.import_runs(db)[-1]["message"] == "the file has no rows"


def test_dry_run_reports_and_writes_nothing(db: Engine, tmp_path: Path) -> None:
    eth_price(db)
    path = tmp_path / "koinly.csv"
    koinly_28_plus_1(path)
    dry = import_file(db, path, "koinly", dry_run=True, batch_size=4)
    assert (dry.dry_run, dry.inserted, dry.duplicates, dry.rejected_count) == (True, 28, 0, 1)
    assert ledger.event_count(db) == 0 and ledger.import_runs(db) == []
    import_file(db, path, "koinly")
    again = import_file(db, path, "koinly", dry_run=True)
    assert (again.inserted, again.duplicates, again.rejected_count) == (0, 28, 1)


def test_a_row_the_database_refuses_is_rejected_alone(pg_schema_url: str) -> None:
    # PostgreSQL refuses NUL in text; the parsers never let one through, so this event
    # is built by hand to exercise the writer's last line of defence.
    from realyield.store.engine import open_store

    engine = open_store(url=pg_schema_url)
    try:
        rows: list[RowEvent | Problem] = [RowEvent(i + 2, event(i, D("1"))) for i in range(6)]
        refused = event(50, D("2")).with_value(note="a\x00b")
        rows.insert(3, RowEvent(5, refused))
        report = ImportReport(format="test", origin="mem")
        write_events(
            engine,
            rows,
            report,
            source="manual",
            account="default",
            digest=None,
            book=PriceBook({}),
            ids=AssetIds(),
            batch_size=4,
        )
        assert (report.rows, report.inserted, report.rejected_count) == (7, 6, 1)
        [problem] = report.rejected
        assert problem.row == 5 and "the database refused this event" in problem.message
        [run] = ledger.import_runs(engine)
        assert (run["status"], run["rows_read"], run["inserted"], run["rejected"]) == (
            "partial",
            7,
            6,
            1,
        )
    finally:
        engine.dispose()


def test_a_database_failure_is_a_store_error_and_the_run_says_failed(
    db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "koinly.csv"
    koinly_28_plus_1(path)
    real = ledger.insert_events
    calls = Counter[str]()

    def failing(conn: Any, events: Any, **kw: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise sa_exc.OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real(conn, events, **kw)

    monkeypatch.setattr(ledger, "insert_events", failing)
    with pytest.raises(StoreError, match=r"database failed .* at row 1\d.*disk I/O error"):
        import_file(db, path, "koinly", batch_size=5)
    monkeypatch.setattr(ledger, "insert_events", real)
    assert ledger.event_count(db) == 10  # the two batches before it
    [run] = ledger.import_runs(db)
    assert (run["status"], run["inserted"]) == ("failed", 10)
    assert "OperationalError" in run["message"]
    again = import_file(db, path, "koinly", batch_size=5)
    assert (again.inserted, again.duplicates, again.rejected_count) == (18, 10, 1)


def test_a_value_from_stored_prices_beyond_plausible_is_rejected(
    db: Engine, tmp_path: Path
) -> None:
    # 1e20 ETH is a plausible amount and 1e8 USD a plausible price, but 1e28 USD is no
    # event's value (and would overflow the 28 digits reports round money to).
    with db.begin() as conn:
        records.save_prices(conn, "coingecko", [PricePoint("ethereum", date(2024, 1, 1), 1e8)])
    path = tmp_path / "g.csv"
    path.write_text(
        "time,kind,asset,amount\n"
        "2024-02-01T00:00:00Z,staking_reward,ETH,1E+20\n"
        "2024-02-02T00:00:00Z,staking_reward,ETH,0.5\n"
    )
    report = import_file(db, path, "generic")
    assert (report.inserted, report.rejected_count) == (1, 1)
    [problem] = report.rejected
    assert problem.row == 2 and "value from stored prices, 1.000e+28 USD" in problem.message
    assert service.income(db, 2024).total == D("50000000")
