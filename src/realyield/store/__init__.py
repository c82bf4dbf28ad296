"""The one embedded database: SQLite (WAL) through SQLAlchemy Core, PostgreSQL-ready."""

# the submodules (``from realyield.store import *`` imports them)
__all__ = [
    "engine",
    "ledger_tables",
    "migrations",
    "records",
    "schema",
]
