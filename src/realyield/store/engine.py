"""Opening the store: one SQLite file under ``REALYIELD_HOME`` (WAL), or a server URL.

SQLite gets WAL journaling (readers never block the writer and a crash mid-write never
corrupts committed data), foreign keys and a busy timeout. PostgreSQL URLs go through
the same SQLAlchemy Core layer. Opening always runs pending migrations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

from realyield.core.errors import StoreError
from realyield.core.settings import Settings
from realyield.store.migrations import migrate


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def open_store(settings: Settings | None = None, *, url: str | None = None) -> Engine:
    """Create (if needed), migrate and return the store's engine.

    Raises:
        StoreError: the directory cannot be created, or the database cannot be opened
            or migrated.
    """
    if url is None:
        if settings is None:
            raise StoreError("open_store needs settings or a database url")
        url = settings.resolved_database_url()
        if not settings.database_url:
            try:
                settings.home.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the data directory {settings.home}: {exc}; set "
                    "REALYIELD_HOME to a writable directory"
                ) from exc
    try:
        engine = create_engine(url, future=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        backup_dir = settings.home / "backups" if settings is not None else None
        if backup_dir is None and engine.url.database not in (None, "", ":memory:"):
            backup_dir = Path(str(engine.url.database)).parent / "backups"
        migrate(engine, backup_dir=backup_dir)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the store at {url}: {exc}") from exc
    return engine
