"""Idempotent writes of core records, and rows back into records.

Every write is an upsert keyed by the table's (source, id, date) key, executed in
chunks on the caller's connection, so the caller decides the transaction: a refresh
writes everything inside one ``engine.begin()`` and a failure anywhere rolls all of it
back, leaving the previous data intact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from realyield.core.model import ApyPoint, Asset, Opportunity, PricePoint
from realyield.store import schema

CHUNK_ROWS = 2000


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, replacing the non-key columns of rows whose primary key exists.

    Works on SQLite and PostgreSQL (both support ``ON CONFLICT DO UPDATE``).
    """
    if not rows:
        return 0
    keys = [c.name for c in table.primary_key.columns]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    columns = list(rows[0].keys())
    for start in range(0, len(rows), CHUNK_ROWS):
        stmt = dialect.insert(table)
        updates = {c: stmt.excluded[c] for c in columns if c not in keys}
        stmt = (
            stmt.on_conflict_do_update(index_elements=keys, set_=updates)
            if updates
            else stmt.on_conflict_do_nothing(index_elements=keys)
        )
        conn.execute(stmt, list(rows[start : start + CHUNK_ROWS]))
    return len(rows)


def opportunity_row(opp: Opportunity) -> dict[str, Any]:
    """The store row of an opportunity (lists and meta as JSON text)."""
    return {
        "source": opp.source,
        "id": opp.id,
        "as_of_date": opp.as_of.date(),
        "as_of": opp.as_of.isoformat(),
        "kind": opp.kind,
        "chain": opp.chain,
        "protocol": opp.protocol,
        "symbol": opp.symbol,
        "apy": opp.apy,
        "apy_base": opp.apy_base,
        "apy_reward": opp.apy_reward,
        "tvl_usd": opp.tvl_usd,
        "underlying": json.dumps(list(opp.underlying)),
        "reward_tokens": json.dumps(list(opp.reward_tokens)),
        "exposure": opp.exposure,
        "stablecoin": opp.stablecoin,
        "il_risk": opp.il_risk,
        "lockup_days": opp.lockup_days,
        "audits": opp.audits,
        "launched": opp.launched,
        "meta": json.dumps(dict(opp.meta), sort_keys=True, default=str),
    }


def row_to_opportunity(row: Mapping[Any, Any]) -> Opportunity:
    """Rebuild an Opportunity from its store row (validated again on the way out)."""
    return Opportunity(
        id=row["id"],
        kind=row["kind"],
        chain=row["chain"],
        protocol=row["protocol"],
        symbol=row["symbol"],
        apy=row["apy"],
        apy_base=row["apy_base"],
        apy_reward=row["apy_reward"],
        tvl_usd=row["tvl_usd"],
        as_of=datetime.fromisoformat(row["as_of"]),
        source=row["source"],
        underlying=tuple(json.loads(row["underlying"] or "[]")),
        reward_tokens=tuple(json.loads(row["reward_tokens"] or "[]")),
        exposure=row["exposure"],
        stablecoin=row["stablecoin"],
        il_risk=row["il_risk"],
        lockup_days=row["lockup_days"],
        audits=row["audits"],
        launched=row["launched"],
        meta=json.loads(row["meta"] or "{}"),
    )


def asset_row(asset: Asset) -> dict[str, Any]:
    return {
        "source": asset.source,
        "id": asset.id,
        "as_of_date": asset.as_of.date(),
        "as_of": asset.as_of.isoformat(),
        "symbol": asset.symbol,
        "name": asset.name,
        "category": asset.category,
        "price_usd": asset.price_usd,
        "market_cap_usd": asset.market_cap_usd,
        "circulating_supply": asset.circulating_supply,
        "total_supply": asset.total_supply,
        "supply_inflation": asset.supply_inflation,
    }


def row_to_asset(row: Mapping[Any, Any]) -> Asset:
    return Asset(
        id=row["id"],
        symbol=row["symbol"],
        name=row["name"],
        category=row["category"],
        as_of=datetime.fromisoformat(row["as_of"]),
        source=row["source"],
        price_usd=row["price_usd"],
        market_cap_usd=row["market_cap_usd"],
        circulating_supply=row["circulating_supply"],
        total_supply=row["total_supply"],
        supply_inflation=row["supply_inflation"],
    )


def save_opportunities(conn: Connection, opps: Iterable[Opportunity]) -> int:
    return upsert(conn, schema.opportunities, [opportunity_row(o) for o in opps])


def save_assets(conn: Connection, items: Iterable[Asset]) -> int:
    return upsert(conn, schema.assets, [asset_row(a) for a in items])


def save_apy_history(conn: Connection, source: str, points: Iterable[ApyPoint]) -> int:
    rows = [
        {
            "source": source,
            "id": p.opportunity_id,
            "date": p.date,
            "apy": p.apy,
            "apy_base": p.apy_base,
            "apy_reward": p.apy_reward,
            "tvl_usd": p.tvl_usd,
        }
        for p in points
    ]
    return upsert(conn, schema.apy_history, rows)


def save_prices(conn: Connection, source: str, points: Iterable[PricePoint]) -> int:
    rows = [
        {
            "source": source,
            "asset_id": p.asset_id,
            "date": p.date,
            "price_usd": p.price_usd,
            "market_cap_usd": p.market_cap_usd,
            "volume_usd": p.volume_usd,
        }
        for p in points
    ]
    return upsert(conn, schema.prices, rows)


def save_series_info(conn: Connection, source: str, info: Mapping[str, Mapping[str, str]]) -> int:
    rows = [
        {
            "source": source,
            "id": series,
            "chain": facts.get("chain"),
            "protocol": facts.get("project") or facts.get("protocol"),
            "symbol": facts.get("symbol"),
        }
        for series, facts in info.items()
    ]
    return upsert(conn, schema.series_info, rows)


def set_meta(conn: Connection, key: str, value: str) -> None:
    upsert(conn, schema.store_meta, [{"key": key, "value": value}])


def as_date(value: date | datetime | str) -> date:
    """Coerce a date-ish value read back from any backend into ``date``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
