"""Tables of the store, as SQLAlchemy Core metadata.

Histories are long tables keyed by (source, id, date) so upserts are idempotent and
several sources can hold the same series side by side; the universe layer decides which
one to show. Lists and ``meta`` are JSON text so SQLite and PostgreSQL store them alike.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

opportunities = Table(
    "opportunities",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("as_of_date", Date, primary_key=True),
    Column("as_of", String(40), nullable=False),  # ISO 8601 UTC instant
    Column("kind", String(32), nullable=False),
    Column("chain", String(64), nullable=False),
    Column("protocol", String(128), nullable=False),
    Column("symbol", String(200), nullable=False),
    Column("apy", Float),
    Column("apy_base", Float),
    Column("apy_reward", Float),
    Column("tvl_usd", Float),
    Column("underlying", Text, nullable=False, default="[]"),
    Column("reward_tokens", Text, nullable=False, default="[]"),
    Column("exposure", String(16)),
    Column("stablecoin", Boolean),
    Column("il_risk", Boolean),
    Column("lockup_days", Float),
    Column("audits", Integer),
    Column("launched", Date),
    Column("meta", Text, nullable=False, default="{}"),
)
Index("ix_opportunities_as_of_date", opportunities.c.as_of_date)

apy_history = Table(
    "apy_history",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("apy", Float),
    Column("apy_base", Float),
    Column("apy_reward", Float),
    Column("tvl_usd", Float),
)

assets = Table(
    "assets",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("as_of_date", Date, primary_key=True),
    Column("as_of", String(40), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("price_usd", Float),
    Column("market_cap_usd", Float),
    Column("circulating_supply", Float),
    Column("total_supply", Float),
    Column("supply_inflation", Float),
)

prices = Table(
    "prices",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("asset_id", String(128), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("price_usd", Float, nullable=False),
    Column("market_cap_usd", Float),
    Column("volume_usd", Float),
)

# --- added in schema version 2 -------------------------------------------------------

series_info = Table(
    "series_info",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("chain", String(64)),
    Column("protocol", String(128)),
    Column("symbol", String(200)),
)

refresh_runs = Table(
    "refresh_runs",
    metadata,
    Column("run_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40)),
    Column("status", String(16), nullable=False),  # ok | failed | offline
    Column("summary", Text, nullable=False, default="{}"),
)

# --- monitoring and execution (one migration step: ``_v3_monitor_and_execution``) -----
# Money and amounts are exact decimal strings (``str(Decimal)``): SQLite's NUMERIC
# would round them through a double.

alerts = Table(
    "alerts",
    metadata,
    Column("alert_id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(300), nullable=False),  # rule:subject, the de-duplication key
    Column("rule", String(64), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("severity", String(16), nullable=False),  # info | warning | critical
    Column("title", Text, nullable=False),
    Column("evidence", Text, nullable=False, default="{}"),  # JSON: numbers and dates
    Column("action", Text, nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("occurrences", Integer, nullable=False, default=1),
    Column("status", String(16), nullable=False),  # open | acknowledged
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("acknowledged_at", String(40)),
    Column("ack_note", Text),
)
Index("ix_alerts_key_last_day", alerts.c.key, alerts.c.last_day)
Index("ix_alerts_status", alerts.c.status)

alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("alert_id", Integer, primary_key=True),
    Column("channel", String(64), primary_key=True),  # webhook | email | ...
    Column("status", String(16), nullable=False),  # pending | delivered | failed
    Column("severity", String(16), nullable=False),  # the severity this delivery carries
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("last_attempt_at", String(40)),
    Column("delivered_at", String(40)),
)

order_journal = Table(
    "order_journal",
    metadata,
    Column("client_order_id", String(64), primary_key=True),
    Column("broker", String(64), nullable=False),  # paper:ACCOUNT | ccxt:EXCHANGE
    Column("run_id", String(32), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("side", String(4), nullable=False),
    Column("type", String(16), nullable=False),
    Column("amount", String(64), nullable=False),
    Column("price", String(64)),
    # submitting | open | closed | canceled | expired | rejected | unknown
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
Index("ix_order_journal_broker_status", order_journal.c.broker, order_journal.c.status)

paper_balances = Table(
    "paper_balances",
    metadata,
    Column("account", String(64), primary_key=True),
    Column("asset", String(32), primary_key=True),
    Column("amount", String(64), nullable=False),
    Column("updated_at", String(40), nullable=False),
)

# --- added in schema version 4: the REST API's keys and jobs -------------------------

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),  # public part of the key, for lookup
    Column("name", String(100), nullable=False),
    Column("scheme", String(64), nullable=False),  # e.g. scrypt:n=16384,r=8,p=1
    Column("salt", String(64), nullable=False),  # hex
    Column("key_hash", String(256), nullable=False),  # hex; the secret itself is never stored
    Column("created_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("rate_per_min", Float),  # per-key override of the default limit
    Column("burst", Integer),
)

api_jobs = Table(
    "api_jobs",
    metadata,
    Column("job_id", String(40), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | succeeded | failed
    Column("submitted_at", String(40), nullable=False),
    Column("started_at", String(40)),
    Column("finished_at", String(40)),
    Column("params", Text, nullable=False, default="{}"),
    Column("result", Text),
    Column("error", Text),
)
Index("ix_api_jobs_key_status", api_jobs.c.key_id, api_jobs.c.status)
