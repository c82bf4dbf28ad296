"""Schema version 5: the portfolio ledger (events, import runs, methods per tax year).

Frozen: the tables as version 5 created them, never the live
``realyield.store.ledger_tables``. Exact decimals are ``NUMERIC`` on PostgreSQL and
decimal text (VARCHAR(80)) on SQLite, the DDL the live ``ExactDecimal`` type emits.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import NUMERIC

VERSION = 5
DESCRIPTION = "portfolio ledger: events, imports, methods per tax year"

_SEQ = BigInteger().with_variant(Integer, "sqlite")
_EXACT = String(80).with_variant(NUMERIC(), "postgresql")

_md = MetaData()

Table(
    "ledger_imports",
    _md,
    Column("import_id", _SEQ, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("account", String(128), nullable=False),
    Column("origin", Text, nullable=False),
    Column("digest", String(64)),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("inserted", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
)

_events = Table(
    "ledger_events",
    _md,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("account", String(128), nullable=False),
    Column("key", String(255), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("time", String(32), nullable=False),
    Column("asset", String(64), nullable=False),
    Column("asset_id", String(128)),
    Column("amount", _EXACT, nullable=False),
    Column("counter_asset", String(64)),
    Column("counter_asset_id", String(128)),
    Column("counter_amount", _EXACT),
    Column("fee_asset", String(64)),
    Column("fee_asset_id", String(128)),
    Column("fee_amount", _EXACT),
    Column("value", _EXACT),
    Column("fee_value", _EXACT),
    Column("fiat", String(8), nullable=False),
    Column("price_source", String(64)),
    Column("price_date", String(10)),
    Column("price_age_s", BigInteger),
    Column("warning", Text),
    Column("opportunity", String(200)),
    Column("note", Text),
    Column("reverses", _SEQ),
    Column("import_id", _SEQ),
    Column("recorded_at", String(32), nullable=False),
    UniqueConstraint("source", "account", "key", name="uq_ledger_events_key"),
)
Index("ix_ledger_events_time", _events.c.time, _events.c.seq)
Index("ux_ledger_events_reverses", _events.c.reverses, unique=True)

Table(
    "ledger_methods",
    _md,
    Column("year", Integer, primary_key=True),
    Column("method", String(8), nullable=False),
    Column("chosen_at", String(32), nullable=False),
)


def upgrade(conn: Connection) -> None:
    """Create the ledger tables and indexes (existing ones are kept)."""
    _md.create_all(conn, checkfirst=True)
