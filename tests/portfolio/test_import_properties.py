"""Property tests: every ledger format (koinly, cointracker, rotki, generic, exchange)
driven with generated files of good rows mixed with malformed ones (SQLite).

For each generated file the import must: raise nothing; reject exactly the malformed
rows (by row number) and import every good one (``inserted + duplicates`` = good rows,
``rows`` = all rows); lose nothing already stored (the event count only grows by
``inserted``); and, run again, insert nothing, find every good row stored and reject the
same rows. A malformed row carries one cell that no reading may accept (an overflowing
or non-finite number, thousands separators, a decimal comma, a negative amount, a date
outside 2009..now, an epoch in no unit, a control character, an over-long name), or is
cut short, or has a field beyond the CSV reader's limit.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from realyield.core.model import PricePoint
from realyield.exchange.history import AccountTrade, Fee, LedgerEntry
from realyield.portfolio import ledger
from realyield.portfolio.events import KINDS, SWAP_KINDS
from realyield.portfolio.imports import cointracker, generic, import_file, koinly, rotki
from realyield.portfolio.imports.base import ImportReport
from realyield.portfolio.imports.exchange import events_from_history
from realyield.portfolio.imports.writer import write_events
from realyield.portfolio.pricing import AssetIds, PriceBook
from realyield.store import records

#: Examples per format; ``LEDGER_FUZZ_EXAMPLES=500`` for a longer hunt.
EXAMPLES = int(os.environ.get("LEDGER_FUZZ_EXAMPLES", "30"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Inputs tried per format in this run (rows, malformed rows): the README's figures.
TRIED: Counter[str] = Counter()

SYMBOLS = ("ETH", "BTC", "USDC", "SOL", "DOT", "ATOM", "USD")
BAD_NUMBERS = (
    "1E+999999",
    "1E+31",
    "1e-999999",
    "NaN",
    "inf",
    "-Infinity",
    "1,234.56",
    "1.234,56",
    "0,5",
    "1 000",
    "1_000",
    "12abc",
    "0x1F",
    "-5",
    "$12",
)
BAD_DATES = (
    "0001-01-01T00:00:00+01:00",
    "9999-12-31 23:59",
    "0001-01-01",
    "1970-01-01T00:00:00Z",
    "2024-13-45",
    "yesterday",
    "99999999999999999999",
    "-1",
    "1e308",
    "31/12/2024",
    "",
)
BAD_TEXT = ("ETH\x00", "a\x1bb", "\u202eETH", "x" * 2001, "two\nlines", "\x7f")

text = st.text(st.characters(categories=["L", "N"]), max_size=12)
amounts = st.decimals(min_value=D("0.00000001"), max_value=D("1000000"), places=8).map(str)
times = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2025, 12, 31))
pair = st.lists(st.sampled_from(SYMBOLS), min_size=2, max_size=2, unique=True)


@dataclass(frozen=True)
class Format:
    name: str
    columns: tuple[str, ...]
    good: st.SearchStrategy[dict[str, str]]
    numbers: tuple[str, ...]
    dates: tuple[str, ...]
    texts: tuple[str, ...]


@st.composite
def two_sided_row(
    draw: Any, layout: str, labels: tuple[str, ...], names: dict[str, str], columns: Any
) -> Any:
    """A Koinly or CoinTracker row: received, sent or both sides, optional fee."""
    got, sent = draw(pair)
    shape = draw(st.sampled_from(("in", "out", "swap")))
    row = {c: "" for c in columns}
    row[names["date"]] = draw(times).strftime(layout)
    if shape in ("in", "swap"):
        row[names["got"]], row[names["got_cur"]] = draw(amounts), got
    if shape in ("out", "swap"):
        row[names["sent"]], row[names["sent_cur"]] = draw(amounts), sent
    if draw(st.booleans()):
        row["Fee Amount"], row["Fee Currency"] = draw(amounts), draw(st.sampled_from(SYMBOLS))
    row[names["label"]] = draw(st.sampled_from(labels))
    return row


@st.composite
def koinly_row(draw: Any) -> dict[str, str]:
    names = {
        "date": "Date",
        "got": "Received Amount",
        "got_cur": "Received Currency",
        "sent": "Sent Amount",
        "sent_cur": "Sent Currency",
        "label": "Label",
    }
    row: dict[str, str] = draw(
        two_sided_row("%Y-%m-%d %H:%M UTC", ("", *koinly.INCOMING), names, koinly.COLUMNS)
    )
    if draw(st.booleans()):
        row["Net Worth Amount"], row["Net Worth Currency"] = draw(amounts), "USD"
    row["Description"], row["TxHash"] = draw(text), draw(st.sampled_from(("", "0xab12")))
    return row


@st.composite
def cointracker_row(draw: Any) -> dict[str, str]:
    names = {
        "date": "Date",
        "got": "Received Quantity",
        "got_cur": "Received Currency",
        "sent": "Sent Quantity",
        "sent_cur": "Sent Currency",
        "label": "Tag",
    }
    tags = ("", *cointracker.RECEIVE_TAGS, *cointracker.SEND_TAGS)
    row: dict[str, str] = draw(two_sided_row("%m/%d/%Y %H:%M:%S", tags, names, cointracker.COLUMNS))
    return row


@st.composite
def rotki_row(draw: Any) -> dict[str, str]:
    when = draw(times).replace(tzinfo=UTC).timestamp()
    stamp = str(int(when * 1000)) if draw(st.booleans()) else str(int(when))
    fee = draw(st.booleans())
    return {
        "Type": draw(st.sampled_from([t.title() for t in rotki.TYPES])),
        "Location": draw(st.sampled_from(("kraken", "binance", "wallet"))),
        "Currency": draw(st.sampled_from(SYMBOLS)),
        "Amount": draw(amounts),
        "Fee": draw(amounts) if fee else "",
        "Fee Currency": "ETH" if fee else "",
        "Description": draw(text),
        "Timestamp": stamp,
    }


@st.composite
def generic_row(draw: Any) -> dict[str, str]:
    kind = draw(st.sampled_from(KINDS))
    asset, counter = draw(pair)
    fee = draw(st.booleans())
    row = {c: "" for c in generic.COLUMNS}
    row.update(
        time=draw(times).isoformat() + draw(st.sampled_from(("", "Z", "+02:00"))),
        kind=kind,
        asset=asset,
        amount=draw(amounts),
        note=draw(text),
    )
    if kind in SWAP_KINDS:
        row["counter_asset"], row["counter_amount"] = counter, draw(amounts)
    if fee:
        row["fee_asset"], row["fee_amount"] = "ETH", draw(amounts)
    if draw(st.booleans()):
        row["value"] = draw(amounts)
    return row


FORMATS = {
    "koinly": Format(
        "koinly",
        koinly.COLUMNS,
        koinly_row(),
        ("Sent Amount", "Received Amount", "Fee Amount", "Net Worth Amount"),
        ("Date",),
        ("Sent Currency", "Received Currency", "Fee Currency", "Label", "Description"),
    ),
    "cointracker": Format(
        "cointracker",
        cointracker.COLUMNS,
        cointracker_row(),
        ("Received Quantity", "Sent Quantity", "Fee Amount"),
        ("Date",),
        ("Received Currency", "Sent Currency", "Fee Currency", "Tag"),
    ),
    "rotki": Format(
        "rotki",
        rotki.COLUMNS,
        rotki_row(),
        ("Amount", "Fee"),
        ("Timestamp",),
        ("Type", "Location", "Currency", "Fee Currency", "Description"),
    ),
    "generic": Format(
        "generic",
        generic.COLUMNS,
        generic_row(),
        ("amount", "counter_amount", "fee_amount", "value", "fee_value"),
        ("time",),
        ("kind", "asset", "counter_asset", "fee_asset", "fiat", "note", "opportunity"),
    ),
}


@st.composite
def bad_row(draw: Any, fmt: Format) -> list[str]:
    """A good row with one cell no reading may accept, or a row cut short or with a
    field beyond the CSV reader's 131,072 characters."""
    row = draw(fmt.good)
    how = draw(st.sampled_from(("number", "date", "text", "short", "huge")))
    if how == "number":
        row[draw(st.sampled_from(fmt.numbers))] = draw(st.sampled_from(BAD_NUMBERS))
    elif how == "date":
        row[draw(st.sampled_from(fmt.dates))] = draw(st.sampled_from(BAD_DATES))
    elif how == "text":
        row[draw(st.sampled_from(fmt.texts))] = draw(st.sampled_from(BAD_TEXT))
    elif how == "short":
        return [row[fmt.columns[0]] or "2024-01-01"]
    else:
        row[draw(st.sampled_from(fmt.columns))] = "9" * 131_073
    return [row[c] for c in fmt.columns]


def csv_text(fmt: Format, rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fmt.columns)
    writer.writerows(rows)
    return out.getvalue()


def store_prices(engine: Engine) -> None:
    """Some stored prices, so valuation multiplies amounts by prices."""
    with engine.begin() as conn:
        records.save_prices(
            conn,
            "coingecko",
            [
                PricePoint(a, date(2015, 1, 1), p)
                for a, p in (("ethereum", 2250.0), ("bitcoin", 4e4))
            ],
        )


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_file_formats_reject_only_the_malformed_rows(
    name: str, engine: Engine, tmp_path: Path
) -> None:
    fmt = FORMATS[name]
    store_prices(engine)
    rows = st.lists(
        st.one_of(
            fmt.good.map(lambda r: (True, [r[c] for c in fmt.columns])),
            bad_row(fmt).map(lambda r: (False, r)),
        ),
        min_size=1,
        max_size=25,
    )
    runs = Counter[str]()

    @SETTINGS
    @given(rows=rows)
    def check(rows: list[tuple[bool, list[str]]]) -> None:
        runs["n"] += 1
        account = f"acct{runs['n']}"
        path = tmp_path / f"{name}-{runs['n']}.csv"
        path.write_text(csv_text(fmt, [r for _, r in rows]), encoding="utf-8")
        bad_rows = {i + 2 for i, (good, _) in enumerate(rows) if not good}
        good = len(rows) - len(bad_rows)
        before = ledger.event_count(engine)

        report = import_file(engine, path, name, account=account, batch_size=7)
        assert report.rows == len(rows)
        assert {p.row for p in report.rejected} == bad_rows, [p.describe() for p in report.rejected]
        assert report.rejected_count == len(bad_rows)
        assert report.inserted + report.duplicates == good
        assert ledger.event_count(engine) == before + report.inserted
        assert report.status == ("failed" if good == 0 else "partial" if bad_rows else "ok")

        again = import_file(engine, path, name, account=account, batch_size=7)
        assert (again.inserted, again.duplicates) == (0, good)
        assert again.rejected == report.rejected
        assert ledger.event_count(engine) == before + report.inserted
        TRIED[name] += len(rows)
        TRIED[f"{name} malformed"] += len(bad_rows)

    check()
    print(f"\n{name}: {TRIED[name]} rows tried, {TRIED[name + ' malformed']} malformed, crashes: 0")


BAD_STAMPS = (-1, 0, 10**20, 1_709_294_400, 99_999_999_999_999)
BAD_QTY = (D("1E+999999"), D("1E+31"), D("0"), D("-1"), D("NaN"))


@st.composite
def exchange_item(draw: Any, n: int, good: bool) -> AccountTrade | LedgerEntry:
    stamp = int(draw(times).replace(tzinfo=UTC).timestamp() * 1000)
    qty = draw(amounts.map(D))
    base, quote = draw(pair)
    how = "none" if good else draw(st.sampled_from(("time", "qty", "same")))
    if how == "time":
        stamp = draw(st.sampled_from(BAD_STAMPS))
    if how == "qty":
        qty = draw(st.sampled_from(BAD_QTY))
    if draw(st.booleans()):
        return AccountTrade(
            f"t{n}",
            stamp,
            f"{base}/{quote}",
            draw(st.sampled_from(("buy", "sell"))),
            base,
            base if how == "same" else quote,
            qty,
            draw(amounts.map(D)),
            Fee(draw(amounts.map(D)), quote) if draw(st.booleans()) else None,
        )
    if how == "same":  # an entry has no counter leg: make it bad by its amount
        qty = D("1E+999999")
    raw = draw(st.sampled_from(("deposit", "withdrawal", "staking")))
    return LedgerEntry(
        f"l{n}",
        stamp,
        "out" if raw == "withdrawal" else "in",
        "transaction",
        raw,
        base,
        qty,
        None,
        None,
    )


def test_exchange_history_rejects_only_the_malformed_items(engine: Engine) -> None:
    store_prices(engine)
    runs = Counter[str]()
    flags = st.lists(st.booleans(), min_size=1, max_size=25)

    @SETTINGS
    @given(data=st.data(), flags=flags)
    def check(data: st.DataObject, flags: list[bool]) -> None:
        runs["n"] += 1
        items = [data.draw(exchange_item(i, good)) for i, good in enumerate(flags)]
        # zero or negative ledger entries are skipped by design (not events, not errors)
        skipped_by_design = [
            i
            for i in items
            if isinstance(i, LedgerEntry) and i.amount.is_finite() and i.amount <= 0
        ]
        bad = flags.count(False) - len(skipped_by_design)
        good = flags.count(True)
        account = f"kraken{runs['n']}"
        before = ledger.event_count(engine)

        def run() -> ImportReport:
            rep = ImportReport(format="ccxt", origin="kraken")
            write_events(
                engine,
                events_from_history(
                    [i for i in items if isinstance(i, AccountTrade)],
                    [i for i in items if isinstance(i, LedgerEntry)],
                    source="ccxt:kraken",
                    account=account,
                    fiat="USD",
                    skipped=Counter(),
                ),
                rep,
                source="ccxt:kraken",
                account=account,
                digest=None,
                book=PriceBook.from_store(engine),
                ids=AssetIds.from_store(engine),
                batch_size=5,
            )
            return rep

        report = run()
        assert report.rows == good + bad
        assert (report.inserted, report.rejected_count) == (good, bad)
        assert ledger.event_count(engine) == before + good
        again = run()
        assert (again.inserted, again.duplicates, again.rejected_count) == (0, good, bad)
        TRIED["exchange"] += len(items)
        TRIED["exchange malformed"] += bad

    check()
    print(f"\nexchange: {TRIED['exchange']} items tried, {TRIED['exchange malformed']} malformed")
