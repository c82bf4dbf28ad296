"""What every importer shares: cell parsing with row-precise errors, and the batched,
crash-safe, idempotent writer.

Why batches in transactions: an import of a million rows must not hold one giant
transaction, yet a crash (even SIGKILL) must never leave half an event or half a
batch. Each batch of events is valued, inserted with ``ON CONFLICT DO NOTHING`` and
counted on its import run inside one transaction; a killed process loses at most the
batch in flight, and running the same import again inserts exactly what is missing.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from realyield.core.errors import DataError, RecordError
from realyield.portfolio import ledger
from realyield.portfolio.events import MOVE_KINDS, LedgerEvent
from realyield.portfolio.pricing import AssetIds, PriceBook, value_event


class RowError(DataError):
    """One input row could not become an event."""

    def __init__(self, row: int, message: str) -> None:
        self.row = row
        super().__init__(f"row {row}: {message}")


@dataclass(frozen=True)
class Problem:
    row: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "message": self.message}


Parsed = LedgerEvent | Problem


@dataclass
class ImportReport:
    """What an import did. ``inserted + duplicates == events``; rejected rows are listed."""

    format: str
    origin: str
    import_id: int | None = None
    rows: int = 0
    events: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: list[Problem] = field(default_factory=list)
    old_prices: int = 0
    unpriced: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "origin": self.origin,
            "import_id": self.import_id,
            "rows": self.rows,
            "events": self.events,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "problems": [p.as_dict() for p in self.rejected[:20]],
            "old_prices": self.old_prices,
            "unpriced": self.unpriced,
        }


# -- cells -------------------------------------------------------------------------------


class Cells:
    """One CSV row with typed accessors that raise ``RowError`` naming row and column."""

    __slots__ = ("number", "row")

    def __init__(self, number: int, row: Mapping[str, str | None]) -> None:
        self.number = number
        self.row = row

    def text(self, column: str) -> str | None:
        value = self.row.get(column)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def required(self, column: str) -> str:
        value = self.text(column)
        if value is None:
            raise RowError(self.number, f"{column!r} is empty")
        return value

    def decimal(self, column: str, *, allow_negative: bool = False) -> Decimal | None:
        text = self.text(column)
        if text is None:
            return None
        try:
            value = Decimal(text.replace(",", "") if "." in text else text)
        except InvalidOperation:
            raise RowError(self.number, f"{column} = {text!r} is not a number") from None
        if not value.is_finite():
            raise RowError(self.number, f"{column} = {text!r} is not a finite number")
        if value < 0 and not allow_negative:
            raise RowError(self.number, f"{column} = {text!r} is negative")
        return value

    def fail(self, message: str) -> RowError:
        return RowError(self.number, message)


@dataclass(frozen=True, slots=True)
class Legs:
    """A sent/received row read as one event: what came in (or went out) and, for a
    swap, what went the other way."""

    kind: str
    asset: str
    amount: Decimal
    counter_asset: str | None = None
    counter_amount: Decimal | None = None


def _side(amount: Decimal | None, currency: str | None) -> tuple[Decimal, str] | None:
    return (amount, currency) if amount is not None and currency and amount > 0 else None


def two_sided(
    cells: Cells,
    received: tuple[Decimal | None, str | None],
    sent: tuple[Decimal | None, str | None],
    *,
    swap: str,
    incoming: str,
    outgoing: str,
) -> Legs:
    """The event of a row with a received and a sent side (Koinly, CoinTracker): both
    sides -> ``swap`` (received is the asset, sent the counter leg); one side ->
    ``incoming`` or ``outgoing``. A side counts when its amount is above zero and has a
    currency.

    Raises:
        RowError: neither side is there.
    """
    got, out = _side(*received), _side(*sent)
    if got is not None and out is not None:
        return Legs(swap, got[1], got[0], out[1], out[0])
    if got is not None:
        return Legs(incoming, got[1], got[0])
    if out is not None:
        return Legs(outgoing, out[1], out[0])
    raise cells.fail("neither a received nor a sent amount with its currency")


def parse_utc(text: str, formats: Sequence[str], row: int, column: str) -> datetime:
    """A UTC instant from ``text`` in the first matching format (ISO 8601 otherwise).

    Times without an offset are taken as UTC (every supported format documents UTC).
    """
    cleaned = text.strip()
    if cleaned.endswith(" UTC"):
        cleaned = cleaned[:-4]
    for fmt in formats:
        try:
            parsed = datetime.strptime(cleaned, fmt)
            break
        except ValueError:
            continue
    else:
        try:
            parsed = datetime.fromisoformat(cleaned)
        except ValueError:
            raise RowError(row, f"{column} = {text!r} is not a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def csv_rows(lines: Iterable[str], required: Sequence[str], fmt: str) -> Iterator[Cells]:
    """Rows of a CSV with a header, checking the required columns are present.

    Raises:
        DataError: empty file, or a required column missing (names what is there).
    """
    reader = csv.DictReader(lines)
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise DataError(f"the {fmt} file is empty: expected a header row")
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"not a {fmt} file: missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(header)}. Check --format (see docs/ledger.md)."
        )
    for number, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        yield Cells(number, row)


def guarded(cells: Iterable[Cells], build: Callable[[Cells], LedgerEvent]) -> Iterator[Parsed]:
    """Apply ``build`` to each row, turning a bad row into a ``Problem`` (never fatal)."""
    for row in cells:
        try:
            yield build(row)
        except RowError as exc:
            yield Problem(exc.row, str(exc).split(": ", 1)[1])
        except RecordError as exc:
            yield Problem(row.number, str(exc))


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# -- the writer --------------------------------------------------------------------------


def write_events(
    engine: Engine,
    parsed: Iterable[Parsed],
    report: ImportReport,
    *,
    source: str,
    account: str,
    digest: str | None,
    book: PriceBook,
    ids: AssetIds,
    batch_size: int = 5000,
    on_batch: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Value and store ``parsed`` events in batches (see the module docstring).

    Raises:
        DataError: ``batch_size`` < 1.
        StoreError / SQLAlchemy errors: the database failed (the batch in flight is
            rolled back; earlier batches stay, and a re-run completes the import).
    """
    if batch_size < 1:
        raise DataError(f"batch size {batch_size} must be >= 1")
    import_id = ledger.start_import(
        engine, source=source, account=account, origin=report.origin, digest=digest
    )
    report.import_id = import_id
    pending: list[LedgerEvent] = []
    limit_s = book.max_age.total_seconds()

    def flush() -> None:
        with engine.begin() as conn:
            known = ledger.stored_keys(conn, pending)
            fresh = [e for e in pending if (e.source, e.account, e.key) not in known]
            valued = [value_event(e, book, ids) for e in fresh]
            inserted = ledger.insert_events(conn, valued, import_id=import_id)
            ledger.record_batch(conn, import_id, len(pending), inserted)
        for e in valued:
            if e.value is None and e.kind not in MOVE_KINDS:
                report.unpriced += 1
            elif e.price_age_s is not None and e.price_age_s > limit_s:
                report.old_prices += 1
        report.inserted += inserted
        report.duplicates += len(pending) - inserted
        pending.clear()
        if on_batch is not None:
            on_batch(report)

    try:
        for item in parsed:
            report.rows += 1
            if isinstance(item, Problem):
                report.rejected.append(item)
                continue
            report.events += 1
            pending.append(item)
            if len(pending) >= batch_size:
                flush()
        if pending:
            flush()
    except BaseException:
        ledger.finish_import(engine, import_id, "failed")
        raise
    ledger.finish_import(engine, import_id, "done")
    return report
