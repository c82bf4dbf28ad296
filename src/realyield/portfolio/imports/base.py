"""What every importer shares: rows read one by one, each either an event or a
``Problem`` naming its row, column and reason, and the counts of an import.

Why per row: one malformed or absurd row (an amount of ``1E+999999``, a date in year
1, a NUL in a note, a field of 200,000 characters) must never stop the rows around it.
The CSV reader, the cell parsers and the event's own validation each turn a failure
into a ``Problem`` for that row; the writer (``writer.write_events``) does the same for
a row that cannot be valued or stored. The rest imports.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from realyield.core.errors import DataError, FieldError, RecordError, shown_value
from realyield.core.parsing import (
    AMOUNT_BOUNDS,
    Bounds,
    check_text,
    parse_decimal,
    parse_timestamp,
)
from realyield.portfolio.events import LedgerEvent

#: How many rejected rows a report keeps with their reasons (the count is always exact).
KEEP_PROBLEMS: Final = 1000
#: Longest text cell (a name, label or note); longer is refused, not cut.
TEXT_LIMIT: Final = 2000
#: A fiat value of one event, in the ledger's fiat: 1e15 leaves room for currencies of
#: small units (1e13 USD, more than all crypto, is about 1.5e15 JPY).
FIAT_VALUE_BOUNDS: Final = Bounds(0.0, 1e15, "fiat value of one event", "fiat_value")


class RowError(DataError):
    """One input row could not become an event."""

    def __init__(self, row: int, message: str, column: str | None = None) -> None:
        self.row = row
        self.column = column
        self.message = message
        where = f"row {row}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Problem:
    """A rejected row: its number in the file (the header is row 1), the column at
    fault when one is, and why."""

    row: int
    message: str
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}

    def describe(self, origin: str = "") -> str:
        """``file row 7, column 'Amount': reason`` (what a user reads)."""
        where = f"{origin} row {self.row}".strip()
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class RowEvent:
    """An event read from row ``row`` (kept so a later failure names the row)."""

    row: int
    event: LedgerEvent


Parsed = RowEvent | Problem


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do).

    ``rows == inserted + duplicates + rejected_count``: every row read is either a new
    event, an event already stored (same key), or rejected with its reason. ``status``
    is ``ok`` (nothing rejected), ``partial`` (some rows rejected) or ``failed`` (no
    row could be imported, including an empty file); only ``failed`` is an error.
    """

    format: str
    origin: str
    import_id: int | None = None
    rows: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: list[Problem] = field(default_factory=list)
    rejected_count: int = 0
    old_prices: int = 0
    unpriced: int = 0
    dry_run: bool = False

    @property
    def events(self) -> int:
        """Rows that are events (new or already stored)."""
        return self.inserted + self.duplicates

    @property
    def status(self) -> str:
        if self.events == 0:
            return "failed"
        return "partial" if self.rejected_count else "ok"

    def reject(self, problem: Problem) -> None:
        self.rejected_count += 1
        if len(self.rejected) < KEEP_PROBLEMS:
            self.rejected.append(problem)

    def first_reasons(self, n: int = 3) -> str:
        """The first ``n`` rejections as one line (for the import run's record)."""
        shown = "; ".join(p.describe() for p in self.rejected[:n])
        more = self.rejected_count - min(n, len(self.rejected))
        return shown + (f"; and {more:,} more" if more > 0 else "")

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "origin": self.origin,
            "import_id": self.import_id,
            "status": self.status,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "events": self.events,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "rejected": self.rejected_count,
            "problems": [p.as_dict() for p in self.rejected[:20]],
            "old_prices": self.old_prices,
            "unpriced": self.unpriced,
        }


# -- cells -------------------------------------------------------------------------------


class Cells:
    """One CSV row with typed accessors. Every cell goes through ``core.parsing`` (the
    one parser of every importer): a bad cell raises its ``FieldError`` (column, value,
    reason), which ``guarded`` turns into this row's ``Problem``."""

    __slots__ = ("decimal_comma", "number", "row")

    def __init__(
        self, number: int, row: Mapping[str, str | None], *, decimal_comma: bool = False
    ) -> None:
        self.number = number
        self.row = row
        self.decimal_comma = decimal_comma

    def text(self, column: str, *, max_len: int = TEXT_LIMIT) -> str | None:
        """Stripped text or None; control characters and over-long text are refused."""
        raw = self.row.get(column)
        return None if not raw else check_text(raw, column=column, max_len=max_len)

    def required(self, column: str, *, max_len: int = TEXT_LIMIT) -> str:
        value = self.text(column, max_len=max_len)
        if value is None:
            raise RowError(self.number, "is empty", column)
        return value

    def decimal(self, column: str, *, bounds: Bounds = AMOUNT_BOUNDS) -> Decimal | None:
        """A non-negative exact amount (``bounds`` says what is plausible), or None."""
        raw = self.row.get(column)
        if not raw:
            return None
        value = parse_decimal(raw, column=column, decimal_comma=self.decimal_comma, bounds=bounds)
        if value is not None and value < 0:
            raise RowError(
                self.number, f"{shown_value(self.row.get(column))!r} is negative", column
            )
        return value

    def value(self, column: str) -> Decimal | None:
        """A fiat value (``FIAT_VALUE_BOUNDS``), or None."""
        return self.decimal(column, bounds=FIAT_VALUE_BOUNDS)

    def time(self, column: str, layouts: Sequence[str] = ()) -> datetime:
        """The row's UTC instant: ``layouts`` (``strptime`` patterns of a vendor's own
        date layout) are tried first, then ``parse_timestamp`` (ISO 8601, epochs), which
        also checks the plausible dates. A trailing `` UTC`` is dropped; times without
        an offset are UTC (every supported format documents UTC)."""
        raw = self.required(column, max_len=64)
        text = raw[:-4].rstrip() if raw.upper().endswith(" UTC") else raw
        for layout in layouts:
            try:
                when = datetime.strptime(text, layout)
            except ValueError:
                continue
            try:
                return parse_timestamp(when, column=column)
            except FieldError as exc:  # name the cell as written, not the datetime
                raise FieldError(column, raw, exc.reason, code=exc.code) from None
        return parse_timestamp(text, column=column)

    def fail(self, message: str, column: str | None = None) -> RowError:
        return RowError(self.number, message, column)


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


def csv_rows(
    lines: Iterable[str], required: Sequence[str], fmt: str, *, decimal_comma: bool = False
) -> Iterator[Cells | Problem]:
    """Rows of a CSV with a header, checking the required columns are present.

    A row the CSV reader itself cannot read (a field over the reader's 131,072
    character limit) becomes a ``Problem`` and reading goes on with the next row. Row
    numbers count records, the header being row 1 (what a spreadsheet shows).

    Raises:
        DataError: empty file, an unreadable header, or a required column missing
            (names what is there).
    """
    reader = csv.DictReader(lines)
    try:
        names = reader.fieldnames or []
    except csv.Error as exc:
        raise DataError(f"the {fmt} file's header row cannot be read: {exc}") from None
    header = [h.strip() for h in names]
    if not header:
        raise DataError(f"the {fmt} file is empty: expected a header row")
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"not a {fmt} file: missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(shown_value(h, 40) for h in header[:30])}. Check --format "
            "(see docs/ledger.md)."
        )
    number = 1
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Problem(number, f"the CSV reader cannot read this row ({exc}); fix the row")
            continue
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        yield Cells(number, row, decimal_comma=decimal_comma)


def guarded(
    rows: Iterable[Cells | Problem], build: Callable[[Cells], LedgerEvent]
) -> Iterator[Parsed]:
    """Apply ``build`` to each row, turning a bad row into a ``Problem`` (never fatal:
    a malformed cell, an invalid event, an arithmetic overflow)."""
    for row in rows:
        if isinstance(row, Problem):
            yield row
            continue
        try:
            yield RowEvent(row.number, build(row))
        except RowError as exc:
            yield Problem(exc.row, exc.message, exc.column)
        except FieldError as exc:
            yield Problem(row.number, f"'{exc.value}' {exc.reason}", exc.column)
        except RecordError as exc:
            yield Problem(row.number, f"event {exc.field} {shown_value(exc.value)}: {exc.problem}")
        except (DataError, ArithmeticError, ValueError) as exc:
            yield Problem(row.number, shown_value(str(exc), 300))


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
