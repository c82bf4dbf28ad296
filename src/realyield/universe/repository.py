"""Reading the universe back from the store: point-in-time views and history frames.

No look-ahead: ``as_of`` views only see records dated on or before it. When several
sources hold the same id, the newest record wins, and on the same day the more direct
source wins (live API over an imported file over the bundled snapshot). The bundled
snapshot is illustrative; it is shown only when asked for, or when nothing else is
stored, so it never mixes silently with real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine, Table, case, func, select

from realyield.core.errors import ConfigError
from realyield.core.model import OPPORTUNITY_KINDS, Asset, Opportunity
from realyield.store import schema
from realyield.store.records import as_date, row_to_asset, row_to_opportunity

SNAPSHOT_SOURCE = "snapshot"
SOURCE_PRIORITY = {"defillama": 0, "coingecko": 0, "exchange": 1, "file": 2, SNAPSHOT_SOURCE: 9}
SORT_KEYS = ("apy", "tvl")


@dataclass(frozen=True)
class UniverseQuery:
    """Filters of a universe view. ``kind``/``chain``/``protocol`` match case-insensitively."""

    as_of: date | None = None
    kind: str | None = None
    chain: str | None = None
    protocol: str | None = None
    min_tvl_usd: float | None = None
    sources: tuple[str, ...] | None = None
    sort: str = "tvl"
    limit: int | None = None
    max_age_days: int | None = 30

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in OPPORTUNITY_KINDS:
            raise ConfigError(f"unknown kind {self.kind!r}; use one of {OPPORTUNITY_KINDS}")
        if self.sort not in SORT_KEYS:
            raise ConfigError(f"unknown sort {self.sort!r}; use one of {SORT_KEYS}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be a positive number, not {self.limit}")
        if self.max_age_days is not None and self.max_age_days < 0:
            raise ConfigError(f"max age must be >= 0 days, not {self.max_age_days}")
        if self.min_tvl_usd is not None and not self.min_tvl_usd >= 0:
            raise ConfigError(f"min TVL must be a non-negative number, not {self.min_tvl_usd}")


def _priority(column: Any) -> Any:
    return case(*((column == name, rank) for name, rank in SOURCE_PRIORITY.items()), else_=5)


def stored_sources(engine: Engine) -> dict[str, dict[str, Any]]:
    """Per source: number of opportunity rows and the newest as_of date stored."""
    t = schema.opportunities
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.source, func.count(), func.max(t.c.as_of_date)).group_by(t.c.source)
        ).all()
    return {r[0]: {"rows": r[1], "latest": as_date(r[2]) if r[2] else None} for r in rows}


def default_sources(engine: Engine) -> tuple[str, ...]:
    """Every stored source but the snapshot, or the snapshot when nothing else exists."""
    names = tuple(sorted(stored_sources(engine)))
    real = tuple(n for n in names if n != SNAPSHOT_SOURCE)
    return real or names


def _newest_date(engine: Engine, sources: Sequence[str]) -> date | None:
    t = schema.opportunities
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(t.c.as_of_date)).where(t.c.source.in_(sources))
        ).scalar_one_or_none()
    return as_date(value) if value is not None else None


def load_universe(engine: Engine, query: UniverseQuery = UniverseQuery()) -> list[Opportunity]:
    """The universe as of ``query.as_of`` (default: the newest stored), filtered and sorted.

    An opportunity whose newest record is more than ``query.max_age_days`` older than
    the view's date (``as_of``, else the newest record of the chosen sources) has left
    the universe: the pool died, was delisted, or its source stopped listing it. Such
    records stay in the store for point-in-time views and backtests.
    """
    t = schema.opportunities
    sources = query.sources if query.sources is not None else default_sources(engine)
    if not sources:
        return []
    ranked = select(
        t,
        func.row_number()
        .over(partition_by=t.c.id, order_by=(t.c.as_of_date.desc(), _priority(t.c.source)))
        .label("rank"),
    ).where(t.c.source.in_(sources))
    if query.as_of is not None:
        ranked = ranked.where(t.c.as_of_date <= query.as_of)
    sub = ranked.subquery()
    stmt = select(*[sub.c[c.name] for c in t.columns]).where(sub.c.rank == 1)
    if query.max_age_days is not None:
        reference = query.as_of or _newest_date(engine, sources)
        if reference is not None:
            stmt = stmt.where(sub.c.as_of_date >= reference - timedelta(days=query.max_age_days))
    if query.kind:
        stmt = stmt.where(sub.c.kind == query.kind)
    if query.chain:
        stmt = stmt.where(func.lower(sub.c.chain) == query.chain.lower())
    if query.protocol:
        stmt = stmt.where(func.lower(sub.c.protocol) == query.protocol.lower())
    if query.min_tvl_usd is not None:
        stmt = stmt.where(sub.c.tvl_usd >= query.min_tvl_usd)
    key = sub.c.apy if query.sort == "apy" else sub.c.tvl_usd
    stmt = stmt.order_by(key.is_(None), key.desc(), sub.c.id)
    if query.limit:
        stmt = stmt.limit(query.limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    return [row_to_opportunity(r) for r in rows]


def load_assets(engine: Engine, *, as_of: date | None = None) -> list[Asset]:
    """The latest stored facts per asset (newest date, then source priority)."""
    t = schema.assets
    ranked = select(
        t,
        func.row_number()
        .over(partition_by=t.c.id, order_by=(t.c.as_of_date.desc(), _priority(t.c.source)))
        .label("rank"),
    )
    if as_of is not None:
        ranked = ranked.where(t.c.as_of_date <= as_of)
    sub = ranked.subquery()
    stmt = select(*[sub.c[c.name] for c in t.columns]).where(sub.c.rank == 1).order_by(sub.c.id)
    with engine.connect() as conn:
        return [row_to_asset(r) for r in conn.execute(stmt).mappings().all()]


_APY_SCHEMA = {
    "source": pl.Utf8,
    "id": pl.Utf8,
    "date": pl.Date,
    "apy": pl.Float64,
    "apy_base": pl.Float64,
    "apy_reward": pl.Float64,
    "tvl_usd": pl.Float64,
}
_PRICE_SCHEMA = {
    "source": pl.Utf8,
    "asset_id": pl.Utf8,
    "date": pl.Date,
    "price_usd": pl.Float64,
    "market_cap_usd": pl.Float64,
    "volume_usd": pl.Float64,
}


def _best_source_per_day(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    if frame.is_empty():
        return frame
    rank = pl.col("source").replace_strict(SOURCE_PRIORITY, default=5, return_dtype=pl.Int64)
    return (
        frame.with_columns(rank.alias("_rank"))
        .sort([key, "date", "_rank"])
        .unique(subset=[key, "date"], keep="first", maintain_order=True)
        .drop("_rank")
    )


def _history_frame(
    engine: Engine,
    table: Table,
    key: str,
    frame_schema: dict[str, Any],
    ids: Sequence[str] | None,
    start: date | None,
    end: date | None,
) -> pl.DataFrame:
    stmt = select(table)
    if ids is not None:
        stmt = stmt.where(table.c[key].in_(list(ids)))
    if start is not None:
        stmt = stmt.where(table.c.date >= start)
    if end is not None:
        stmt = stmt.where(table.c.date <= end)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pl.DataFrame([tuple(r) for r in rows], schema=frame_schema, orient="row")
    return _best_source_per_day(frame, key)


def apy_history_frame(
    engine: Engine,
    ids: Sequence[str] | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """Daily APY/TVL history as a long frame (id, date, ...), one source per (id, date)."""
    return _history_frame(engine, schema.apy_history, "id", _APY_SCHEMA, ids, start, end)


def price_history_frame(
    engine: Engine,
    asset_ids: Sequence[str] | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """Daily prices as a long frame (asset_id, date, price_usd, ...), one source a day."""
    return _history_frame(engine, schema.prices, "asset_id", _PRICE_SCHEMA, asset_ids, start, end)


def table_counts(engine: Engine) -> dict[str, int]:
    """Row counts of the data tables (for status output and tests)."""
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for table in (schema.opportunities, schema.apy_history, schema.assets, schema.prices):
            out[table.name] = int(
                conn.execute(select(func.count()).select_from(table)).scalar_one()
            )
    return out


def series_info_frame(engine: Engine) -> pl.DataFrame:
    """What imports said about each history series: ``id, chain, project, symbol``."""
    t = schema.series_info
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.chain, t.c.protocol, t.c.symbol)).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"id": pl.Utf8, "chain": pl.Utf8, "project": pl.Utf8, "symbol": pl.Utf8},
        orient="row",
    ).unique(subset=["id"], keep="first")


def data_version(engine: Engine) -> str:
    """A token that changes whenever a load writes data (for caches and ETags).

    Every write goes through one transaction that records a successful refresh run
    (``universe.build.write_batch``), so the newest successful run id and its finish time
    identify the stored data. Cheap: one indexed aggregate.
    """
    t = schema.refresh_runs
    with engine.connect() as conn:
        row = conn.execute(
            select(func.max(t.c.run_id), func.count(), func.max(t.c.finished_at)).where(
                t.c.status == "ok"
            )
        ).one()
    return f"runs-{row[0] or 0}-{row[1]}-{row[2] or ''}"
