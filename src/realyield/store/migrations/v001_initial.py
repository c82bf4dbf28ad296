"""Schema version 1 (first release): store metadata, opportunities, APY history,
assets and prices.

Frozen: these table definitions are copies of what version 1 created, never the live
``realyield.store.schema``; editing the live schema must come with a new step.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

VERSION = 1
DESCRIPTION = "opportunities, apy_history, assets, prices"

_md = MetaData()

Table(
    "store_meta",
    _md,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

_opportunities = Table(
    "opportunities",
    _md,
    Column("source", String(64), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("as_of_date", Date, primary_key=True),
    Column("as_of", String(40), nullable=False),
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
Index("ix_opportunities_as_of_date", _opportunities.c.as_of_date)

Table(
    "apy_history",
    _md,
    Column("source", String(64), primary_key=True),
    Column("id", String(200), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("apy", Float),
    Column("apy_base", Float),
    Column("apy_reward", Float),
    Column("tvl_usd", Float),
)

Table(
    "assets",
    _md,
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

Table(
    "prices",
    _md,
    Column("source", String(64), primary_key=True),
    Column("asset_id", String(128), primary_key=True),
    Column("date", Date, primary_key=True),
    Column("price_usd", Float, nullable=False),
    Column("market_cap_usd", Float),
    Column("volume_usd", Float),
)


def upgrade(conn: Connection) -> None:
    """Create the version-1 tables and their index (existing ones are kept)."""
    _md.create_all(conn, checkfirst=True)
