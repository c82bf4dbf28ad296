"""Backtests over what the store holds: the functions the CLI and the API call.

``backtest_index`` rebuilds an index point in time on its rebalance days (its own
schedule, costs, band and drift trigger unless overridden) and simulates it;
``backtest_weights`` does the same for a weights CSV, resolving its ids against the
stored opportunities and assets. ``stress_today`` replays the stress episodes on the
index as it stands today (or on the CSV's last weights).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from realyield.backtest.engine import BENCHMARK_ASSETS, BacktestConfig, BacktestResult, run_backtest
from realyield.backtest.instruments import as_day, tokens_of
from realyield.backtest.levels import level_history
from realyield.backtest.schedule import (
    CASH_ID,
    HoldingInfo,
    WeightsSchedule,
    index_schedule,
    read_weights_csv,
    rebalance_days,
)
from realyield.backtest.stress import EpisodeResult, replay_all
from realyield.core.errors import ConfigError, DataError, InsufficientDataError
from realyield.core.model import Opportunity
from realyield.indices.composition import IndexComposition
from realyield.indices.levels import LevelHistory
from realyield.indices.methodology import IndexDefinition, packaged_definitions
from realyield.indices.service import HistoryData, indices_at, load_history_data
from realyield.universe.repository import (
    UniverseQuery,
    apy_history_frame,
    load_assets,
    load_universe,
    price_history_frame,
)

#: progress(task description, done, total)
Progress = Callable[[str, int, int], None]
DEFAULT_YEARS = 3


def index_config(defn: IndexDefinition, overrides: Mapping[str, Any]) -> BacktestConfig:
    """The backtest settings an index's methodology implies (costs, band, drift trigger,
    schedule, and the notional its costs are quoted for as the capital), with the
    caller's ``overrides`` (keys of ``BacktestConfig``) on top."""
    r = defn.rebalance
    c = r.costs
    base = BacktestConfig(
        rebalance=r.schedule,
        capital_usd=c.notional_usd,
        fee_bps=c.fee_bps,
        slippage_bps=c.slippage_bps,
        gas_usd=dict(c.gas_usd or {}),
        default_gas_usd=c.default_gas_usd,
        band=r.no_trade_band_pp / 100,
        drift_trigger=(r.drift_trigger_pp / 100) or None,
    )
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _lockups(opps: Sequence[Opportunity]) -> dict[str, float]:
    """Unbonding days of native staking positions (liquid tokens and pool shares can be
    sold at market, so their protocol lock-up does not bind a seller)."""
    return {o.id: o.lockup_days or 0.0 for o in opps if o.kind == "staking"}


def backtest_index(
    engine: Engine,
    name: str,
    overrides: Mapping[str, Any] | None = None,
    *,
    sources: tuple[str, ...] | None = None,
    definitions: Mapping[str, IndexDefinition] | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Backtest index ``name`` rebuilt point in time from the store.

    The default window is the last three years of the stored yield history (the index
    cannot be built before it starts).

    Raises:
        ConfigError: unknown index or bad option.
        InsufficientDataError: the store's history does not cover the window.
    """
    definitions = definitions or packaged_definitions()
    if name not in definitions:
        raise ConfigError(f"unknown index {name!r}; known: {sorted(definitions)}")
    config = index_config(definitions[name], overrides or {})
    data = load_history_data(engine, sources)
    return backtest_index_on(data, name, config, definitions=definitions, progress=progress)


def backtest_window(data: HistoryData, config: BacktestConfig) -> tuple[date, date, list[str]]:
    """The (start, end) a point-in-time backtest over ``data`` runs on: the config's,
    else the last ``DEFAULT_YEARS`` of the yield history, never before it starts; and
    notes on what was moved.

    Raises:
        InsufficientDataError: no yield history, or nothing between start and end.
    """
    if data.history.is_empty():
        raise InsufficientDataError(
            "the store holds no yield history: an index cannot be rebuilt point in time "
            "(`realyield data refresh` or load the bundled snapshot with `realyield demo`)"
        )
    first, last = as_day(data.history["date"].min()), as_day(data.history["date"].max())
    notes = []
    end = min(config.end or last, last)
    start = config.start or max(first, end - timedelta(days=365 * DEFAULT_YEARS))
    if start < first:
        notes.append(
            f"the stored yield history starts on {first}: the index can first be built "
            f"then, so the backtest starts there, not on {start}"
        )
        start = first
    if end <= start:
        raise InsufficientDataError(f"nothing to backtest between {start} and {end}")
    return start, end, notes


def backtest_index_on(
    data: HistoryData,
    name: str,
    config: BacktestConfig,
    *,
    definitions: Mapping[str, IndexDefinition],
    progress: Progress | None = None,
) -> BacktestResult:
    """Backtest index ``name`` (one of ``definitions``) rebuilt point in time from
    already loaded ``data``: the pure part of ``backtest_index``, which a methodology
    sweep runs once per variant on data loaded once.

    Raises:
        ConfigError: unknown index.
        InsufficientDataError: the history does not cover the window.
    """
    return _run_index(data, name, config, definitions=definitions, progress=progress)[1]


def _run_index(
    data: HistoryData,
    name: str,
    config: BacktestConfig,
    *,
    definitions: Mapping[str, IndexDefinition],
    progress: Progress | None = None,
) -> tuple[WeightsSchedule, BacktestResult]:
    """The one run of an index over history: its point-in-time schedule (rebalance days,
    compositions, the daily screen's removals) and the simulation of it. The backtest
    and the index's level history are both read off this."""
    start, end, notes = backtest_window(data, config)
    days = rebalance_days(start, end, config.rebalance)
    task = f"rebuilding {name} point in time"

    def step(done: int, total: int) -> None:
        if progress:
            progress(task, done, total)

    schedule = index_schedule(
        name,
        data,
        days,
        definitions=definitions,
        lockups=_lockups(data.opportunities),
        progress=step,
        end=end,
    )
    step(len(days), len(days))
    schedule.notes[:0] = notes
    rebalance = config.rebalance
    config = replace(config, start=start, end=end, rebalance="dates")
    apy = data.history.select("id", "date", "apy", "source")
    result = run_backtest(schedule, data.prices, apy, config, name=name)
    result.config = replace(result.config, rebalance=rebalance)
    return schedule, result


def index_history(
    name: str,
    data: HistoryData,
    *,
    start: date | None = None,
    end: date | None = None,
    definitions: Mapping[str, IndexDefinition] | None = None,
) -> LevelHistory:
    """Daily levels of index ``name`` rebuilt point in time: the very run ``backtest
    NAME`` makes (same window, schedule, screens, costs and accounting, on the index's
    notional), without the benchmarks. The default window is the backtest's: the last
    three years of the yield history.

    Raises:
        ConfigError: unknown index.
        InsufficientDataError: the history does not cover the window, or the index
            cannot be built on any rebalance day.
    """
    definitions = definitions or packaged_definitions()
    if name not in definitions:
        raise ConfigError(f"unknown index {name!r}; known: {sorted(definitions)}")
    config = replace(index_config(definitions[name], {}), start=start, end=end, benchmarks=False)
    schedule, result = _run_index(data, name, config, definitions=definitions)
    return level_history(result, schedule)


def resolve_ids(
    engine: Engine, schedule: WeightsSchedule, sources: tuple[str, ...] | None = None
) -> dict[str, HoldingInfo]:
    """Holding info for every id of a weights file: stored opportunities first, then
    assets with stored prices.

    Raises:
        DataError: ids the store does not know, with their lines and close matches.
    """
    opps = {
        o.id: o for o in load_universe(engine, UniverseQuery(sources=sources, max_age_days=None))
    }
    assets = {a.id: a for a in load_assets(engine)}
    priced = set(price_history_frame(engine, schedule.ids)["asset_id"].unique().to_list())
    info: dict[str, HoldingInfo] = {}
    unknown = []
    for ident in schedule.ids:
        if ident in opps:
            o = opps[ident]
            info[ident] = HoldingInfo(
                id=o.id,
                label=f"{o.protocol} {o.symbol} ({o.chain})",
                kind=o.kind,
                chain=o.chain,
                underlying=tuple(o.underlying),
                apy=o.apy or 0.0,
                lockup_days=round(o.lockup_days or 0) if o.kind == "staking" else 0,
                il_risk=bool(o.il_risk),
            )
        elif ident in priced or ident in assets:
            a = assets.get(ident)
            info[ident] = HoldingInfo(ident, a.symbol if a else ident, "asset", "Ethereum")
        else:
            unknown.append(ident)
    if unknown:
        known = list(opps) + list(assets)
        parts = []
        for ident in unknown:
            close = difflib.get_close_matches(ident, known, n=2)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            parts.append(f"line {schedule.lines.get(ident, '?')}: unknown id {ident!r}{hint}")
        raise DataError(
            f"{schedule.source}: {len(unknown)} id(s) are neither an opportunity nor an asset "
            f"with prices in the store: {'; '.join(parts)}. `realyield universe` lists "
            "opportunity ids; asset ids are CoinGecko ids (bitcoin, usd-coin...) with "
            "imported prices"
        )
    return info


def backtest_weights(
    engine: Engine,
    path: Path,
    config: BacktestConfig,
    *,
    sources: tuple[str, ...] | None = None,
) -> BacktestResult:
    """Backtest the weights of a CSV file (format: ``backtest.schedule``).

    Raises:
        DataError: invalid file or unknown ids (with line numbers).
        InsufficientDataError: no prices for the weights' window.
    """
    schedule = read_weights_csv(path)
    schedule.info = resolve_ids(engine, schedule, sources)
    opp_ids = [i for i, h in schedule.info.items() if h.kind not in ("asset", CASH_ID)]
    assets = sorted(
        {a for h in schedule.info.values() for a in tokens_of(h)} | set(BENCHMARK_ASSETS.values())
    )
    prices = price_history_frame(engine, assets)
    apy = (
        apy_history_frame(engine, opp_ids)
        if opp_ids
        else pl.DataFrame(
            schema={"id": pl.Utf8, "date": pl.Date, "apy": pl.Float64, "source": pl.Utf8}
        )
    )
    return run_backtest(
        schedule, prices, apy.select("id", "date", "apy", "source"), config, name=path.name
    )


def today_weights(
    engine: Engine,
    name: str,
    *,
    sources: tuple[str, ...] | None = None,
    definitions: Mapping[str, IndexDefinition] | None = None,
) -> tuple[date, dict[str, float], dict[str, HoldingInfo]]:
    """Index ``name`` as it stands on the newest stored date: (date, weights, info).

    Raises:
        ConfigError: unknown index or one that cannot be built today.
    """
    results, _ = indices_at(engine, sources=sources, definitions=definitions)
    comp = results.get(name)
    if not isinstance(comp, IndexComposition):
        raise ConfigError(f"index {name} cannot be built today: {comp}")
    info = {
        c.id: HoldingInfo(c.id, c.label, c.kind, c.chain, tuple(c.underlying), c.apy)
        for c in comp.constituents
    }
    return comp.as_of, comp.weights(), info


def stress_today(
    engine: Engine,
    weights: Mapping[str, float],
    info: Mapping[str, HoldingInfo],
) -> list[EpisodeResult]:
    """The packaged stress episodes replayed on ``weights`` with the stored prices."""
    return replay_all(weights, info, price_history_frame(engine))
