"""Imports into the ledger: one small module per file format, one shared writer.

``import_file(engine, path, "koinly")`` reads, validates, values and stores a file
idempotently (see ``base.write_events`` for the crash-safety argument).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final, Protocol

from sqlalchemy import Engine

from realyield.core.errors import ConfigError, DataError
from realyield.portfolio.imports import cointracker, generic, koinly, rotki
from realyield.portfolio.imports.base import (
    ImportReport,
    Parsed,
    Problem,
    file_digest,
    write_events,
)
from realyield.portfolio.pricing import AssetIds, PriceBook


class Parser(Protocol):
    def __call__(
        self, lines: Iterable[str], *, source: str, account: str, fiat: str
    ) -> Iterator[Parsed]: ...


FORMATS: Final[dict[str, Parser]] = {
    "generic": generic.parse,
    "koinly": koinly.parse,
    "cointracker": cointracker.parse,
    "rotki": rotki.parse,
}


def parser(fmt: str) -> Parser:
    """The parser of a format name.

    Raises:
        ConfigError: unknown format.
    """
    found = FORMATS.get(fmt.strip().lower())
    if found is None:
        raise ConfigError(f"unknown import format {fmt!r}; use one of {', '.join(FORMATS)}")
    return found


def import_file(
    engine: Engine,
    path: Path,
    fmt: str,
    *,
    account: str = "default",
    fiat: str = "USD",
    max_price_age_days: float = 3.0,
    batch_size: int = 5000,
    on_batch: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import a file into the ledger; importing the same file again changes nothing.

    Raises:
        ConfigError: unknown format.
        DataError: unreadable file, not of this format (missing columns), not UTF-8.
    """
    parse = parser(fmt)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    report = ImportReport(format=fmt, origin=path.name)
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return write_events(
                engine,
                parse(fh, source=fmt, account=account, fiat=fiat.upper()),
                report,
                source=fmt,
                account=account,
                digest=file_digest(path),
                book=PriceBook.from_store(engine, max_age=timedelta(days=max_price_age_days)),
                ids=AssetIds.from_store(engine),
                batch_size=batch_size,
                on_batch=on_batch,
            )
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8 CSV") from exc


__all__ = ["FORMATS", "ImportReport", "Problem", "import_file", "parser"]
