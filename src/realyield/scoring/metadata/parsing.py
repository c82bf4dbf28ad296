"""Parsing the facts tables from CSV lines into records keyed by name.

Separate from loading so that a table can be checked from any text (a file under review,
a test's rows) with errors that name the file, the spreadsheet row and the field.

Raises:
    DataError: a missing column, a row with too few or too many values, a duplicate
        key or an empty table.
    RecordError: (a DataError) a value that does not parse or breaks a record's rule.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Final, TypeVar

from realyield.core.errors import DataError, RecordError
from realyield.scoring.metadata.records import ChainFacts, ProtocolFacts, TokenFacts

PROTOCOLS_FILE: Final = "protocols.csv"
CHAINS_FILE: Final = "chains.csv"
TOKENS_FILE: Final = "tokens.csv"

PROTOCOL_COLUMNS: Final = (
    "protocol",
    "family",
    "launched",
    "audits",
    "exploits",
    "last_exploit",
    "exploit_loss_usd",
    "collateral",
    "layers",
    "custody",
    "category",
    "as_of",
    "source_url",
    "notes",
)
CHAIN_COLUMNS: Final = (
    "chain",
    "launched",
    "kind",
    "settlement",
    "bridge_dependency",
    "major_incidents",
    "as_of",
    "source_url",
    "notes",
)
TOKEN_COLUMNS: Final = (
    "symbol",
    "asset_id",
    "kind",
    "issuer",
    "peg",
    "chain_of_origin",
    "as_of",
    "notes",
)

_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})

_T = TypeVar("_T")


class _Row:
    """One CSV row with typed accessors that raise ``RecordError`` naming the field."""

    __slots__ = ("_row", "where")

    def __init__(self, where: str, row: Mapping[str, str]) -> None:
        self.where = where
        self._row = row

    def text(self, name: str) -> str:
        return self._row[name].strip()

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise RecordError(self.where, name, self._row[name], "is empty; a value is required")
        return value

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def count(self, name: str) -> int:
        raw = self.required(name)
        try:
            return int(raw)
        except ValueError:
            raise RecordError(self.where, name, raw, "is not a whole number") from None

    def number(self, name: str) -> float | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise RecordError(self.where, name, raw, "is not a number") from None

    def day(self, name: str) -> date:
        raw = self.required(name)
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise RecordError(self.where, name, raw, "must be an ISO date (YYYY-MM-DD)") from None

    def optional_day(self, name: str) -> date | None:
        return self.day(name) if self.text(name) else None

    def flag(self, name: str) -> bool:
        raw = self.text(name).lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise RecordError(self.where, name, self._row[name], "must be true or false")


def _protocol_row(row: _Row) -> ProtocolFacts:
    return ProtocolFacts(
        protocol=row.required("protocol"),
        family=row.required("family"),
        launched=row.day("launched"),
        audits=row.count("audits"),
        exploits=row.count("exploits"),
        last_exploit=row.optional_day("last_exploit"),
        exploit_loss_usd=row.number("exploit_loss_usd"),
        collateral=row.required("collateral"),
        layers=row.count("layers"),
        custody=row.required("custody"),
        category=row.required("category"),
        as_of=row.day("as_of"),
        source_url=row.required("source_url"),
        notes=row.text("notes"),
    )


def _chain_row(row: _Row) -> ChainFacts:
    return ChainFacts(
        chain=row.required("chain"),
        launched=row.day("launched"),
        kind=row.required("kind"),
        settlement=row.required("settlement"),
        bridge_dependency=row.flag("bridge_dependency"),
        major_incidents=row.count("major_incidents"),
        as_of=row.day("as_of"),
        source_url=row.required("source_url"),
        notes=row.text("notes"),
    )


def _token_row(row: _Row) -> TokenFacts:
    return TokenFacts(
        symbol=row.required("symbol"),
        asset_id=row.optional("asset_id"),
        kind=row.required("kind"),
        issuer=row.required("issuer"),
        peg=row.required("peg"),
        chain_of_origin=row.required("chain_of_origin"),
        as_of=row.day("as_of"),
        notes=row.text("notes"),
    )


def _parse(
    lines: Iterable[str],
    *,
    name: str,
    columns: tuple[str, ...],
    build: Callable[[_Row], _T],
    key: Callable[[_T], str],
) -> tuple[dict[str, _T], dict[str, int]]:
    """Parse a facts table; return records by case-folded key and their row numbers."""
    reader = csv.DictReader(lines)
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    reader.fieldnames = list(header)
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{name}: header lacks column(s) {missing}; expected {list(columns)}")
    out: dict[str, _T] = {}
    rows: dict[str, int] = {}
    for row_number, raw in enumerate(reader, start=2):
        where = f"{name} row {row_number}"
        if any(raw.get(c) is None for c in columns):
            raise DataError(f"{where}: too few values ({len(raw)} for {len(header)} columns)")
        if None in raw:
            raise DataError(f"{where}: more values than columns (an unquoted comma?)")
        try:
            record = build(_Row(where, raw))
        except RecordError as exc:
            if exc.record == where:
                raise
            raise RecordError(where, exc.field, exc.value, exc.problem) from exc
        k = key(record).lower()
        if k in out:
            raise DataError(f"{where}: duplicates row {rows[k]} ({key(record)!r})")
        out[k] = record
        rows[k] = row_number
    if not out:
        raise DataError(f"{name}: no rows")
    return out, rows


def parse_protocols(
    lines: Iterable[str], *, name: str = PROTOCOLS_FILE
) -> dict[str, ProtocolFacts]:
    """Parse the protocols table from CSV lines, keyed by slug; ``name`` labels errors.

    Rows are numbered as in a spreadsheet: the header is row 1.

    Raises:
        DataError: on a missing column, a row with too few or too many values, a
            duplicate slug or an empty table.
        RecordError: (a DataError) naming the file, the row and the field, for a value
            that does not parse or breaks a rule of ``ProtocolFacts``.
    """
    out, _ = _parse(
        lines, name=name, columns=PROTOCOL_COLUMNS, build=_protocol_row, key=lambda p: p.protocol
    )
    return out


def parse_chains(lines: Iterable[str], *, name: str = CHAINS_FILE) -> dict[str, ChainFacts]:
    """Parse the chains table from CSV lines, keyed by lower-case chain name.

    Raises:
        DataError: on a missing column, a malformed row, a duplicate chain (names are
            compared case-insensitively) or an empty table.
        RecordError: naming the file, the row and the field, for a bad value, including
            a ``settlement`` that names no chain in the table.
    """
    out, rows = _parse(
        lines, name=name, columns=CHAIN_COLUMNS, build=_chain_row, key=lambda c: c.chain
    )
    for k, facts in out.items():
        if facts.settlement.lower() not in out:
            raise RecordError(
                f"{name} row {rows[k]}", "settlement", facts.settlement, "names no chain here"
            )
    return out


def parse_tokens(lines: Iterable[str], *, name: str = TOKENS_FILE) -> dict[str, TokenFacts]:
    """Parse the tokens table from CSV lines, keyed by upper-case symbol.

    Raises:
        DataError: on a missing column, a malformed row, a duplicate symbol or an empty
            table.
        RecordError: naming the file, the row and the field, for a bad value.
    """
    out, _ = _parse(
        lines, name=name, columns=TOKEN_COLUMNS, build=_token_row, key=lambda t: t.symbol
    )
    return {k.upper(): v for k, v in out.items()}
