"""``realyield ledger backup|restore``: a portable, verifiable copy of the ledger.

Why a logical backup rather than a copy of the database file: it works the same on
SQLite and PostgreSQL (and moves a ledger from one to the other), and it can be
checked. The file is gzip-compressed JSON lines: a header line (format, schema
version, creation time), one line per row (Decimals as exact text), and a footer with
the row counts and a sha256 of every row line; a truncated or edited file is refused.

Restore is the one operation that replaces ledger rows, so it refuses a non-empty
ledger unless ``replace=True``, and then first backs up what it replaces. It runs in
one transaction: it either restores everything or changes nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Engine, Table, delete, func, select, text
from sqlalchemy import exc as sa_exc

from realyield.core import clock
from realyield.core.errors import DataError, StoreError
from realyield.portfolio.events import dec_text
from realyield.store.ledger_tables import (
    LEDGER_TABLES,
    ExactDecimal,
    ledger_events,
    ledger_imports,
    ledger_methods,
)
from realyield.store.migrations import current_version

FORMAT: Final = "realyield-ledger-backup"
VERSION: Final = 1
_ORDER: Final = (ledger_imports, ledger_events, ledger_methods)  # restore order


@dataclass(frozen=True)
class BackupResult:
    path: Path
    counts: dict[str, int]
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "counts": self.counts, "sha256": self.sha256}


def _decimal_columns(table: Table) -> set[str]:
    return {c.name for c in table.columns if isinstance(c.type, ExactDecimal)}


def _encode(row: dict[str, Any], decimals: set[str]) -> dict[str, Any]:
    return {
        k: (dec_text(v) if k in decimals and isinstance(v, Decimal) else v) for k, v in row.items()
    }


def backup(engine: Engine, path: Path) -> BackupResult:
    """Write every ledger row to ``path`` (gzip JSON lines) and return the counts.

    Raises:
        StoreError: the file cannot be written.
    """
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    tmp = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(tmp, "wt", encoding="utf-8") as fh, engine.connect() as conn:
            header = {
                "format": FORMAT,
                "version": VERSION,
                "schema_version": current_version(engine),
                "created_at": clock.now().isoformat(),
                "dialect": engine.dialect.name,
            }
            fh.write(json.dumps(header) + "\n")
            for table in _ORDER:
                decimals = _decimal_columns(table)
                key = list(table.primary_key.columns)
                rows = conn.execute(select(table).order_by(*key)).mappings()
                n = 0
                for row in rows:
                    line = json.dumps(
                        {"t": table.name, "r": _encode(dict(row), decimals)}, sort_keys=True
                    )
                    digest.update(line.encode("utf-8"))
                    fh.write(line + "\n")
                    n += 1
                counts[table.name] = n
            fh.write(
                json.dumps({"end": True, "counts": counts, "sha256": digest.hexdigest()}) + "\n"
            )
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StoreError(f"cannot write the ledger backup {path}: {exc}") from exc
    return BackupResult(path, counts, digest.hexdigest())


def _read(path: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in _ORDER}
    digest = hashlib.sha256()
    footer: dict[str, Any] | None = None
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            header = json.loads(fh.readline() or "{}")
            if not isinstance(header, dict) or header.get("format") != FORMAT:
                raise DataError(f"{path} is not a realyield ledger backup")
            for line in fh:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise DataError(f"{path}: a line of the backup is not a JSON object")
                if item.get("end"):
                    footer = item
                    break
                if item.get("t") not in rows:
                    raise DataError(f"{path}: unknown table {item.get('t')!r} in the backup")
                digest.update(line.rstrip("\n").encode("utf-8"))
                rows[item["t"]].append(item["r"])
    except (OSError, EOFError, json.JSONDecodeError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable ledger backup ({exc})") from exc
    except RecursionError:  # JSON nested thousands deep: not a backup this tool wrote
        raise DataError(f"{path}: unreadable ledger backup (JSON nested too deeply)") from None
    if footer is None:
        raise DataError(f"{path}: the backup is truncated (no end marker); use another copy")
    counts = {name: len(items) for name, items in rows.items()}
    if footer.get("counts") != counts or footer.get("sha256") != digest.hexdigest():
        raise DataError(f"{path}: the backup does not match its checksum; it was altered")
    return header, rows


def restore(
    engine: Engine, path: Path, *, replace: bool = False, backup_dir: Path | None = None
) -> BackupResult:
    """Load a backup into the ledger (all or nothing).

    Raises:
        DataError: not a ledger backup, truncated or altered, or from a newer schema;
            or the ledger has events and ``replace`` is False.
        StoreError: the safety backup before replacing could not be written.
    """
    header, rows = _read(path)
    if int(header.get("schema_version", 0)) > current_version(engine):
        raise DataError(f"{path} comes from a newer realyield schema; upgrade realyield first")
    with engine.connect() as conn:
        existing = int(conn.execute(select(func.count()).select_from(ledger_events)).scalar_one())
    if existing and not replace:
        raise DataError(
            f"the ledger already has {existing} events; restore with --replace to replace "
            "them (a backup of the current ledger is taken first)"
        )
    if existing:
        stamp = clock.now().strftime("%Y%m%dT%H%M%S%fZ")
        folder = backup_dir or path.parent
        backup(engine, folder / f"ledger-before-restore-{stamp}.jsonl.gz")
    decoded = {table.name: _decode(path, table, rows[table.name]) for table in _ORDER}
    try:
        with engine.begin() as conn:
            _replace_rows(conn, decoded)
    except sa_exc.StatementError as exc:
        if isinstance(exc, sa_exc.DBAPIError) and not isinstance(
            exc, sa_exc.DataError | sa_exc.IntegrityError
        ):
            raise
        reason = str(exc.orig if exc.orig is not None else exc).split("\n")[0][:300]
        raise DataError(
            f"{path}: the backup's rows do not fit the ledger ({reason}); nothing was changed"
        ) from exc
    counts = {name: len(items) for name, items in rows.items()}
    return BackupResult(path, counts, "")


def _decode(path: Path, table: Table, items: list[Any]) -> list[dict[str, Any]]:
    """A table's backup rows with Decimals restored.

    Raises:
        DataError: a row is not an object or a decimal column holds no number.
    """
    decimals = _decimal_columns(table)
    try:
        return [
            {k: (Decimal(v) if k in decimals and v is not None else v) for k, v in r.items()}
            for r in items
        ]
    except (AttributeError, TypeError, ArithmeticError) as exc:
        raise DataError(f"{path}: a {table.name} row of the backup is malformed ({exc})") from None


def _replace_rows(conn: Connection, decoded: dict[str, list[dict[str, Any]]]) -> None:
    for table in reversed(_ORDER):
        conn.execute(delete(table))
    for table in _ORDER:
        items = decoded[table.name]
        for start in range(0, len(items), 5000):
            conn.execute(table.insert(), items[start : start + 5000])
    if conn.dialect.name == "postgresql":
        # Explicit ids were inserted: move the sequences past them.
        for seq_table, column in ((ledger_events, "seq"), (ledger_imports, "import_id")):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{seq_table.name}', '{column}'), "
                    f"COALESCE((SELECT MAX({column}) FROM {seq_table.name}), 0) + 1, false)"
                )
            )


__all__ = ["LEDGER_TABLES", "BackupResult", "backup", "restore"]
