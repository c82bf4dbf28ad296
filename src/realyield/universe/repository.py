"""Reading the universe back from the store: point-in-time views and history frames.

No look-ahead: ``as_of`` views only see records dated on or before it. When several
sources hold the same id, the newest record wins, and on the same day the more direct
source wins (live API over an imported file over the bundled snapshot). The bundled
snapshot is illustrative; it is shown only when asked for, or when nothing else is
stored, so it never mixes silently with real data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import polars as pl
from sqlalchemy import Engine, Table, case, func, select

from realyield.core.errors import ConfigError
from realyield.core.model import OPPORTUNITY_KINDS, Asset, Opportunity
from realyield.store import schema
from realyield.store.records import as_date, row_to_asset, row_to_opportunity
from realyield.universe.point_in_time import (
    SortedHistory,
    assets_at,
    opportunities_at,
    staking_routes_at,
    with_implied_supply,
)

SNAPSHOT_SOURCE = "snapshot"
SOURCE_PRIORITY = {"defillama": 0, "coingecko": 0, "exchange": 1, "file": 2, SNAPSHOT_SOURCE: 9}
SORT_KEYS = ("apy", "tvl")
#: Records that state parameters rather than observe a day (the bundled staking routes):
#: they stand until replaced, whatever their age.
STANDING_SOURCES = ("staking",)


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
    """Every stored source but the snapshot, or the snapshot when nothing else exists.

    Standing sources (the staking routes a price import adds) go with the observed
    ones; alone, they do not replace the snapshot."""
    names = tuple(sorted(stored_sources(engine)))
    real = tuple(n for n in names if n != SNAPSHOT_SOURCE)
    if any(n not in STANDING_SOURCES for n in real):
        return real
    return tuple(n for n in names if n == SNAPSHOT_SOURCE) or real


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
    day = query.as_of or _history_ahead_of_records(engine, sources)
    if day is not None:
        return _universe_at(engine, query, sources, day)
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
    opps = [row_to_opportunity(r) for r in rows]
    if query.max_age_days is None:  # a replay's load restates each date itself
        return opps
    return _with_network_facts(engine, opps, query.as_of)


#: A history row stands for the days after it for this long (gaps of a day or two are
#: common in every source; a week without a row means the series stopped).
HISTORY_GAP_DAYS = 7


def _with_network_facts(
    engine: Engine, opps: list[Opportunity], day: date | None
) -> list[Opportunity]:
    """``opps`` with the network staking routes among them given their network's facts
    on ``day`` (``point_in_time.staking_routes_at``); others unchanged, order kept."""
    routes = [o for o in opps if o.source in STANDING_SOURCES and o.underlying]
    if not routes:
        return opps
    assets = {a.id: a for a in load_assets(engine, as_of=day)}
    p = schema.prices
    ids = sorted({o.underlying[0] for o in routes})
    stmt = select(p.c.asset_id, func.count(func.distinct(p.c.date))).where(p.c.asset_id.in_(ids))
    if day is not None:
        stmt = stmt.where(p.c.date <= day)
    with engine.connect() as conn:
        priced = {r[0]: int(r[1]) for r in conn.execute(stmt.group_by(p.c.asset_id)).all()}
    when = day or max(o.as_of for o in opps).date()
    facts = {o.id: o for o in staking_routes_at(routes, assets, priced, when)}
    return [facts.get(o.id, o) if o.source in STANDING_SOURCES else o for o in opps]


def _history_ahead_of_records(engine: Engine, sources: Sequence[str]) -> date | None:
    """The newest history day of ``sources`` when it is newer than their newest record
    (imported histories: each pool's record is dated its first day), else ``None``."""
    h = schema.apy_history
    with engine.connect() as conn:
        newest = conn.execute(
            select(func.max(h.c.date)).where(h.c.source.in_(sources))
        ).scalar_one_or_none()
    if newest is None:
        return None
    newest_day = as_date(newest)
    records = _newest_date(engine, sources)
    return newest_day if records is None or newest_day > records else None


def _universe_at(
    engine: Engine, query: UniverseQuery, sources: Sequence[str], day: date
) -> list[Opportunity]:
    """The universe as it stood on ``day``: each id's newest record dated up to then,
    its APY parts and TVL restated from the history row of that day (at most
    ``HISTORY_GAP_DAYS`` old) when that row is newer than the record. A record neither
    restated nor within ``max_age_days`` of ``day`` has left the universe (standing
    records excepted), and so has a pool known only from its history (an imported
    history's record) without a row in that week. ``max_age_days=None`` keeps every
    record dated up to ``day`` (what a replay rebuilds each date from)."""
    t = schema.opportunities
    ranked = (
        select(
            t,
            func.row_number()
            .over(partition_by=t.c.id, order_by=(t.c.as_of_date.desc(), _priority(t.c.source)))
            .label("rank"),
        )
        .where(t.c.source.in_(sources))
        .where(t.c.as_of_date <= day)
    )
    sub = ranked.subquery()
    stmt = select(*[sub.c[c.name] for c in t.columns]).where(sub.c.rank == 1)
    if query.kind:
        stmt = stmt.where(sub.c.kind == query.kind)
    if query.chain:
        stmt = stmt.where(func.lower(sub.c.chain) == query.chain.lower())
    if query.protocol:
        stmt = stmt.where(func.lower(sub.c.protocol) == query.protocol.lower())
    with engine.connect() as conn:
        records = [row_to_opportunity(r) for r in conn.execute(stmt).mappings().all()]
    history = apy_history_frame(
        engine, start=day - timedelta(days=HISTORY_GAP_DAYS), end=day
    ).filter(pl.col("source").is_in(list(sources)))
    newest = history.group_by("id").agg(pl.col("date").max())
    last_row = dict(zip(newest["id"].to_list(), newest["date"].to_list(), strict=True))
    behind = [o for o in records if o.id in last_row and last_row[o.id] > o.as_of.date()]
    restated = {
        o.id: o for o in opportunities_at(behind, history, day, max_gap_days=HISTORY_GAP_DAYS)
    }
    oldest = day - timedelta(days=query.max_age_days) if query.max_age_days is not None else None
    out = []
    for o in records:
        fresh = restated.get(o.id)
        if fresh is not None:
            out.append(fresh)
        elif o.meta.get("from_history") and oldest is not None:
            if o.id in last_row:  # the record is that week's row itself
                out.append(o)
            # else: a pool known only from its history, without a row that week: gone
        elif o.source in STANDING_SOURCES or oldest is None or o.as_of.date() >= oldest:
            out.append(o)
    if query.max_age_days is not None:  # a replay's load restates each date itself
        out = _with_network_facts(engine, out, day)
    if query.min_tvl_usd is not None:
        out = [o for o in out if o.tvl_usd is not None and o.tvl_usd >= query.min_tvl_usd]

    def key(o: Opportunity) -> tuple[bool, float, str]:
        value = o.apy if query.sort == "apy" else o.tvl_usd
        return (value is None, -(value or 0.0), o.id)

    out.sort(key=key)
    return out[: query.limit] if query.limit else out


def load_assets(engine: Engine, *, as_of: date | None = None) -> list[Asset]:
    """The latest stored facts per asset (newest date, then source priority), with the
    price and market cap of the price history on ``as_of`` (else its newest day) when
    the history has one at most a week old: an asset record dated its listing day
    then reads what was known on the view's day (``point_in_time.assets_at``)."""
    records = _asset_records(engine, as_of)
    if not records:
        return records
    prices = price_history_frame(engine, [a.id for a in records], end=as_of)
    if prices.is_empty():
        return records
    history = SortedHistory(prices, "asset_id")
    newest = prices.group_by("asset_id").agg(pl.col("date").max())
    days = dict(zip(newest["asset_id"].to_list(), newest["date"].to_list(), strict=True))
    out = []
    for a in records:
        day = as_of or days.get(a.id)
        if a.id not in days or day is None:
            out.append(a)  # no price history: the record is all there is
            continue
        restated = assets_at([a], history, day).get(a.id)
        if a.as_of.date() >= day and (
            a.market_cap_usd is not None or restated is None or restated.market_cap_usd is None
        ):
            out.append(a)  # the record is as new as the view: its own facts stand
            continue
        # priced once but not in the week before ``day``: its price then is unknown
        out.append(restated or replace(a, price_usd=None, market_cap_usd=None))
    return out


def _asset_records(engine: Engine, as_of: date | None) -> list[Asset]:
    """The asset rows themselves: the newest dated up to ``as_of`` per id."""
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
    """Daily prices as a long frame (asset_id, date, price_usd, ...), one source a day,
    with the circulating supply implied by the last published market cap carried
    forward (``supply``, ``supply_date``: see ``point_in_time.with_implied_supply``)."""
    return with_implied_supply(
        _history_frame(engine, schema.prices, "asset_id", _PRICE_SCHEMA, asset_ids, start, end)
    )


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
