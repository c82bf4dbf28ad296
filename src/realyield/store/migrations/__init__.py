"""Versioned schema migrations with a backup before each upgrade.

Why not Alembic: the schema is small and ships inside a desktop tool whose users never
run a migration command; a tiny ordered list of Python steps, each in its own
transaction and recorded in ``store_meta.schema_version``, is easier to audit. Every
upgrade of a file database first copies it (SQLite online backup API) to
``<home>/backups/``, so a failed upgrade can always be undone by hand.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from realyield.core.errors import StoreError
from realyield.store.migrations import (
    v001_initial,
    v002_series_and_runs,
    v003_monitor_and_execution,
    v004_api_keys_and_jobs,
    v005_ledger_tables,
    v006_ledger_import_owner,
)

Migration = Callable[[Connection], None]

#: The released steps, in order. Append only: a step is a module of its own
#: (``vNNN_name.py``) with frozen table definitions; it never imports the live schema
#: (``realyield.store.schema`` / ``ledger_tables``), so editing those cannot change what
#: an upgrade does. tests/store/test_migrations.py checks both rules.
_STEPS = (
    v001_initial,
    v002_series_and_runs,
    v003_monitor_and_execution,
    v004_api_keys_and_jobs,
    v005_ledger_tables,
    v006_ledger_import_owner,
)

#: (version, description, step).
MIGRATIONS: tuple[tuple[int, str, Migration], ...] = tuple(
    (m.VERSION, m.DESCRIPTION, m.upgrade) for m in _STEPS
)
LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(engine: Engine) -> int:
    """The schema version recorded in the database (0 for an empty database)."""
    if not inspect(engine).has_table("store_meta"):
        return 0
    with engine.connect() as conn:
        value = conn.execute(
            text("SELECT value FROM store_meta WHERE key = 'schema_version'")
        ).scalar_one_or_none()
    return int(value) if value is not None else 0


def _record_version(conn: Connection, number: int) -> None:
    """Write ``schema_version`` in the step's own transaction (plain SQL: the runner
    does not depend on the live schema either)."""
    conn.execute(text("DELETE FROM store_meta WHERE key = 'schema_version'"))
    conn.execute(
        text("INSERT INTO store_meta (key, value) VALUES ('schema_version', :v)"),
        {"v": str(number)},
    )


def backup_sqlite(db_path: Path, backup_dir: Path, version: int) -> Path:
    """Copy a live SQLite database consistently (online backup API) and return the copy."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backup_dir / f"{db_path.stem}-v{version}-{stamp}.db"
    source = sqlite3.connect(db_path)
    try:
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    return target


def migrate(engine: Engine, *, backup_dir: Path | None = None) -> list[int]:
    """Bring the schema to ``LATEST_VERSION``; return the versions applied.

    Raises:
        StoreError: the database is newer than this realyield, or a step failed (the
            failed step is rolled back; earlier steps and the backup remain).
    """
    version = current_version(engine)
    if version > LATEST_VERSION:
        raise StoreError(
            f"the database has schema version {version} but this realyield knows only up to "
            f"{LATEST_VERSION}: upgrade realyield (pip install -U realyield)"
        )
    pending = [m for m in MIGRATIONS if m[0] > version]
    if not pending:
        return []
    db_file = engine.url.database
    if version > 0 and engine.dialect.name == "sqlite" and db_file and db_file != ":memory:":
        backup_sqlite(Path(db_file), backup_dir or Path(db_file).parent / "backups", version)
    applied: list[int] = []
    for number, description, step in pending:
        try:
            with engine.begin() as conn:
                step(conn)
                _record_version(conn, number)
        except Exception as exc:
            raise StoreError(
                f"migration to schema version {number} ({description}) failed: {exc}; "
                "the database is left at the previous version and a backup is in backups/"
            ) from exc
        applied.append(number)
    return applied
