"""Schema version 2: series_info (names of history series) and refresh_runs.

Frozen: its own table definitions, never the live ``realyield.store.schema``.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, Text

VERSION = 2
DESCRIPTION = "series_info and refresh_runs"

_md = MetaData()

Table(
    "series_info",
    _md,
    Column("source", String(64), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("chain", String(64)),
    Column("protocol", String(128)),
    Column("symbol", String(200)),
)

Table(
    "refresh_runs",
    _md,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("status", String(16), nullable=False),
    Column("summary", Text, nullable=False, default="{}"),
)


def upgrade(conn: Connection) -> None:
    """Create the version-2 tables (existing ones are kept)."""
    _md.create_all(conn, checkfirst=True)
