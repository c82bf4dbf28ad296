"""One monitoring run over what the store holds: the function the CLI, the scheduler and
the API call.

A run (1) optionally refreshes the configured sources, turning any failure into a
stale-data finding instead of an exception, (2) evaluates every rule on the days not yet
evaluated (at most ``CATCH_UP_DAYS``, each rule on data up to that day only), (3) stores
the findings as de-duplicated alerts and (4) delivers the due ones. Only a broken store
or configuration stops it; a source outage never does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select

from realyield.core import clock
from realyield.core.errors import DataError, RealyieldError, SourceError
from realyield.core.settings import Settings
from realyield.monitor import market_rules, rules, yield_rules
from realyield.monitor.alerts import LAST_DAY_KEY, Change, record_findings
from realyield.monitor.config import MonitorConfig
from realyield.monitor.delivery import DeliveryReport, dispatch
from realyield.monitor.notify import Channel
from realyield.monitor.rules import Finding
from realyield.reference.pegs import pegged_assets
from realyield.store import schema
from realyield.store.records import as_date, set_meta
from realyield.universe.repository import (
    UniverseQuery,
    apy_history_frame,
    load_assets,
    price_history_frame,
    stored_sources,
)

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 7
#: Trailing windows reach this far back before the first evaluated day.
LOOKBACK_DAYS = 45


@dataclass
class MonitorRun:
    """What one run found, stored and delivered, with notes on what it could not do."""

    evaluated: tuple[date, date] | None
    findings: list[Finding] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        opened = [c.alert.as_dict() for c in self.changes if c.kind in ("opened", "escalated")]
        return {
            "evaluated": [d.isoformat() for d in self.evaluated] if self.evaluated else None,
            "findings": len(self.findings),
            "new_or_escalated": opened,
            "extended": sum(c.kind == "extended" for c in self.changes),
            "delivery": self.delivery.as_dict(),
            "notes": self.notes,
        }


def watched_ids(config: MonitorConfig, index_weights: dict[str, float] | None) -> list[str]:
    """The opportunities whose yields are watched: holdings, targets and the target
    index's constituents."""
    ids = set(config.holdings_usd) | set(config.targets) | set(index_weights or {})
    return sorted(ids)


def _index_weights(engine: Engine, name: str, day: date, home: Path | None) -> dict[str, float]:
    from realyield.indices.service import index_named

    return index_named(engine, name, as_of=day, home=home).weights()


def _last_evaluated(engine: Engine) -> date | None:
    t = schema.store_meta
    with engine.connect() as conn:
        value = conn.execute(select(t.c.value).where(t.c.key == LAST_DAY_KEY)).scalar_one_or_none()
    return date.fromisoformat(value) if value else None


def newest_data(engine: Engine) -> dict[str, date | None]:
    """Per stored source, the newest day it holds (opportunities and prices)."""
    out: dict[str, date | None] = {s: v["latest"] for s, v in stored_sources(engine).items()}
    t = schema.prices
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.source, func.max(t.c.date)).group_by(t.c.source)).all()
    for source, newest in rows:
        days = [d for d in (as_date(newest) if newest else None, out.get(source)) if d]
        out[source] = max(days) if days else None
    return out


def market_and_yield_findings(
    prices: pl.DataFrame,
    history: pl.DataFrame | None,
    config: rules.RuleConfig,
    start: date,
    end: date,
    *,
    symbols: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> list[Finding]:
    """Every enabled price and yield rule over ``[start, end]`` (replay and live)."""
    out: list[Finding] = []
    if not prices.is_empty():
        pegs = pegged_assets(prices["asset_id"].unique().to_list(), symbols)
        if config.enabled("depeg"):
            out += market_rules.depeg(prices, pegs, config, start, end)
        if config.enabled("lst_discount"):
            out += market_rules.lst_discount(prices, pegs, config, start, end)
        if config.enabled("price_crash"):
            out += market_rules.price_crash(prices, config, start, end)
    if history is not None and not history.is_empty():
        for name, fn in (
            ("tvl_drop", yield_rules.tvl_drop),
            ("apy_collapse", yield_rules.apy_collapse),
            ("apy_spike", yield_rules.apy_spike),
            ("reward_share_jump", yield_rules.reward_share_jump),
        ):
            if config.enabled(name):
                out += fn(history, config, start, end, labels)
    return out


def _portfolio_findings(
    engine: Engine, config: MonitorConfig, day: date, targets: dict[str, float], home: Path | None
) -> tuple[list[Finding], list[str]]:
    from realyield.scoring.service import score_stored

    cfg = config.rules
    notes: list[str] = []
    out: list[Finding] = []
    if not config.holdings_usd:
        notes.append(
            "no [holdings] in monitor.toml: screened-out, drift and income rules are skipped"
        )
        return out, notes
    scored, _ = score_stored(
        engine, UniverseQuery(as_of=day, max_age_days=30), with_forecast=False, home=home
    )
    table = scored.table()
    listed = set(table["id"].to_list())
    reasons = {
        r["id"]: r["excluded_reason"].split("; ")
        for r in table.filter(pl.col("excluded"))
        .select("id", "excluded_reason")
        .iter_rows(named=True)
    }
    if cfg.enabled("screened_out"):
        out += rules.screened_out(config.holdings_usd, reasons, listed, day)
    if targets and cfg.enabled("drift"):
        out += rules.drift(config.current_weights(), targets, cfg.drift_band_pp, day)
    if config.income_per_year_usd is not None and cfg.enabled("income_below_plan"):
        apy = dict(zip(table["id"].to_list(), table["apy"].to_list(), strict=True))
        missing = [k for k in config.holdings_usd if apy.get(k) is None]
        if missing:
            notes.append(f"no current APY for {len(missing)} holding(s): counted as earning 0")
        expected = sum(v * (apy.get(k) or 0.0) / 100 for k, v in config.holdings_usd.items())
        out += rules.income_below_plan(
            expected, config.income_per_year_usd, day, cfg, basis="expected from today's APYs"
        )
    return out, notes


def evaluate(
    engine: Engine,
    config: MonitorConfig,
    *,
    now: datetime | None = None,
    failures: dict[str, str] | None = None,
    home: Path | None = None,
    since: date | None = None,
) -> tuple[list[Finding], tuple[date, date] | None, list[str]]:
    """Every rule on the days from the one after the last evaluated (or ``since``) to
    the newest stored day; returns the findings, that span, and notes.

    Raises:
        StoreError: the store cannot be read.
    """
    now = now or clock.now()
    notes: list[str] = []
    findings: list[Finding] = []
    cfg = config.rules
    newest = newest_data(engine)
    if cfg.enabled("stale_data"):
        findings += rules.stale_data(newest, failures or {}, now, cfg)
    known = [d for d in newest.values() if d is not None]
    if not known:
        notes.append("the store holds no data: run `realyield data refresh` or `realyield demo`")
        return findings, None, notes
    end = min(max(known), now.date())
    start = since or (_last_evaluated(engine) or end - timedelta(days=1)) + timedelta(days=1)
    start = max(min(start, end), end - timedelta(days=CATCH_UP_DAYS - 1))
    prices = price_history_frame(engine, start=start - timedelta(days=LOOKBACK_DAYS), end=end)
    symbols = {a.id: a.symbol for a in load_assets(engine, as_of=end)}
    targets = dict(config.targets)
    if config.target_index:
        try:
            targets = _index_weights(engine, config.target_index, end, home)
        except RealyieldError as exc:
            notes.append(f"targets unavailable: {exc}")
    ids = watched_ids(config, targets)
    history = (
        apy_history_frame(engine, ids, start=start - timedelta(days=LOOKBACK_DAYS), end=end)
        if ids
        else None
    )
    if not ids:
        notes.append("no holdings or targets configured: the yield rules watch nothing")
    findings += market_and_yield_findings(prices, history, cfg, start, end, symbols=symbols)
    try:
        extra, more_notes = _portfolio_findings(engine, config, end, targets, home)
        findings += extra
        notes += more_notes
    except (DataError, SourceError) as exc:
        notes.append(f"portfolio rules skipped: {exc}")
    return findings, (start, end), notes


def refresh_sources(
    engine: Engine, settings: Settings, sources: Sequence[str]
) -> tuple[dict[str, str], list[str]]:
    """Refresh each source; failures become ``{source: message}`` instead of errors."""
    from realyield.universe import build

    failures: dict[str, str] = {}
    notes: list[str] = []
    for source in sources:
        try:
            result = build.refresh(engine, settings, source)
        except RealyieldError as exc:
            failures[source] = str(exc)
            continue
        if result.status in ("offline", "failed"):
            failures[source] = result.message
        notes.append(f"{source}: {result.status}")
    return failures, notes


def run_monitor(
    engine: Engine,
    settings: Settings,
    config: MonitorConfig,
    channels: Sequence[Channel] = (),
    *,
    refresh: bool = True,
    refresher: Callable[..., tuple[dict[str, str], list[str]]] = refresh_sources,
) -> MonitorRun:
    """Refresh, evaluate, store, notify. Source outages become stale-data alerts.

    Raises:
        StoreError / ConfigError: the store or the configuration is broken.
    """
    failures: dict[str, str] = {}
    notes: list[str] = []
    if refresh and config.refresh:
        failures, notes = refresher(engine, settings, config.refresh)
    findings, span, more = evaluate(engine, config, failures=failures, home=settings.home)
    changes = record_findings(engine, findings, cooldown_days=config.rules.cooldown_days)
    if span is not None:
        with engine.begin() as conn:
            set_meta(conn, LAST_DAY_KEY, span[1].isoformat())
    report = dispatch(
        engine,
        channels,
        min_severity=config.notify.min_severity,
        window_days=config.rules.cooldown_days,
    )
    for channel, failed in report.failed.items():
        log.warning(
            "%s: %d alert(s) not delivered; kept and retried next run", channel, len(failed)
        )
    return MonitorRun(span, findings, changes, report, notes + more)
