"""Filling the store from sources: live refreshes, file imports, the bundled snapshot.

Every load follows the same shape: fetch and parse everything first (no store writes
while the network is involved), then write it all inside ONE transaction and record
the run. A failure at any point therefore leaves the previously stored data intact and
queryable. When a live source cannot be reached, the refresh says so, keeps the last
stored data, and falls back to the bundled snapshot only when the store holds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select

from realyield.core import clock
from realyield.core.errors import (
    ConfigError,
    DataError,
    SourceError,
    SourceUnavailableError,
    TemporarySourceError,
)
from realyield.core.model import ApyPoint, Asset, Opportunity, PricePoint
from realyield.core.settings import Settings
from realyield.reference.staking import load_staking_params
from realyield.sources import file_records, files
from realyield.sources.coingecko import CoinGeckoClient
from realyield.sources.defillama import DefiLlamaClient, Limits
from realyield.sources.http import CircuitBreaker, HttpSource, TokenBucket
from realyield.sources.sanitize import IngestReport
from realyield.sources.staking import staking_opportunities
from realyield.sources.tabular import sniff_delimiter
from realyield.store import records, schema
from realyield.universe import import_changes
from realyield.universe.repository import SNAPSHOT_SOURCE, stored_sources

#: progress(task description, done, total)
Progress = Callable[[str, int, int], None]
LIVE_SOURCES = ("defillama", "coingecko", "exchange")
ALL_SOURCES = (*LIVE_SOURCES, SNAPSHOT_SOURCE)
FILE_KINDS = ("pools", "prices", "apy-history")
#: Close-only price columns (Yahoo's ``Adj Close`` and its underscore spelling).
CLOSE_COLUMNS = ("adj close", "adj_close", "adjclose", "adj. close")
EXCHANGE_ASSET_IDS = {
    "BTC": "bitcoin",
    "XBT": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "ADA": "cardano",
    "DOT": "polkadot",
    "ATOM": "cosmos",
    "AVAX": "avalanche-2",
    "NEAR": "near",
    "TRX": "tron",
    "BNB": "binancecoin",
    "POL": "matic-network",
    "MATIC": "matic-network",
    "LINK": "chainlink",
    "USDC": "usd-coin",
    "USDT": "tether",
    "DAI": "dai",
}


@dataclass
class LoadResult:
    """What one refresh or import did: status, counts by reason, rows written."""

    source: str
    status: str  # ok | offline | failed | unchanged
    message: str = ""
    report: IngestReport | None = None
    written: dict[str, int] = field(default_factory=dict)
    as_of: datetime | None = None
    fallback: LoadResult | None = None
    changes: import_changes.ImportChanges | None = None  # file imports: what they replace

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "status": self.status,
            "message": self.message,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "written": self.written,
            "report": self.report.as_dict() if self.report else None,
            "fallback": self.fallback.as_dict() if self.fallback else None,
            "changes": self.changes.as_dict() if self.changes else None,
        }


@dataclass
class Batch:
    """Everything one load will write, gathered before the transaction opens."""

    source: str
    opportunities: list[Opportunity] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    apy_history: list[ApyPoint] = field(default_factory=list)
    prices: list[PricePoint] = field(default_factory=list)
    series_info: dict[str, dict[str, str]] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)


def write_batch(
    engine: Engine, batch: Batch, *, started: datetime, summary: dict[str, Any]
) -> dict[str, int]:
    """Write a batch and its run record in one transaction; all or nothing."""
    with engine.begin() as conn:
        written = {
            "opportunities": records.save_opportunities(conn, batch.opportunities),
            "assets": records.save_assets(conn, batch.assets),
            "apy_history": records.save_apy_history(conn, batch.source, batch.apy_history),
            "prices": records.save_prices(conn, batch.source, batch.prices),
            "series_info": records.save_series_info(conn, batch.source, batch.series_info),
        }
        for key, value in batch.meta.items():
            records.set_meta(conn, key, value)
        _record_run(conn, batch.source, started, "ok", {**summary, "written": written})
    return {k: v for k, v in written.items() if v}


def _record_run(
    conn: Any, source: str, started: datetime, status: str, summary: dict[str, Any]
) -> None:
    conn.execute(
        insert(schema.refresh_runs).values(
            source=source,
            started_at=started.isoformat(),
            finished_at=clock.now().isoformat(),
            status=status,
            summary=json.dumps(summary, default=str),
        )
    )


def _note_failed_run(
    engine: Engine, source: str, started: datetime, status: str, message: str
) -> None:
    with engine.begin() as conn:
        _record_run(conn, source, started, status, {"message": message})


def http_source(
    settings: Settings, name: str, base_url: str, headers: dict[str, str] | None = None
) -> HttpSource:
    """An ``HttpSource`` configured from settings."""
    return HttpSource(
        name=name,
        base_url=base_url,
        timeout_s=settings.http_timeout_s,
        max_attempts=settings.http_max_attempts,
        backoff_base_s=settings.http_backoff_base_s,
        backoff_max_s=settings.http_backoff_max_s,
        bucket=TokenBucket(settings.http_rate_per_s, settings.http_burst),
        breaker=CircuitBreaker(settings.breaker_failure_threshold, settings.breaker_cooldown_s),
        headers=headers or {},
    )


def load_snapshot(
    engine: Engine, *, force: bool = False, progress: Progress | None = None
) -> LoadResult:
    """Load the bundled offline snapshot (skipped when this exact version is stored)."""
    from sqlalchemy import select

    from realyield.sources.snapshot import SNAPSHOT_AS_OF, snapshot_version
    from realyield.sources.snapshot import load_snapshot as read_snapshot

    version = snapshot_version()
    with engine.connect() as conn:
        stored = conn.execute(
            select(schema.store_meta.c.value).where(schema.store_meta.c.key == "snapshot_version")
        ).scalar_one_or_none()
    if stored == version and not force:
        return LoadResult(
            SNAPSHOT_SOURCE,
            "unchanged",
            f"bundled snapshot {version} (as of {SNAPSHOT_AS_OF:%Y-%m-%d}) already stored",
            as_of=SNAPSHOT_AS_OF,
        )
    started = clock.now()
    if progress:
        progress("reading bundled snapshot", 0, 2)
    snap = read_snapshot()
    if progress:
        progress("storing bundled snapshot", 1, 2)
    batch = Batch(
        SNAPSHOT_SOURCE,
        [*snap.opportunities, *snap.delisted],
        list(snap.assets),
        list(snap.apy_history),
        list(snap.prices),
        meta={"snapshot_version": version},
    )
    report = IngestReport(
        SNAPSHOT_SOURCE, rows_seen=len(snap.opportunities), accepted=len(snap.opportunities)
    )
    written = write_batch(engine, batch, started=started, summary=report.as_dict())
    if progress:
        progress("bundled snapshot stored", 2, 2)
    return LoadResult(
        SNAPSHOT_SOURCE,
        "ok",
        f"bundled snapshot as of {snap.as_of:%Y-%m-%d} (histories illustrative)",
        report,
        written,
        snap.as_of,
    )


def refresh_defillama(
    engine: Engine,
    settings: Settings,
    *,
    client: DefiLlamaClient | None = None,
    chart_pool_ids: Sequence[str] = (),
    history_top: int = 0,
    progress: Progress | None = None,
) -> LoadResult:
    """Fetch ``/pools`` and store them, with ``/chart`` histories for some pools.

    Histories are fetched for ``chart_pool_ids`` plus the ``history_top`` largest pools
    by TVL. A pool whose chart fails on its own is counted and skipped; if the source
    goes away mid-way, nothing is written (all or nothing).
    """
    client = client or DefiLlamaClient(
        http_source(settings, "defillama", settings.defillama_yields_url),
        limits=Limits(settings.max_plausible_apy, settings.max_plausible_tvl_usd),
    )
    started = clock.now()
    report = IngestReport("defillama")
    if progress:
        progress("defillama /pools", 0, 1 + len(chart_pool_ids) + history_top)
    batch = Batch("defillama")
    batch.opportunities = client.fetch_pools(
        as_of=started, report=report, stale_after_hours=settings.stale_after_hours
    )
    # DeFiLlama lists liquid staking but not native staking: add the routes from the
    # packaged staking table so a live universe covers every kind.
    batch.opportunities.extend(staking_opportunities(load_staking_params(), as_of=started))
    largest = sorted(batch.opportunities, key=lambda o: o.tvl_usd or 0.0, reverse=True)
    chart_pool_ids = list(dict.fromkeys([*chart_pool_ids, *(o.id for o in largest[:history_top])]))
    total = 1 + len(chart_pool_ids)
    for done, pool_id in enumerate(chart_pool_ids, start=1):
        if progress:
            progress(f"defillama /chart {pool_id[:8]}", done, total)
        batch.apy_history.extend(client.fetch_chart_or_skip(pool_id, report=report))
    if progress:
        progress("defillama", total, total)
    written = write_batch(engine, batch, started=started, summary=report.as_dict())
    return LoadResult(
        "defillama",
        "ok",
        f"{report.accepted} pools + {len(batch.opportunities) - report.accepted} native "
        "staking routes (staking table)",
        report,
        written,
        started,
    )


def refresh_coingecko(
    engine: Engine,
    settings: Settings,
    *,
    client: CoinGeckoClient | None = None,
    progress: Progress | None = None,
) -> LoadResult:
    """Fetch market facts and daily history for the configured coin ids, and store them."""
    headers = (
        {"x-cg-demo-api-key": settings.coingecko_api_key} if settings.coingecko_api_key else {}
    )
    client = client or CoinGeckoClient(
        http_source(settings, "coingecko", settings.coingecko_url, headers)
    )
    started = clock.now()
    report = IngestReport("coingecko")
    ids = list(settings.coingecko_ids)
    total = 1 + len(ids)
    batch = Batch("coingecko")
    if progress:
        progress("coingecko markets", 0, total)
    inflation = {p.asset_id: p.supply_inflation_pct / 100 for p in load_staking_params()}
    batch.assets = [
        replace(a, supply_inflation=inflation[a.id]) if a.id in inflation else a
        for a in client.fetch_markets(ids, as_of=started, report=report)
    ]
    for done, coin_id in enumerate(ids, start=1):
        if progress:
            progress(f"coingecko history {coin_id}", done, total)
        batch.prices.extend(
            client.fetch_daily_history(coin_id, days=settings.price_history_days, report=report)
        )
    stale_cutoff = started - timedelta(hours=settings.stale_after_hours)
    report.stale += sum(1 for a in batch.assets if a.as_of < stale_cutoff)
    written = write_batch(engine, batch, started=started, summary=report.as_dict())
    return LoadResult("coingecko", "ok", f"{len(batch.assets)} assets", report, written, started)


def refresh_exchange(
    engine: Engine, settings: Settings, *, client: Any = None, progress: Progress | None = None
) -> LoadResult:
    """Daily prices from an exchange's public OHLCV (through the ``exchange`` package)."""
    from realyield.exchange import ExchangeClient

    client = client or ExchangeClient(settings.exchange_id, timeout_s=settings.http_timeout_s)
    started = clock.now()
    report = IngestReport("exchange")
    since = started.date() - timedelta(days=settings.price_history_days)
    batch = Batch("exchange")
    symbols = list(settings.exchange_symbols)
    for done, symbol in enumerate(symbols):
        if progress:
            progress(f"{settings.exchange_id} {symbol}", done, len(symbols))
        base = symbol.split("/")[0].upper()
        points = client.daily_prices(symbol, EXCHANGE_ASSET_IDS.get(base, base.lower()), since)
        report.rows_seen += len(points)
        report.accepted += len(points)
        batch.prices.extend(points)
    if progress:
        progress(settings.exchange_id, len(symbols), len(symbols))
    written = write_batch(engine, batch, started=started, summary=report.as_dict())
    return LoadResult(
        "exchange",
        "ok",
        f"{len(symbols)} symbols from {settings.exchange_id}",
        report,
        written,
        started,
    )


def refresh(
    engine: Engine,
    settings: Settings,
    source: str,
    *,
    progress: Progress | None = None,
    history_top: int = 0,
) -> LoadResult:
    """Refresh one source; offline or failing sources keep the stored data.

    Raises:
        ConfigError: unknown source name.
    """
    if source not in ALL_SOURCES:
        raise ConfigError(f"unknown source {source!r}; use one of {ALL_SOURCES}")
    if source == SNAPSHOT_SOURCE:
        return load_snapshot(engine, force=True, progress=progress)
    runners: dict[str, Callable[..., LoadResult]] = {
        "defillama": refresh_defillama,
        "coingecko": refresh_coingecko,
        "exchange": refresh_exchange,
    }
    runner = runners[source]
    started = clock.now()
    try:
        extra = {"history_top": history_top} if source == "defillama" else {}
        return runner(engine, settings, progress=progress, **extra)
    except (SourceUnavailableError, TemporarySourceError) as exc:
        status, message = "offline", f"{source} unreachable: {exc}"
    except (SourceError, DataError) as exc:
        status, message = "failed", f"{source} failed: {exc}"
    _note_failed_run(engine, source, started, status, message)
    result = LoadResult(source, status, message.rstrip(". ") + "; the last stored data is kept")
    if not stored_sources(engine):
        result.fallback = load_snapshot(engine)
        result.message += (
            f"; nothing was stored, so the bundled snapshot (as of "
            f"{result.fallback.as_of:%Y-%m-%d}) is loaded instead"
        )
    return result


def detect_file_kind(path: Path, columns: Mapping[str, str] | None = None) -> str:
    """Guess ``pools``, ``prices`` or ``apy-history`` from a file's first line (and the
    target names of a ``--columns`` mapping).

    Raises:
        DataError: unreadable file, or columns that fit no known layout.
    """
    text = files.read_text(path)
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return "pools"
    first = text.splitlines()[0].lower().replace('"', "")
    columns_found = {c.strip() for c in first.split(sniff_delimiter(first))}
    columns_found |= set(columns or {})
    if columns_found & {"price", "price_usd", "column_1", "open", "close", *CLOSE_COLUMNS}:
        return "prices"
    if (
        "apy" in columns_found
        and columns_found & {"date", "timestamp"}
        and not columns_found & {"dt", "exposure"}
    ):
        return "apy-history"
    if columns_found & {"pool", "poolid", "pool_id"}:
        return "pools"
    raise DataError(
        f"{path}: cannot tell what the file holds from its columns {sorted(columns_found)}; "
        f"pass --kind {'|'.join(FILE_KINDS)} (and --columns to name yours)"
    )


def import_file(
    engine: Engine,
    path: Path,
    *,
    kind: str | None = None,
    strict: bool = False,
    as_of: date | None = None,
    apy_unit: str = "percent",
    opportunity_id: str | None = None,
    asset_id: str | None = None,
    decimal_comma: bool = False,
    columns: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> LoadResult:
    """Import one file into the store (source ``file``), all rows in one transaction.

    Bad rows are skipped and counted by reason (``strict`` refuses the file instead).
    The rows are compared with the stored ones first: ``result.changes`` counts the new,
    unchanged and replaced rows and shows the first replacements old -> new.
    ``dry_run`` stops there and writes nothing (status ``dry-run``). A file without one
    good row writes nothing and has status ``failed`` (its run is recorded as failed).

    Raises:
        ConfigError: unknown kind, a bad ``columns`` mapping.
        DataError: unreadable file or layout; with ``strict``, any bad row.
    """
    if columns:
        known = files.POOL_COLUMNS | files.PRICE_COLUMNS | files.HISTORY_COLUMNS
        unknown = sorted(set(columns) - known)
        if unknown:
            raise ConfigError(
                f"--columns: unknown target(s) {unknown}; prices know "
                f"{sorted(files.PRICE_COLUMNS)}, APY histories {sorted(files.HISTORY_COLUMNS)}, "
                "pools the DeFiLlama field names (pool, apy, tvlUsd, ...)"
            )
    kind = kind or detect_file_kind(path, columns)
    if kind not in FILE_KINDS:
        raise ConfigError(f"unknown file kind {kind!r}; use one of {FILE_KINDS}")
    started = clock.now()
    batch, report, what = _read_file(
        path, kind, strict, as_of, apy_unit, opportunity_id, asset_id, decimal_comma, columns
    )
    skipped = f"; {report.rejected_total:,} bad row(s) skipped" if report.rejected_total else ""
    if report.accepted == 0:
        message = (
            f"{path.name}: no good row ({report.rows_seen:,} read, "
            f"{report.rejected_total:,} rejected); nothing imported"
        )
        if not dry_run:
            _note_failed_run(engine, files.FILE_SOURCE, started, "failed", message)
        return LoadResult(files.FILE_SOURCE, "failed", message, report, as_of=started)
    with engine.connect() as conn:
        if kind == "prices":
            batch.prices = _keep_stored_market_facts(conn, batch.source, batch.prices)
            batch.assets = file_records.price_assets(batch.prices, source=batch.source)
        changes = import_changes.compare_batch(conn, batch, kind)
    if dry_run:
        return LoadResult(
            files.FILE_SOURCE,
            "dry-run",
            f"{path.name}: would import {what} ({kind}){skipped}; nothing written (--dry-run)",
            report,
            as_of=started,
            changes=changes,
        )
    summary = {
        **report.as_dict(),
        "file": str(path),
        "kind": kind,
        "changes": changes.as_dict(),
    }
    written = write_batch(engine, batch, started=started, summary=summary)
    return LoadResult(
        files.FILE_SOURCE,
        "ok",
        f"{path.name}: {what} ({kind}){skipped}",
        report,
        written,
        started,
        changes=changes,
    )


def _keep_stored_market_facts(conn: Any, source: str, points: list[PricePoint]) -> list[PricePoint]:
    """``points`` with a missing market cap or volume taken from the stored row of the
    same source, asset and day: a price-only file (CoinGecko's market_chart dump)
    overlapping a fuller one must not erase what the fuller one said."""
    if not points:
        return points
    p = schema.prices
    assets = sorted({q.asset_id for q in points})
    first, last = min(q.date for q in points), max(q.date for q in points)
    rows = conn.execute(
        select(p.c.asset_id, p.c.date, p.c.market_cap_usd, p.c.volume_usd).where(
            p.c.source == source,
            p.c.asset_id.in_(assets),
            p.c.date >= first,
            p.c.date <= last,
        )
    ).all()
    stored = {(r[0], records.as_date(r[1])): (r[2], r[3]) for r in rows}
    out = []
    for q in points:
        cap, volume = stored.get((q.asset_id, q.date), (None, None))
        if (q.market_cap_usd is None and cap is not None) or (
            q.volume_usd is None and volume is not None
        ):
            q = replace(
                q,
                market_cap_usd=q.market_cap_usd if q.market_cap_usd is not None else cap,
                volume_usd=q.volume_usd if q.volume_usd is not None else volume,
            )
        out.append(q)
    return out


def _read_file(
    path: Path,
    kind: str,
    strict: bool,
    as_of: date | None,
    apy_unit: str,
    opportunity_id: str | None,
    asset_id: str | None,
    decimal_comma: bool,
    columns: Mapping[str, str] | None,
) -> tuple[Batch, IngestReport, str]:
    """Parse a file into the batch it would write, its report and what it holds."""
    batch = Batch(files.FILE_SOURCE)
    common: dict[str, Any] = {"strict": strict, "decimal_comma": decimal_comma, "columns": columns}
    if kind == "pools":
        when = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) if as_of else None
        batch.opportunities, report = files.import_pools(path, as_of=when, **common)
        return batch, report, f"{len(batch.opportunities):,} pools"
    if kind == "prices":
        batch.prices, report = files.import_prices(path, asset_id=asset_id, **common)
        batch.assets = file_records.price_assets(batch.prices, source=files.FILE_SOURCE)
        batch.opportunities = file_records.staking_routes_for(batch.prices)
        n_assets = len({p.asset_id for p in batch.prices})
        return batch, report, f"{len(batch.prices):,} daily prices for {n_assets} asset(s)"
    history, report = files.import_apy_history(
        path, opportunity_id=opportunity_id, apy_unit=apy_unit, **common
    )
    batch.apy_history, batch.series_info = history.points, history.pool_info
    batch.opportunities = file_records.history_opportunities(
        history.points, history.pool_info, source=files.FILE_SOURCE
    )
    n_series = len({p.opportunity_id for p in history.points})
    return batch, report, f"{len(history.points):,} pool-days for {n_series} series"
