"""Imports into the ledger: one small module per file format, one shared writer.

``import_file(engine, path, "koinly")`` reads, validates, values and stores a file
idempotently (see ``base.write_events`` for the crash-safety argument).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final, Protocol

from sqlalchemy import Engine

from realyield.core.errors import ConfigError, DataError
from realyield.portfolio.imports import cointracker, generic, koinly, rotki
from realyield.portfolio.imports.base import ImportReport, Parsed, Problem, file_digest
from realyield.portfolio.imports.writer import write_events
from realyield.portfolio.pricing import AssetIds, PriceBook


class Parser(Protocol):
    def __call__(
        self,
        lines: Iterable[str],
        *,
        source: str,
        account: str,
        fiat: str,
        decimal_comma: bool = False,
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
    decimal_comma: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Import a file into the ledger; importing the same file again changes nothing.

    A row that cannot be read, valued or stored is rejected alone (``report.rejected``
    names its row, column and reason) and the rest imports. ``decimal_comma`` reads
    ``1.234,56`` as 1234.56 (otherwise such numbers are refused, never misread);
    ``dry_run`` reports what would be imported and writes nothing.

    Raises:
        ConfigError: unknown format.
        DataError: unreadable file, not of this format (missing columns), not UTF-8.
    """
    parse = parser(fmt)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return _import_lines(
                engine,
                fh,
                fmt,
                parse,
                path.name,
                file_digest(path),
                account=account,
                fiat=fiat,
                max_price_age_days=max_price_age_days,
                batch_size=batch_size,
                on_batch=on_batch,
                decimal_comma=decimal_comma,
                dry_run=dry_run,
            )
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8 CSV") from exc


def import_text(
    engine: Engine,
    text: str,
    fmt: str,
    *,
    name: str = "upload",
    account: str = "default",
    fiat: str = "USD",
    max_price_age_days: float = 3.0,
    batch_size: int = 5000,
    decimal_comma: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """``import_file`` for CSV text already in memory (an API upload).

    Raises:
        ConfigError: unknown format. DataError: not of this format.
    """
    parse = parser(fmt)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _import_lines(
        engine,
        io.StringIO(text.lstrip("\ufeff"), newline=""),
        fmt,
        parse,
        name,
        digest,
        account=account,
        fiat=fiat,
        max_price_age_days=max_price_age_days,
        batch_size=batch_size,
        on_batch=None,
        decimal_comma=decimal_comma,
        dry_run=dry_run,
    )


def _import_lines(
    engine: Engine,
    lines: Iterable[str],
    fmt: str,
    parse: Parser,
    origin: str,
    digest: str,
    *,
    account: str,
    fiat: str,
    max_price_age_days: float,
    batch_size: int,
    on_batch: Callable[[ImportReport], None] | None,
    decimal_comma: bool,
    dry_run: bool,
) -> ImportReport:
    rows = parse(lines, source=fmt, account=account, fiat=fiat.upper(), decimal_comma=decimal_comma)
    return write_events(
        engine,
        rows,
        ImportReport(format=fmt, origin=origin),
        source=fmt,
        account=account,
        digest=digest,
        book=PriceBook.from_store(engine, max_age=timedelta(days=max_price_age_days)),
        ids=AssetIds.from_store(engine),
        batch_size=batch_size,
        on_batch=on_batch,
        dry_run=dry_run,
    )


__all__ = ["FORMATS", "ImportReport", "Problem", "import_file", "import_text", "parser"]
