"""Schema version 3: alerts and their deliveries, the order journal, paper balances.

Frozen: its own table definitions, never the live ``realyield.store.schema``. Amounts
are exact decimal strings (SQLite's NUMERIC would round them through a double).
"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Date, Index, Integer, MetaData, String, Table, Text

VERSION = 3
DESCRIPTION = "alerts, alert deliveries, order journal, paper balances"

_md = MetaData()

_alerts = Table(
    "alerts",
    _md,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("title", Text, nullable=False),
    Column("evidence", Text, nullable=False, default="{}"),
    Column("action", Text, nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("acknowledged_at", String(40)),
    Column("ack_note", Text),
)
Index("ix_alerts_key_last_day", _alerts.c.key, _alerts.c.last_day)
Index("ix_alerts_status", _alerts.c.status)

Table(
    "alert_deliveries",
    _md,
    Column("alert_id", Integer, primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_attempt_at", String(40)),
    Column("delivered_at", String(40)),
)

_journal = Table(
    "order_journal",
    _md,
    Column("client_order_id", String(64), primary_key=True),
    Column("broker", String(64), nullable=False),
    Column("run_id", String(32), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(16), nullable=False),
    Column("amount", String(64), nullable=False),
    Column("price", String(64)),
    Column("status", String(16), nullable=False),
    Column("exchange_order_id", String(128)),
    Column("filled", String(64)),
    Column("average", String(64)),
    Column("cost", String(64)),
    Column("fee", String(64)),
    Column("fee_currency", String(32)),
    Column("error", Text),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
)
Index("ix_order_journal_broker_status", _journal.c.broker, _journal.c.status)

Table(
    "paper_balances",
    _md,
    Column("account", String(64), primary_key=True),
    Column("asset", String(32), primary_key=True),
    Column("amount", String(64), nullable=False),
    Column("updated_at", String(40), nullable=False),
)


def upgrade(conn: Connection) -> None:
    """Create the version-3 tables and indexes (existing ones are kept)."""
    _md.create_all(conn, checkfirst=True)
