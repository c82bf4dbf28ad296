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

from sqlalchemy import Connection, Engine, inspect, select, text

from realyield.core.errors import StoreError
from realyield.store import schema

Migration = Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    for table in (
        schema.store_meta,
        schema.opportunities,
        schema.apy_history,
        schema.assets,
        schema.prices,
    ):
        table.create(conn, checkfirst=True)
    for index in schema.opportunities.indexes:
        index.create(conn, checkfirst=True)


def _v2_series_and_runs(conn: Connection) -> None:
    schema.series_info.create(conn, checkfirst=True)
    schema.refresh_runs.create(conn, checkfirst=True)


def _v3_monitor_and_execution(conn: Connection) -> None:
    """Alerts and their deliveries, the order journal, paper-trading balances.

    Self-contained (creates only its own tables) so it can take any number when
    branches that add other steps are merged.
    """
    for table in (
        schema.alerts,
        schema.alert_deliveries,
        schema.order_journal,
        schema.paper_balances,
    ):
        table.create(conn, checkfirst=True)
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _v4_api_keys_and_jobs(conn: Connection) -> None:
    schema.api_keys.create(conn, checkfirst=True)
    schema.api_jobs.create(conn, checkfirst=True)
    for index in schema.api_jobs.indexes:
        index.create(conn, checkfirst=True)


def _v5_ledger_tables(conn: Connection) -> None:
    """The portfolio ledger (self-contained: renumber freely when merging)."""
    from realyield.store import ledger_tables

    for table in ledger_tables.LEDGER_TABLES:
        table.create(conn, checkfirst=True)
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _v6_ledger_import_owner(conn: Connection) -> None:
    """Import runs record who runs them (host, pid), their last sign of life and the
    rows they rejected, so a killed run can be told from a live one and marked
    ``interrupted``. Frozen DDL of its own; adds only the columns a database lacks
    (a database created at v5 by this version's code already has them)."""
    columns = {c["name"] for c in inspect(conn).get_columns("ledger_imports")}
    added = (
        ("rejected", "INTEGER NOT NULL DEFAULT 0"),
        ("host", "VARCHAR(255)"),
        ("pid", "INTEGER"),
        ("pid_started", "FLOAT"),
        ("heartbeat_at", "VARCHAR(32)"),
        ("message", "TEXT"),
    )
    for name, ddl in added:
        if name not in columns:
            conn.execute(text(f"ALTER TABLE ledger_imports ADD COLUMN {name} {ddl}"))


#: (version, description, step). Append only; never edit a released step.
MIGRATIONS: tuple[tuple[int, str, Migration], ...] = (
    (1, "opportunities, apy_history, assets, prices", _v1_initial),
    (2, "series_info and refresh_runs", _v2_series_and_runs),
    (3, "alerts, alert deliveries, order journal, paper balances", _v3_monitor_and_execution),
    (4, "api_keys and api_jobs (REST API)", _v4_api_keys_and_jobs),
    (5, "portfolio ledger: events, imports, methods per tax year", _v5_ledger_tables),
    (6, "ledger import runs: host, pid, heartbeat, rejected rows", _v6_ledger_import_owner),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(engine: Engine) -> int:
    """The schema version recorded in the database (0 for an empty database)."""
    if not inspect(engine).has_table("store_meta"):
        return 0
    with engine.connect() as conn:
        value = conn.execute(
            select(schema.store_meta.c.value).where(schema.store_meta.c.key == "schema_version")
        ).scalar_one_or_none()
    return int(value) if value is not None else 0


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
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

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
                values = {"key": "schema_version", "value": str(number)}
                if engine.dialect.name == "sqlite":
                    stmt = sqlite_insert(schema.store_meta).values(values)
                    conn.execute(
                        stmt.on_conflict_do_update(
                            index_elements=["key"], set_={"value": stmt.excluded.value}
                        )
                    )
                else:
                    conn.execute(
                        schema.store_meta.delete().where(
                            schema.store_meta.c.key == "schema_version"
                        )
                    )
                    conn.execute(schema.store_meta.insert().values(values))
        except Exception as exc:
            raise StoreError(
                f"migration to schema version {number} ({description}) failed: {exc}; "
                "the database is left at the previous version and a backup is in backups/"
            ) from exc
        applied.append(number)
    return applied
