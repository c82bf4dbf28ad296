"""Tables of the portfolio ledger (one self-contained migration step creates them).

Why these shapes:

* ``ledger_events`` is append-only: rows are never updated or deleted. A correction is
  a new row whose ``reverses`` names the row it cancels (at most one reversal per row,
  enforced by a unique index).
* Idempotency is a unique ``(source, account, key)``: importing the same file or
  exchange history again inserts nothing (``INSERT ... ON CONFLICT DO NOTHING`` on
  SQLite and PostgreSQL alike).
* Money and quantities are ``ExactDecimal``: PostgreSQL ``NUMERIC`` (arbitrary
  precision, read back as ``Decimal``), SQLite exact decimal text. Never floats.
* Times are ISO 8601 UTC text of fixed width (``2024-01-02T03:04:05.000000Z``), so they
  sort and compare as text identically on both backends.
* Lots and gains are not stored: they are recomputed from the events, so they can never
  disagree with them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import NUMERIC
from sqlalchemy.types import TypeDecorator, TypeEngine

from realyield.store.schema import metadata


class ExactDecimal(TypeDecorator[Decimal]):
    """A ``Decimal`` stored exactly: ``NUMERIC`` on PostgreSQL, decimal text on SQLite."""

    impl = String(80)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(NUMERIC(asdecimal=True))
        return dialect.type_descriptor(String(80))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"ExactDecimal takes Decimal values, got {type(value).__name__}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


_SEQ = BigInteger().with_variant(Integer, "sqlite")

ledger_imports = Table(
    "ledger_imports",
    metadata,
    Column("import_id", _SEQ, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("account", String(128), nullable=False),
    Column("origin", Text, nullable=False),  # file name or exchange id
    Column("digest", String(64)),  # sha256 of the file, when a file
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    # running | done | partial (some rows rejected) | failed | interrupted
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("inserted", Integer, nullable=False, default=0),
    Column("duplicates", Integer, nullable=False, default=0),
    # added in schema version 6: who runs the import (to tell a killed run from a live
    # one), its last sign of life, the rows it rejected and why it ended as it did
    Column("rejected", Integer, nullable=False, default=0),
    Column("host", String(255)),
    Column("pid", Integer),
    Column("pid_started", Float),  # the process's start (epoch s): a reused pid differs
    Column("heartbeat_at", String(32)),
    Column("message", Text),
)

ledger_events = Table(
    "ledger_events",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("account", String(128), nullable=False),
    Column("key", String(255), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("time", String(32), nullable=False),
    Column("asset", String(64), nullable=False),
    Column("asset_id", String(128)),
    Column("amount", ExactDecimal, nullable=False),
    Column("counter_asset", String(64)),
    Column("counter_asset_id", String(128)),
    Column("counter_amount", ExactDecimal),
    Column("fee_asset", String(64)),
    Column("fee_asset_id", String(128)),
    Column("fee_amount", ExactDecimal),
    Column("value", ExactDecimal),
    Column("fee_value", ExactDecimal),
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
Index("ix_ledger_events_time", ledger_events.c.time, ledger_events.c.seq)
Index("ux_ledger_events_reverses", ledger_events.c.reverses, unique=True)

ledger_methods = Table(
    "ledger_methods",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("method", String(8), nullable=False),
    Column("chosen_at", String(32), nullable=False),
)

LEDGER_TABLES = (ledger_imports, ledger_events, ledger_methods)
