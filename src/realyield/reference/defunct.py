"""Tokens of issuers that failed, froze or are winding down: a dated table with sources.

Why: a pool of dead tokens can keep publishing a high APY (the Curve pool of Iron Bank's
frozen cyTokens showed 44.91% on 2025-08-31 with no trade in a week). No statistic of
the yield itself says the issuer is gone, so the fact is kept here, each row with the
public event's date (``since``), the day it was checked (``as_of``) and its source.
A row applies only to scores as of ``since`` or later: a replay of 2021 does not know
of Terra's collapse.

``realyield/reference/data/defunct_tokens.csv``: ``symbols`` (``;``-separated, as in pool
symbols, upper case), ``address`` (the token contract, lower case, when known: it then
matches by address too), ``chains`` (``;``-separated; empty = any chain), ``issuer``,
``status``, ``since``, ``as_of``, ``source``, ``notes``.

Raises (loading): DataError for a missing file or a malformed row (file, row, field).
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from realyield.core.errors import DataError

DEFUNCT_FILE = "defunct_tokens.csv"
_COLUMNS = ("symbols", "address", "chains", "issuer", "status", "since", "as_of", "source")


@dataclass(frozen=True, slots=True)
class DefunctToken:
    """One token (under one or more symbols) whose issuer failed, froze or winds down."""

    symbols: tuple[str, ...]
    address: str | None
    chains: tuple[str, ...]
    issuer: str
    status: str
    since: date
    as_of: date
    source: str
    notes: str

    def reason(self, symbol: str) -> str:
        """The screen's one-line reason for a pool holding this token."""
        return (
            f"holds {symbol}: issuer {self.issuer} {self.status} since {self.since} "
            f"(source {self.source})"
        )


def _date(text: str, where: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise DataError(f"{where}: {name}={text!r} is not a YYYY-MM-DD date") from None


def parse_defunct(text: str, *, name: str) -> tuple[DefunctToken, ...]:
    """Parse the table's CSV text.

    Raises:
        DataError: a missing column, an empty symbol list or a bad date (file and row named).
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise DataError(f"{name}: missing column(s) {', '.join(missing)}")
    rows = []
    for number, row in enumerate(reader, start=2):
        where = f"{name} row {number}"
        symbols = tuple(s.strip().upper() for s in (row["symbols"] or "").split(";") if s.strip())
        if not symbols:
            raise DataError(f"{where}: no symbol")
        rows.append(
            DefunctToken(
                symbols=symbols,
                address=(row["address"] or "").strip().lower() or None,
                chains=tuple(c.strip().lower() for c in (row["chains"] or "").split(";") if c),
                issuer=(row["issuer"] or "").strip(),
                status=(row["status"] or "").strip(),
                since=_date(row["since"] or "", where, "since"),
                as_of=_date(row["as_of"] or "", where, "as_of"),
                source=(row["source"] or "").strip(),
                notes=(row.get("notes") or "").strip(),
            )
        )
    return tuple(rows)


@functools.lru_cache(maxsize=4)
def load_defunct_tokens(path: Path | None = None) -> tuple[DefunctToken, ...]:
    """The packaged table (or the one at ``path``), parsed once.

    Raises:
        DataError: the file is missing, unreadable or malformed.
    """
    try:
        if path is None:
            text = resources.files("realyield.reference").joinpath("data", DEFUNCT_FILE)
            return parse_defunct(text.read_text(encoding="utf-8"), name=DEFUNCT_FILE)
        return parse_defunct(path.read_text(encoding="utf-8-sig"), name=path.name)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the defunct-token table ({exc})") from exc


def _index(
    rows: Sequence[DefunctToken],
) -> tuple[dict[str, list[DefunctToken]], dict[str, list[DefunctToken]]]:
    """The rows by symbol and by address (a pool is looked up, not the table scanned)."""
    by_symbol: dict[str, list[DefunctToken]] = {}
    by_address: dict[str, list[DefunctToken]] = {}
    for row in rows:
        for symbol in row.symbols:
            by_symbol.setdefault(symbol, []).append(row)
        if row.address is not None:
            by_address.setdefault(row.address, []).append(row)
    return by_symbol, by_address


@functools.lru_cache(maxsize=1)
def _packaged_index() -> tuple[dict[str, list[DefunctToken]], dict[str, list[DefunctToken]]]:
    return _index(load_defunct_tokens())


def defunct_tokens_in(
    symbols: Sequence[str],
    addresses: Sequence[str],
    chain: str,
    *,
    as_of: date,
    table: Sequence[DefunctToken] | None = None,
) -> list[tuple[str, DefunctToken]]:
    """The (symbol or address as held, row) pairs of the defunct tokens a pool holds as
    of ``as_of``: by contract address, or by symbol on the row's chains."""
    by_symbol, by_address = _packaged_index() if table is None else _index(table)
    found: dict[DefunctToken, str] = {}
    for address in addresses:
        for row in by_address.get(address.lower(), ()):
            if row.since <= as_of:
                found.setdefault(row, row.symbols[0])
    chain_key = chain.lower()
    for symbol in symbols:
        for row in by_symbol.get(symbol.upper(), ()):
            if row.since <= as_of and (not row.chains or chain_key in row.chains):
                found.setdefault(row, symbol.upper())
    return [(symbol, row) for row, symbol in found.items()]
