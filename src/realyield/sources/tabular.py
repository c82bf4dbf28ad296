"""Reading a user's file into text, JSON or CSV rows, whatever the file turns out to be.

Every failure of the file as a whole (missing, empty, binary, wrong encoding, corrupt
gzip, JSON nested too deeply, a CSV line the csv module cannot split) is one
``DataError`` naming the file and what to do; nothing else escapes. Field-level
problems are left to the importers, which reject the row alone.

Column mapping (``--columns date=Date,price=Adj_Close``) renames a file's columns to
the names an importer knows before its layout is detected, so any CSV can be read.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import sys
import zlib
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from realyield.core.errors import ConfigError, DataError

_DELIMITERS = (",", ";", "\t")


def read_text(path: Path) -> str:
    """Read a text file (optionally gzipped), detecting UTF-8/UTF-8-BOM/UTF-16-BOM.

    Raises:
        DataError: missing or empty file, a corrupt gzip stream, bytes that are not
            UTF-8 (with the offset of the first bad byte), or a binary file (NUL in the
            first line; a NUL further down only rejects its row).
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    if not raw.strip():
        raise DataError(f"{path}: the file is empty; nothing to import")
    try:
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = raw.decode("utf-16")
        else:
            text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
            f"{exc.start}); re-save the file as UTF-8 and import again"
        ) from None
    if "\x00" in text.lstrip()[:4096].split("\n", 1)[0]:
        raise DataError(
            f"{path}: a binary file, not a CSV or JSON export (NUL bytes); if it is "
            "UTF-16 text without a byte-order mark, re-save it as UTF-8"
        )
    return text


def load_json(path: Path, text: str) -> Any:
    """Parse a JSON document.

    Raises:
        DataError: invalid JSON (with line and column), nesting too deep to read, or
            an integer too long to convert.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: invalid JSON at line {exc.lineno} col {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise DataError(
            f"{path}: JSON nested too deeply to read (thousands of levels); this is not a "
            "pools export"
        ) from None
    except ValueError:  # the one other ValueError: an integer of more than 4,300 digits
        raise DataError(
            f"{path}: the JSON holds a number of thousands of digits, which no export "
            "writes; fix or re-export the file"
        ) from None


def csv_rows(
    path: Path,
    text: str,
    *,
    columns: Mapping[str, str] | None = None,
    targets: Collection[str] = (),
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header (after ``columns`` renames) and ``(row number, cells)`` of a CSV.

    Row numbers count the header as row 1. The delimiter is ``,`` unless the header
    holds more ``;`` or tabs (European exports). Fields of any length are read (the
    importers refuse over-long values row by row).

    Raises:
        DataError: no header, a header without names, or a line the csv module cannot
            split (with its row number); ConfigError: a bad ``columns`` mapping.
    """
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    csv.field_size_limit(max(csv.field_size_limit(), min(len(text) + 1, sys.maxsize)))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path}: the file is empty; nothing to import") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a CSV file ({exc})") from None
    if not any(header):
        raise DataError(f"{path}: the first line holds no column names")
    if columns:
        header = apply_column_map(path, header, columns, targets)

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise DataError(
                    f"{path}: row {reader.line_num}: the CSV cannot be split ({exc}); "
                    "check the quoting of that line"
                ) from None
            number += 1
            yield number, row

    return header, rows()


def sniff_delimiter(header_line: str) -> str:
    """``,`` unless the header line holds more ``;`` or tabs (European exports)."""
    return max(_DELIMITERS, key=lambda d: (header_line.count(d), d == ","))


def parse_column_map(text: str) -> dict[str, str]:
    """``"date=Date,price=Adj_Close"`` as ``{"date": "Date", "price": "Adj_Close"}``.

    Raises:
        ConfigError: an entry without ``=``, an empty name, or a target named twice.
    """
    mapping: dict[str, str] = {}
    for entry in (e for e in text.split(",") if e.strip()):
        target, sep, source = entry.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise ConfigError(
                f"--columns entry {entry.strip()!r} is not TARGET=COLUMN "
                "(e.g. --columns date=Date,price=Adj_Close)"
            )
        if target.strip().lower() in mapping:
            raise ConfigError(f"--columns names {target.strip()!r} twice")
        mapping[target.strip().lower()] = source.strip()
    if not mapping:
        raise ConfigError("--columns is empty; e.g. --columns date=Date,price=Adj_Close")
    return mapping


def apply_column_map(
    path: Path, header: list[str], mapping: Mapping[str, str], targets: Collection[str]
) -> list[str]:
    """``header`` with each mapped source column renamed to its target name.

    Raises:
        ConfigError: a target the importer does not know (the known ones are listed).
        DataError: a source column the file does not have (its columns are listed).
    """
    unknown = sorted(t for t in mapping if t not in targets)
    if unknown:
        raise ConfigError(
            f"--columns: unknown target(s) {unknown}; this kind of file knows {sorted(targets)}"
        )
    by_name = {h.lower(): i for i, h in enumerate(header)}
    renamed = list(header)
    for target, source in mapping.items():
        index = by_name.get(source.lower())
        if index is None:
            raise DataError(
                f"{path}: --columns {target}={source}: the file has no column {source!r}; "
                f"its columns are {header}"
            )
        renamed[index] = target
    mapped = {by_name[s.lower()] for s in mapping.values()}
    for index, name in enumerate(header):
        if index not in mapped and name.lower() in mapping:
            renamed[index] = f"{name} (not mapped)"  # a column the mapping replaces
    return renamed
