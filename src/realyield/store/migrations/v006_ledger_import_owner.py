"""Schema version 6: import runs record who runs them (host, pid), their last sign of
life and the rows they rejected, so a killed run can be told from a live one.

Frozen DDL of its own. Adds only the columns a database lacks: a database created at
version 5 by the code of the version-6 release already has them.
"""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

VERSION = 6
DESCRIPTION = "ledger import runs: host, pid, heartbeat, rejected rows"

_ADDED = (
    ("rejected", "INTEGER NOT NULL DEFAULT 0"),
    ("host", "VARCHAR(255)"),
    ("pid", "INTEGER"),
    ("pid_started", "FLOAT"),
    ("heartbeat_at", "VARCHAR(32)"),
    ("message", "TEXT"),
)


def upgrade(conn: Connection) -> None:
    """Add the version-6 columns to ``ledger_imports``."""
    columns = {c["name"] for c in inspect(conn).get_columns("ledger_imports")}
    for name, ddl in _ADDED:
        if name not in columns:
            conn.execute(text(f"ALTER TABLE ledger_imports ADD COLUMN {name} {ddl}"))
