"""The ledger on a real store, SQLite and PostgreSQL alike: imports with fair-market values
from stored prices, idempotency, reversals, gains and income, exports, backup/restore."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from realyield.core.errors import DataError
from realyield.core.model import PricePoint
from realyield.portfolio import ledger, service
from realyield.portfolio.backup import backup, restore
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.imports import import_file
from realyield.store import records
from realyield.store.engine import open_store
from realyield.store.ledger_tables import ledger_events

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ledger"

PRICES = {
    "ethereum": {
        date(2024, 1, 5): 2250.0,
        date(2024, 3, 1): 3400.0,
        date(2024, 5, 20): 3050.0,
        date(2024, 6, 10): 3600.0,
    },
    "usd-coin": {date(2024, 3, 10): 1.0001, date(2024, 5, 20): 0.9998, date(2024, 6, 1): 1.0},
}


def store_prices(engine: Engine) -> None:
    with engine.begin() as conn:
        for asset_id, days in PRICES.items():
            records.save_prices(
                conn, "coingecko", [PricePoint(asset_id, d, p) for d, p in days.items()]
            )


def test_generic_import_values_from_stored_prices_and_is_idempotent(db: Engine) -> None:
    store_prices(db)
    report = import_file(db, FIXTURES / "generic.csv", "generic")
    assert (report.rows, report.inserted, report.duplicates, len(report.rejected)) == (6, 6, 0, 0)
    assert report.old_prices == 1  # the gas fee of Jun 15 uses the Jun 10 price
    events = {e.kind + ":" + e.asset: e for e in service.list_events(db)}
    reward = events["staking_reward:ETH"]
    assert reward.value == D("0.006") * D("3400") == D("20.4")
    assert (reward.price_date, reward.price_age_s) == (date(2024, 3, 1), 12 * 3600)
    assert reward.asset_id == "ethereum" and reward.opportunity == "lido-steth"
    assert reward.price_source == "stored:coingecko" and reward.warning is None
    assert events["trade:ETH"].value == D("4500") and events["trade:ETH"].price_source == "fiat"
    swap = events["trade:USDC"]
    assert swap.value == D("3020.5") * D("0.9998") and swap.fee_value == D("0.002") * D("3050")
    gas = events["gas_fee:ETH"]
    assert gas.value == D("3.6") and gas.price_date == date(2024, 6, 10)
    assert gas.warning is not None and "5.5 days old (limit 3.0 days)" in gas.warning
    assert isinstance(swap.amount, D) and swap.amount == D("3020.5")

    again = import_file(db, FIXTURES / "generic.csv", "generic")
    assert (again.inserted, again.duplicates) == (0, 6)
    assert ledger.event_count(db) == 6
    runs = ledger.import_runs(db)
    assert [(r["status"], r["inserted"], r["duplicates"]) for r in runs] == [
        ("done", 6, 0),
        ("done", 0, 6),
    ]


def test_gains_and_income_from_the_store_match_the_hand_computation(db: Engine) -> None:
    store_prices(db)
    import_file(db, FIXTURES / "generic.csv", "generic")
    gains = service.gains(db, 2024, "fifo")
    # ETH lot: 2 ETH for 4,500 + 4.50 fee = 4,504.50 (2,252.25 each); reward lot 0.006 @ 20.4
    # May 20: 1 ETH -> 3,019.8959 USDC (0.9998/USDC): basis 2,252.25, gain 767.6459
    #         fee 0.002 ETH worth 6.10: basis 4.5045, gain 1.5955
    # Jun 15: gas 0.001 ETH worth 3.60: basis 2.25225, gain 1.34775
    got = [(d.kind, d.quantity, d.proceeds, d.basis) for d in gains.disposals]
    assert got == [
        ("trade", D("1"), D("3019.8959"), D("2252.25")),
        ("fee", D("0.002"), D("6.1"), D("4.5045")),
        ("fee", D("0.001"), D("3.6"), D("2.25225")),
    ]
    assert gains.gain == D("770.58915")
    income = service.income(db, 2024)
    assert income.total == D("20.4") + D("12.50125")
    assert income.fee_expenses == D("3.6")
    summary = service.ledger_summary(db, 2024).as_dict()
    # Plain JSON all the way down (what an API route returns), Decimals as exact text.
    assert json.loads(json.dumps(summary)) == summary
    assert json.loads(json.dumps(gains.as_dict()))["gain"] == "770.58915"
    eth = next(h for h in summary["holdings"] if h["asset"] == "ETH")
    assert eth["quantity"] == "1.003"  # 2 + 0.006 - 1 - 0.002 - 0.001
    assert D(eth["cost"]) == D("4504.5") + D("20.4") - D("2252.25") - D("4.5045") - D("2.25225")
    usdc = next(h for h in summary["holdings"] if h["asset"] == "USDC")
    assert D(usdc["cost"]) == D("3019.8959") + D("6.1") + D("12.50125")


def test_method_choice_is_stored_per_year(db: Engine) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    events = [
        LedgerEvent(
            "trade",
            base.replace(month=m),
            "BTC",
            D(1),
            f"b{m}",
            counter_asset="USD",
            counter_amount=D(c),
            value=D(c),
        )
        for m, c in ((1, 10000), (2, 30000), (3, 20000))
    ]
    events.append(
        LedgerEvent(
            "trade",
            base.replace(month=4),
            "USD",
            D(45000),
            "s1",
            counter_asset="BTC",
            counter_amount=D("1.5"),
            value=D(45000),
        )
    )
    assert ledger.add_events(db, events).inserted == 4
    assert service.gains(db, 2024).gain == D(20000)  # FIFO by default
    ledger.set_method(db, 2024, "HIFO")
    assert ledger.chosen_methods(db) == {2024: "hifo"}
    assert service.gains(db, 2024).gain == D(5000)
    assert service.gains(db, 2024, "acb").gain == D(15000)  # an override wins
    with pytest.raises(DataError, match="unknown cost-basis method"):
        ledger.set_method(db, 2024, "avg")


def test_corrections_are_reversing_events_and_rows_are_never_changed(db: Engine) -> None:
    store_prices(db)
    import_file(db, FIXTURES / "generic.csv", "generic")
    gas = service.list_events(db, kinds=["gas_fee"])[0]
    assert gas.seq is not None
    with db.connect() as conn:
        before = [tuple(r) for r in conn.execute(select(ledger_events).order_by("seq"))]
    reversal = ledger.reverse_event(db, gas.seq, note="duplicate of a wallet import")
    assert reversal.reverses == gas.seq and reversal.amount == gas.amount
    assert ledger.reverse_event(db, gas.seq).seq == reversal.seq  # idempotent
    with pytest.raises(DataError, match="is a reversal"):
        assert reversal.seq is not None
        ledger.reverse_event(db, reversal.seq)
    with db.connect() as conn:
        after = [tuple(r) for r in conn.execute(select(ledger_events).order_by("seq"))]
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert ledger.event_count(db, active_only=True) == 5
    assert [d.kind for d in service.gains(db, 2024).disposals] == ["trade", "fee"]
    assert len(service.list_events(db, include_reversed=True)) == 7


def test_koinly_cointracker_and_rotki_files_import(db: Engine) -> None:
    store_prices(db)
    koinly = import_file(db, FIXTURES / "koinly_universal.csv", "koinly")
    assert (koinly.rows, koinly.inserted) == (8, 7)
    assert [(p.row, p.column) for p in koinly.rejected] == [(9, "Sent Amount")]
    assert (koinly.status, koinly.rejected_count) == ("partial", 1)
    kinds = sorted(e.kind for e in service.list_events(db) if e.source == "koinly")
    assert kinds == sorted(
        ["trade", "staking_reward", "lending_interest", "airdrop", "trade", "income", "gas_fee"]
    )
    airdrop = service.list_events(db, kinds=["airdrop"])[0]
    assert airdrop.value == D("180.75") and airdrop.price_source == "given"

    ct = import_file(db, FIXTURES / "cointracker.csv", "cointracker", account="ct")
    assert (ct.inserted, len(ct.rejected)) == (6, 0)
    ct_events = [e for e in service.list_events(db) if e.source == "cointracker"]
    assert [e.kind for e in ct_events] == [
        "trade",
        "staking_reward",
        "lending_interest",
        "trade",
        "income",
        "stake",
    ]
    assert ct_events[1].value == D("20.4")  # valued from the stored ETH price

    rotki = import_file(db, FIXTURES / "rotki_generic_events.csv", "rotki")
    assert (rotki.inserted, [p.row for p in rotki.rejected]) == (5, [7])
    rk = [e for e in service.list_events(db) if e.source == "rotki"]
    assert [(e.kind, e.asset, e.account) for e in rk] == [
        ("deposit", "ETH", "kraken"),
        ("staking_reward", "ETH", "kraken"),
        ("income", "USDC", "external"),
        ("withdrawal", "ETH", "kraken"),
        ("withdrawal", "ETH", "external"),
    ]
    assert rk[2].value == D("12.5") * D("1.0001")
    assert rk[3].fee_amount == D("0.0035") and rk[4].note == "rotki Spend: Paid for a domain"
    for path, fmt in (
        (FIXTURES / "koinly_universal.csv", "koinly"),
        (FIXTURES / "rotki_generic_events.csv", "rotki"),
    ):
        assert import_file(db, path, fmt).inserted == 0


def test_exports_round_trip_and_carry_the_labels(db: Engine, tmp_path: Path) -> None:
    store_prices(db)
    import_file(db, FIXTURES / "koinly_universal.csv", "koinly")
    generic_text = service.export(db, "generic")
    out = tmp_path / "ledger.csv"
    out.write_text(generic_text)
    assert import_file(db, out, "generic").duplicates == 7  # same sources and keys
    koinly_text = service.export(db, "koinly", year=2024)
    header, *rows = koinly_text.splitlines()
    assert header == (
        "Date,Sent Amount,Sent Currency,Received Amount,Received Currency,Fee Amount,"
        "Fee Currency,Net Worth Amount,Net Worth Currency,Label,Description,TxHash"
    )
    labels = [r.split(",")[9] for r in rows]
    assert {"Reward", "Lending interest", "Income", "Airdrop", "Cost"} <= set(labels)
    reimport = tmp_path / "k.csv"
    reimport.write_text(koinly_text)
    other = open_store(url=f"sqlite:///{tmp_path / 'other.db'}")
    store_prices(other)
    assert import_file(other, reimport, "koinly").inserted == 7
    assert service.income(other, 2024).total == service.income(db, 2024).total
    other.dispose()
    ct = service.export(db, "cointracker").splitlines()
    assert ct[0] == (
        "Date,Received Quantity,Received Currency,Sent Quantity,Sent Currency,Fee Amount,"
        "Fee Currency,Tag"
    )
    assert "03/01/2024 12:00:00,0.006,ETH,,,,,staking" in ct
    form = service.export(db, "8949", year=2024).splitlines()
    assert form[0].startswith("Part,Description of property,Date acquired")
    assert form[1].startswith("I,1 ETH,01/05/2024,05/20/2024,")
    income_csv = service.export(db, "income", year=2024)
    assert "2024,airdrop,1,180.75,0,USD" in income_csv
    page = service.export(db, "html", year=2024)
    assert "<h1>Tax summary 2024</h1>" in page and "staking reward" in page


def test_backup_and_restore_are_exact_and_verified(db: Engine, tmp_path: Path) -> None:
    store_prices(db)
    import_file(db, FIXTURES / "generic.csv", "generic")
    ledger.set_method(db, 2024, "lifo")
    before = [e.as_dict() for e in service.list_events(db, include_reversed=True)]
    result = backup(db, tmp_path / "b.jsonl.gz")
    assert result.counts == {"ledger_imports": 1, "ledger_events": 6, "ledger_methods": 1}
    with pytest.raises(DataError, match="already has 6 events"):
        restore(db, result.path)
    restore(db, result.path, replace=True, backup_dir=tmp_path / "safety")
    assert len(list((tmp_path / "safety").glob("ledger-before-restore-*.jsonl.gz"))) == 1
    assert [e.as_dict() for e in service.list_events(db, include_reversed=True)] == before
    fresh = open_store(url=f"sqlite:///{tmp_path / 'fresh.db'}")
    restore(fresh, result.path)
    assert [e.as_dict() for e in service.list_events(fresh)] == before
    assert ledger.chosen_methods(fresh) == {2024: "lifo"}
    # New events still get new sequence numbers after a restore.
    extra = LedgerEvent("deposit", datetime(2024, 7, 1, tzinfo=UTC), "ETH", D(1), "x", value=D(1))
    assert ledger.add_events(db, [extra]).inserted == 1
    fresh.dispose()
    raw = gzip.decompress(result.path.read_bytes()).decode().splitlines()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress("\n".join(raw[:-1]).encode()))
    with pytest.raises(DataError, match="truncated"):
        restore(db, cut, replace=True)
    raw[2] = raw[2].replace('"amount": "2"', '"amount": "20"')
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(gzip.compress("\n".join(raw).encode()))
    with pytest.raises(DataError, match="checksum"):
        restore(db, bad, replace=True)


def test_bad_rows_are_reported_by_row_and_good_rows_still_import(
    db: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text(
        "time,kind,asset,amount,value,fiat\n"
        "2024-01-01T00:00:00Z,deposit,ETH,1,2000,USD\n"
        "2024-01-02T00:00:00Z,deposit,ETH,1,1800,EUR\n"
        "2024-01-03T00:00:00Z,farming,ETH,1,2000,\n"
        "2024-01-04T00:00:00Z,deposit,ETH,-1,2000,\n"
        "yesterday,deposit,ETH,1,2000,\n"
    )
    report = import_file(db, path, "generic")
    assert report.inserted == 1
    problems = {p.row: p.message for p in report.rejected}
    assert sorted(problems) == [3, 4, 5, 6]
    assert "fiat EUR differs" in problems[3] and "unknown kind" in problems[4]
    assert "negative" in problems[5] and "not a date" in problems[6]
    with pytest.raises(DataError, match="missing column"):
        bad = tmp_path / "bad.csv"
        bad.write_text("date,amount\n2024-01-01,1\n")
        import_file(db, bad, "generic")


def test_import_text_is_the_same_import_as_a_file(db: Engine) -> None:
    from realyield.portfolio.imports import import_text

    text = (FIXTURES / "cointracker.csv").read_text()
    first = import_text(db, "\ufeff" + text, "cointracker", name="upload.csv")
    assert (first.inserted, first.origin) == (6, "upload.csv")
    assert import_file(db, FIXTURES / "cointracker.csv", "cointracker").inserted == 0
