"""Batch plans: one income plan per client row, on any executor.

Why it is built this way: what clients share is computed once per batch, on the
driver, and sent to each worker once (``PlanBasis``): today's indices, their price
history, the forecast's view, the tail-risk jump sources, and the optimizer's frontier
(its scenario set and the surrogate mix of every target on a grid, for each risk
profile). A task carries a chunk of client rows and plans them together with the
planner's own ``plan_many`` (verdict, candidate screening, Monte Carlo), which stacks
the clients' Monte Carlo runs into a few large numpy arrays. Each client's seed derives
from the run's seed and the row's position, and a run's arithmetic does not depend on
what it is stacked with, so a client's result does not depend on the executor, the
chunking or the number of workers. A row that cannot be read or planned becomes a
failed row with its reason; the batch goes on.

The clients file is CSV with a header; ``client``, ``capital`` and ``income`` are
required, every other column is optional (blank = the planner's default)::

    client,capital,income,horizon,risk,tax_income,tax_sales,inflation,start_in,withdrawal,reinvest,allocation
    c-001,1m,50k/year,30y,moderate,25%,15%,2.5%,0,fixed,0,
    c-002,300000,1500/month,25,conservative,,,,,,,"large-cap-staking=60%,stablecoin-income=40%"
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine

from realyield.core.errors import ConfigError, DataError, InsufficientDataError, RealyieldError
from realyield.indices.composition import IndexComposition
from realyield.indices.service import indices_at
from realyield.planning.context import PlanContext, plan_context
from realyield.planning.outcomes import PERCENTILES
from realyield.planning.parse import request_options
from realyield.planning.plan import Plan, PlanRequest
from realyield.planning.planner import plan_many, solve_frontier
from realyield.scaleout.executors import Executor, LocalExecutor, Progress, run_items
from realyield.scaleout.seeds import item_seed
from realyield.scoring.service import score_stored
from realyield.universe.repository import load_assets, price_history_frame, stored_sources

REQUIRED = ("client", "capital", "income")
#: CSV column -> PlanRequest field
COLUMNS = {
    "capital": "capital",
    "income": "income_per_year",
    "horizon": "horizon_years",
    "risk": "risk",
    "tax_income": "tax_income",
    "tax_sales": "tax_sales",
    "inflation": "inflation",
    "start_in": "start_in_years",
    "withdrawal": "withdrawal",
    "reinvest": "reinvest",
    "allocation": "allocation",
}
DEFAULT_PATHS = 2_000
MAX_CLIENTS = 1_000_000


@dataclass(frozen=True)
class ClientRow:
    """One client as read from the file: its line, id and the cells as written."""

    line: int
    client: str
    cells: dict[str, str]


@dataclass
class PlanBasis:
    """What every client's plan reads (sent to each worker once): the planner's shared
    context, its frontier solved for every profile."""

    context: PlanContext
    notes: list[str] = field(default_factory=list)
    paths: int = DEFAULT_PATHS
    seed: int = 0

    @property
    def as_of(self) -> date:
        return self.context.as_of


def basis_of(
    context: PlanContext,
    *,
    paths: int = DEFAULT_PATHS,
    seed: int = 0,
    notes: list[str] | None = None,
) -> PlanBasis:
    """A batch basis on ``context`` (``plan_batch_on`` solves its frontier for the
    batch's clients before sending it out)."""
    return PlanBasis(context, list(notes or []), paths, seed)


def read_clients(path: Path | str) -> list[ClientRow]:
    """The client rows of a CSV file (cells kept as text: each row is checked when it
    is planned, so one bad row does not stop the batch).

    Raises:
        DataError: the file cannot be read, has no header or lacks a required column,
            repeats a client id, or has more than ``MAX_CLIENTS`` rows.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the clients file ({exc})") from exc
    return parse_clients(text, source=str(path))


def parse_clients(text: str, *, source: str = "clients") -> list[ClientRow]:
    """``read_clients`` for CSV text already in memory."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DataError(
            f"{source}: the header lacks {missing}; required columns: {list(REQUIRED)}, "
            f"optional: {sorted(set(COLUMNS) - set(REQUIRED))}"
        )
    unknown = sorted(set(header) - set(COLUMNS) - {"client"})
    if unknown:
        raise DataError(f"{source}: unknown columns {unknown}; known: {['client', *COLUMNS]}")
    rows: list[ClientRow] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num  # the file's own line (blank lines are skipped by csv)
        cells = {
            (key or "").strip().lower(): (value or "").strip()
            for key, value in raw.items()
            if key is not None and not isinstance(value, list)
        }
        client = cells.get("client", "")
        if not any(cells.values()):
            continue  # a blank line
        if client in seen:
            raise DataError(
                f"{source}: line {line}: client {client!r} already on line {seen[client]}; "
                "client ids must be unique (results are keyed by them)"
            )
        seen[client] = line
        rows.append(ClientRow(line, client, cells))
        if len(rows) > MAX_CLIENTS:
            raise DataError(f"{source}: more than {MAX_CLIENTS:,} clients; split the file")
    if not rows:
        raise DataError(f"{source}: no client rows under the header")
    return rows


def request_of(row: ClientRow, *, paths: int, seed: int) -> PlanRequest:
    """The plan request a row asks for.

    Raises:
        ConfigError: a missing client id, capital or income, or a cell that cannot be
            read (the message names the column).
    """
    if not row.client:
        raise ConfigError("the client id is empty")
    for col in ("capital", "income"):
        if not row.cells.get(col):
            raise ConfigError(f"{col} is empty")
    raw = {COLUMNS[c]: v for c, v in row.cells.items() if c in COLUMNS and v != ""}
    opts = request_options(**raw)
    return PlanRequest(**opts, paths=paths, seed=seed)


def _first_income_year(request: PlanRequest, years: int) -> int:
    return min(int(np.ceil(request.start_in_years)), years - 1)


def plan_rows(basis: PlanBasis, chunk: Sequence[tuple[int, ClientRow]]) -> list[dict[str, Any]]:
    """The task: plan the (position, row) pairs of ``chunk`` together; a row's own error
    is its result's ``error``."""
    out: list[dict[str, Any]] = []
    requests: list[PlanRequest] = []
    slots: list[int] = []
    for position, row in chunk:
        seed = item_seed(basis.seed, position)
        out.append({"client": row.client, "line": row.line, "seed": seed})
        try:
            requests.append(request_of(row, paths=basis.paths, seed=seed))
            slots.append(len(out) - 1)
        except RealyieldError as exc:
            out[-1].update(status="failed", error=str(exc))
    plans = plan_many(basis.context, requests, detail=False)
    for k, request, plan in zip(slots, requests, plans, strict=True):
        if isinstance(plan, Exception):
            out[k].update(status="failed", error=str(plan))
        else:
            out[k].update(_row(request, plan))
    return out


def _row(request: PlanRequest, plan: Plan) -> dict[str, Any]:
    o = plan.outcomes
    first = _first_income_year(request, o.capital_pct.shape[1])
    p = {q: i for i, q in enumerate(PERCENTILES)}
    v = plan.verdict
    rec = v.recommended
    return dict(
        status="ok",
        error=None,
        capital=request.capital,
        income_per_year=request.income_per_year,
        risk=request.risk,
        horizon_years=request.horizon_years,
        required_yield=v.required_yield,
        need=v.need,
        verdict=v.level,
        success_probability=o.success_probability,
        success_threshold=v.success_threshold,
        exhaustion_probability=o.exhaustion_probability,
        allocation=json.dumps(plan.allocation, sort_keys=True),
        recommended=json.dumps(rec.weights, sort_keys=True) if rec else None,
        recommended_success=rec.success_probability if rec else None,
        blended_apy=plan.blended.apy,
        blended_real_apy=plan.blended.real,
        **{f"capital_end_p{q}": float(o.capital_pct[p[q], -1]) for q in (5, 50, 95)},
        capital_end_real_p50=float(o.capital_real_pct[p[50], -1]),
        **{f"income_first_year_p{q}": float(o.income_pct[p[q], first]) for q in (5, 50, 95)},
    )


RESULT_COLUMNS: dict[str, Any] = {
    "client": pl.Utf8, "line": pl.Int64, "seed": pl.Int64, "status": pl.Utf8,
    "error": pl.Utf8, "capital": pl.Float64, "income_per_year": pl.Float64,
    "risk": pl.Utf8, "horizon_years": pl.Int64, "required_yield": pl.Float64,
    "need": pl.Float64, "verdict": pl.Utf8, "success_probability": pl.Float64,
    "success_threshold": pl.Float64, "exhaustion_probability": pl.Float64,
    "allocation": pl.Utf8, "recommended": pl.Utf8, "recommended_success": pl.Float64,
    "blended_apy": pl.Float64, "blended_real_apy": pl.Float64,
    "capital_end_p5": pl.Float64, "capital_end_p50": pl.Float64,
    "capital_end_p95": pl.Float64, "capital_end_real_p50": pl.Float64,
    "income_first_year_p5": pl.Float64, "income_first_year_p50": pl.Float64,
    "income_first_year_p95": pl.Float64,
}  # fmt: skip


@dataclass
class BatchResult:
    table: pl.DataFrame  # one row per client, in file order
    as_of: date
    executor: str
    workers: int
    seconds: float
    paths: int
    seed: int
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> pl.DataFrame:
        return self.table.filter(pl.col("status") == "failed")

    def as_dict(self, *, rows: bool = True) -> dict[str, Any]:
        ok = self.table.filter(pl.col("status") == "ok")
        out: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "executor": self.executor,
            "workers": self.workers,
            "seconds": round(self.seconds, 3),
            "paths": self.paths,
            "seed": self.seed,
            "clients": self.table.height,
            "planned": ok.height,
            "failed": [
                {"client": r["client"], "line": r["line"], "error": r["error"]}
                for r in self.failed.iter_rows(named=True)
            ],
            "verdicts": dict(ok.group_by("verdict").len().sort("verdict").iter_rows()),
            "notes": self.notes,
        }
        if rows:
            out["results"] = self.table.to_dicts()
        return out


def plan_batch_on(
    basis: PlanBasis,
    rows: Sequence[ClientRow],
    executor: Executor | None = None,
    *,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> BatchResult:
    """Plan every row on ``executor`` (in-process by default).

    Raises:
        ConfigError: paths out of range.
        WorkerPoolError: the executor could not complete the run.
    """
    if not 1 <= basis.paths <= 1_000_000:
        raise ConfigError(f"paths must be 1-1,000,000, got {basis.paths}")
    executor = executor or LocalExecutor()
    started = time.perf_counter()
    # what clients share: the optimizer's mixes for every (profile, target) the batch
    # needs, solved once here, before the basis goes to the workers
    requests = []
    for position, row in enumerate(rows):
        try:
            requests.append(
                request_of(row, paths=basis.paths, seed=item_seed(basis.seed, position))
            )
        except RealyieldError:
            continue
    solve_frontier(basis.context, requests)
    results = run_items(
        executor,
        plan_rows,
        basis,
        list(enumerate(rows)),
        chunk_size=chunk_size,
        label=f"planning {len(rows):,} clients",
        progress=progress,
    )
    table = pl.DataFrame(
        {c: [r.get(c) for r in results] for c in RESULT_COLUMNS},
        schema=RESULT_COLUMNS,
        strict=False,
    )
    return BatchResult(
        table,
        basis.as_of,
        executor.name,
        executor.workers,
        time.perf_counter() - started,
        basis.paths,
        basis.seed,
        list(basis.notes),
    )


def stored_basis(
    engine: Engine, *, paths: int = DEFAULT_PATHS, seed: int = 0, as_of: date | None = None
) -> PlanBasis:
    """Today's indices, prices and forecast from the store, made into the context every
    plan of a batch shares (what ``plan_stored`` builds for one plan).

    Raises:
        InsufficientDataError: no index can be built from the stored data, or too little
            price history.
    """
    scored, forecast_note = score_stored(engine)
    built, _ = indices_at(engine, as_of=as_of, scored=scored)
    day = as_of or scored.inputs.as_of
    compositions = {k: v for k, v in built.items() if isinstance(v, IndexComposition)}
    if not compositions:
        raise InsufficientDataError("no index could be built from the stored data")
    notes = [forecast_note] if forecast_note else []
    notes += [f"{k}: not built ({v})" for k, v in built.items() if k not in compositions]
    if "snapshot" in stored_sources(engine):
        notes.insert(
            0,
            "the bundled snapshot's price and yield histories are ILLUSTRATIVE (generated): "
            "so are these outcomes; import real prices for real plans",
        )
    context = plan_context(
        compositions,
        price_history_frame(engine, end=day),
        frozenset(a.id for a in load_assets(engine) if a.category == "stablecoin"),
        as_of=day,
        forecast=scored.forecast,
    )
    return basis_of(context, paths=paths, seed=seed, notes=notes)


__all__ = [
    "BatchResult",
    "ClientRow",
    "PlanBasis",
    "basis_of",
    "parse_clients",
    "plan_batch_on",
    "plan_rows",
    "read_clients",
    "request_of",
    "stored_basis",
]
