"""Methodology sweeps: many variants of one index's rules, each backtested point in
time over the same history, on any executor.

Why it is built this way: what every variant shares (the stored histories and the
universe *scored at each rebalance date*, the expensive part) is computed once here and
sent to each worker once; a task carries only a chunk of variants (their numbers, seeds
and parameter values). Each variant then rebuilds its index on the rebalance days with
its own rules (``backtest.service.backtest_index_on``, the same function
``realyield backtest`` runs) and keeps the metrics. A variant that breaks a rule or
cannot be built is a row with its reason, not a failed run. Results are ordered by
variant number, so the table is identical whatever the executor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from sqlalchemy import Engine

from realyield.backtest.engine import BacktestConfig
from realyield.backtest.schedule import rebalance_days
from realyield.backtest.service import backtest_index_on, backtest_window, index_config
from realyield.core.errors import ConfigError, RealyieldError
from realyield.indices.methodology import IndexDefinition, definition_to_dict
from realyield.indices.service import HistoryData, load_history_data
from realyield.scaleout.executors import Executor, LocalExecutor, Progress, run_items
from realyield.scaleout.sweep_spec import SweepSpec, Variant

#: the figures kept per variant (fractions; ratios for sharpe/sortino/calmar)
METRICS = (
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "total_return",
    "income_return",
    "price_return",
    "realised_yield",
    "costs",
    "turnover_annual",
    "rebalances",
)
#: the METRICS that are fractions to show as percentages (the rest are ratios or counts)
PERCENT_METRICS = frozenset(METRICS) - {
    "sharpe",
    "sortino",
    "calmar",
    "turnover_annual",
    "rebalances",
}


@dataclass
class SweepShared:
    """What every variant reads: sent to each worker once."""

    name: str
    base: dict[str, Any]
    registry: dict[str, IndexDefinition]
    data: HistoryData
    config: BacktestConfig


def _row(variant: Variant) -> dict[str, Any]:
    return {"variant": variant.number, "seed": variant.seed, **variant.params}


def run_variants(shared: SweepShared, chunk: Sequence[Variant]) -> list[dict[str, Any]]:
    """The task: backtest each variant of ``chunk``; a variant's own error is its row's
    ``error``, so one bad variant does not lose the chunk."""
    out = []
    for v in chunk:
        row = _row(v)
        try:
            defn = v.definition(shared.base)
            definitions = {**shared.registry, shared.name: defn}
            config = index_config(
                defn,
                {
                    "start": shared.config.start,
                    "end": shared.config.end,
                    "income": shared.config.income,
                    "benchmarks": False,
                },
            )
            result = backtest_index_on(
                shared.data.sharing_scores(), shared.name, config, definitions=definitions
            )
        except RealyieldError as exc:
            row.update({"status": "failed", "error": str(exc)})
            row.update({m: None for m in METRICS})
            out.append(row)
            continue
        figures = {**result.metrics.as_dict(), **result.attribution}
        row.update({"status": "ok", "error": None})
        row.update({m: float(figures[m]) for m in METRICS})
        out.append(row)
    return out


def pareto_front(income: NDArray[np.float64], drawdown: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Rows no other row beats on both more income and a shallower drawdown (drawdowns
    are <= 0; NaN rows are never on the front). O(n log n): sort by income descending,
    keep a row when its drawdown is shallower than every row with more income."""
    n = income.size
    on = np.zeros(n, dtype=bool)
    ok = np.isfinite(income) & np.isfinite(drawdown)
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return on
    order = idx[np.lexsort((-drawdown[idx], -income[idx]))]  # income desc, then shallow
    best = -np.inf
    last: tuple[float, float] | None = None
    for i in order:
        point = (float(income[i]), float(drawdown[i]))
        if drawdown[i] > best or point == last:  # equal points share the front
            on[i] = True
            best = max(best, float(drawdown[i]))
            last = point
    return on


@dataclass
class SweepResult:
    spec: SweepSpec
    table: pl.DataFrame  # one row per variant, ordered by variant number
    start: date
    end: date
    executor: str
    workers: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> pl.DataFrame:
        return self.table.filter(pl.col("status") == "ok")

    def front(self) -> pl.DataFrame:
        """The Pareto front of income return against maximum drawdown, by income."""
        return self.ok.filter(pl.col("pareto")).sort("income_return", descending=True)

    def best(self, n: int = 10, by: str = "sharpe") -> pl.DataFrame:
        if by not in METRICS:
            raise ConfigError(f"rank by one of {METRICS}, not {by!r}")
        desc = by not in ("volatility", "costs", "turnover_annual")
        return self.ok.sort(by, descending=desc, nulls_last=True).head(n)

    def parameters(self) -> list[str]:
        return [p.path for p in self.spec.parameters]

    def as_dict(self, *, rows: bool = True, top: int = 10) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": self.spec.index,
            "search": self.spec.search,
            "seed": self.spec.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "executor": self.executor,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "variants": self.table.height,
            "failed": self.table.height - self.ok.height,
            "parameters": self.parameters(),
            "pareto_front": self.front().to_dicts(),
            "best_by_sharpe": self.best(top).to_dicts(),
            "notes": self.notes,
        }
        if rows:
            out["results"] = self.table.to_dicts()
        return out


def _precompute(
    data: HistoryData,
    spec: SweepSpec,
    variants: Sequence[Variant],
    start: date,
    end: date,
    progress: Progress | None,
) -> None:
    """Score the universe on every rebalance day any variant can trade on (once, here,
    instead of once per variant on every worker)."""
    schedules = {spec.base.rebalance.schedule}
    for v in variants:
        s = v.params.get("rebalance.schedule")
        if isinstance(s, str):
            schedules.add(s)
    days: set[date] = set()
    for s in schedules:
        try:
            days.update(rebalance_days(start, end, s))
        except ConfigError:
            continue  # the variant reports its own bad schedule
    for k, day in enumerate(sorted(days)):
        if progress:
            progress("scoring the universe on rebalance days", k, len(days))
        try:
            data.inputs_at(day)
        except RealyieldError:
            continue  # no universe that day: the variants say so in their notes
    if progress:
        progress("scoring the universe on rebalance days", len(days), len(days))


def sweep_on(
    data: HistoryData,
    spec: SweepSpec,
    executor: Executor | None = None,
    *,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> SweepResult:
    """Run ``spec`` over loaded ``data`` on ``executor`` (in-process by default).

    Raises:
        ConfigError: an invalid window or options.
        InsufficientDataError: no yield history in the window.
        WorkerPoolError: the executor could not complete the run.
    """
    executor = executor or LocalExecutor()
    started = time.perf_counter()
    variants = spec.variants()
    base_config = BacktestConfig(start=spec.start, end=spec.end, income=spec.income)
    config = index_config(spec.base, {"start": spec.start, "end": spec.end, "income": spec.income})
    start, end, notes = backtest_window(data, config)
    _precompute(data, spec, variants, start, end, progress)
    shared = SweepShared(
        spec.index, definition_to_dict(spec.base), dict(spec.registry), data, base_config
    )
    rows = run_items(
        executor,
        run_variants,
        shared,
        variants,
        chunk_size=chunk_size,
        label=f"backtesting {len(variants):,} variants",
        progress=progress,
    )
    table = _table(rows, spec)
    return SweepResult(
        spec,
        table,
        start,
        end,
        executor.name,
        executor.workers,
        time.perf_counter() - started,
        notes,
    )


def _table(rows: list[dict[str, Any]], spec: SweepSpec) -> pl.DataFrame:
    params = [p.path for p in spec.parameters]
    columns = ["variant", "seed", *params, "status", "error", *METRICS]
    schema: dict[str, Any] = {
        "variant": pl.Int64,
        "seed": pl.Int64,
        "status": pl.Utf8,
        "error": pl.Utf8,
        **{m: pl.Float64 for m in METRICS},
    }
    frame = pl.DataFrame(
        {c: [r.get(c) for r in rows] for c in columns},
        schema={c: schema.get(c) for c in columns},
        strict=False,
    )
    income = frame["income_return"].to_numpy().astype(np.float64)
    drawdown = frame["max_drawdown"].to_numpy().astype(np.float64)
    return frame.with_columns(pl.Series("pareto", pareto_front(income, drawdown)))


def sweep_stored(
    engine: Engine,
    spec: SweepSpec,
    executor: Executor | None = None,
    *,
    chunk_size: int | None = None,
    progress: Progress | None = None,
    sources: tuple[str, ...] | None = None,
) -> SweepResult:
    """``sweep_on`` over what the store holds (loaded once, here).

    Raises:
        as ``sweep_on``.
    """
    data = load_history_data(engine, sources)
    return sweep_on(data, spec, executor, chunk_size=chunk_size, progress=progress)
