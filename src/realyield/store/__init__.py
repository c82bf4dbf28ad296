"""The one embedded database: SQLite (WAL) through SQLAlchemy Core, PostgreSQL-ready."""
