"""Schema version 4: the REST API's keys and jobs.

Frozen: its own table definitions, never the live ``realyield.store.schema``.
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Float, Index, Integer, MetaData, String, Table, Text

VERSION = 4
DESCRIPTION = "api_keys and api_jobs (REST API)"

_md = MetaData()

Table(
    "api_keys",
    _md,
    Column("key_id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("scheme", String(64), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("key_hash", String(256), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("rate_per_min", Float),
    Column("burst", Integer),
)

_jobs = Table(
    "api_jobs",
    _md,
    Column("job_id", String(40), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("submitted_at", String(40), nullable=False),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    Column("params", Text, nullable=False, default="{}"),
    Column("result", Text),
    Column("error", Text),
)
Index("ix_api_jobs_key_status", _jobs.c.key_id, _jobs.c.status)


def upgrade(conn: Connection) -> None:
    """Create the version-4 tables and index (existing ones are kept)."""
    _md.create_all(conn, checkfirst=True)
