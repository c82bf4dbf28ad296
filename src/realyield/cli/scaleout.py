"""``realyield sweep`` and ``realyield plan-batch``: thin wrappers over
``scaleout.sweep`` and ``scaleout.plan_batch`` on the executor the options name."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, progress_bar, session
from realyield.core.errors import RealyieldError
from realyield.scaleout.executors import EXECUTORS, Executor, make_executor
from realyield.scaleout.plan_batch import (
    DEFAULT_PATHS,
    BatchResult,
    plan_batch_on,
    read_clients,
    stored_basis,
)
from realyield.scaleout.sweep import SweepResult, sweep_stored
from realyield.scaleout.sweep_report import write_report
from realyield.scaleout.sweep_spec import load_spec
from realyield.scaleout.tables import write_results

ExecutorOpt = Annotated[
    str, typer.Option("--executor", help=f"Where tasks run: {' | '.join(EXECUTORS)}.")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(help="A running Dask scheduler, e.g. tcp://10.0.0.5:8786 (--executor dask)."),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(help="Worker processes (processes, or a local Dask cluster started here)."),
]
ChunkOpt = Annotated[
    int | None, typer.Option(help="Items per task (default: about 4 tasks per worker).")
]


@contextmanager
def _executor(kind: str, workers: int | None, scheduler: str | None) -> Iterator[Executor]:
    try:
        ex = make_executor(kind, workers=workers, scheduler=scheduler)
    except RealyieldError as exc:
        raise fail(exc) from exc
    try:
        link = ex.dashboard_link
        if link:
            err.print(f"Dask dashboard: {link}", highlight=False)
        yield ex
    finally:
        ex.close()


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


def _sweep_table(result: SweepResult, title: str, frame_name: str, top: int) -> Table:
    frame = result.front() if frame_name == "front" else result.best(top)
    table = Table(title=title, title_justify="left", box=SIMPLE_HEAD)
    params = result.parameters()
    for col in ["variant", *params, "income", "max DD", "CAGR", "Sharpe", "turnover/yr"]:
        table.add_column(col, justify="left" if col in params else "right")
    for r in frame.head(top).iter_rows(named=True):
        table.add_row(
            str(r["variant"]),
            *[str(r[p]) for p in params],
            _pct(r["income_return"]),
            _pct(r["max_drawdown"]),
            _pct(r["cagr"]),
            f"{r['sharpe']:.2f}",
            f"{r['turnover_annual']:.2f}",
        )
    return table


def sweep(
    spec: Annotated[Path, typer.Argument(help="The sweep spec (TOML): index, parameters.")],
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    chunk_size: ChunkOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Write every variant's row here (.parquet or .csv).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    top: Annotated[int, typer.Option(help="How many best variants to show.")] = 10,
    json_out: JsonOpt = False,
) -> None:
    """Backtest many variants of an index's rules point in time; the Pareto front of
    income against drawdown and the best variants."""
    try:
        parsed = load_spec(spec)
    except RealyieldError as exc:
        raise fail(exc) from exc
    with session() as (_, engine), _executor(executor, workers, scheduler) as ex:
        with progress_bar(not json_out) as progress:
            result = sweep_stored(engine, parsed, ex, chunk_size=chunk_size, progress=progress)
        written = [write_results(result.table, out)] if out else []
        if report:
            written.append(write_report(report, result, top))
    if json_out:
        emit_json(result.as_dict(top=top))
    else:
        failed = result.table.height - result.ok.height
        console.print(
            f"[bold]{parsed.index}[/]: {result.table.height:,} variants backtested "
            f"{result.start} to {result.end} in {result.seconds:.1f} s on {result.executor} "
            f"({result.workers} worker(s)); {failed:,} could not be run",
            highlight=False,
        )
        console.print(_sweep_table(result, "Pareto front: income against drawdown", "front", top))
        console.print(_sweep_table(result, f"Best {top} by Sharpe", "best", top))
        for note in result.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False)
    for path in written:
        err.print(f"written: {path}", highlight=False)


def _batch_table(result: BatchResult, top: int) -> Table:
    table = Table(title="Plans", title_justify="left", box=SIMPLE_HEAD)
    cols = ["client", "need", "verdict", "success", "threshold", "allocation", "capital p50 end"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("client", "allocation") else "right")
    for r in result.table.filter(status="ok").head(top).iter_rows(named=True):
        mix = json.loads(r["allocation"])
        table.add_row(
            r["client"],
            f"{r['need']:.2%}",
            r["verdict"],
            f"{r['success_probability']:.0%}",
            f"{r['success_threshold']:.0%}",
            ", ".join(
                f"{k} {v:.0%}" if v >= 0.005 else f"{k} <1%"
                for k, v in sorted(mix.items(), key=lambda kv: -kv[1])
            ),
            f"${r['capital_end_p50']:,.0f}",
        )
    return table


def plan_batch(
    clients: Annotated[Path, typer.Argument(help="CSV: client,capital,income[,horizon,...].")],
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    chunk_size: ChunkOpt = None,
    paths: Annotated[int, typer.Option(help="Monte Carlo paths per client.")] = DEFAULT_PATHS,
    seed: Annotated[int, typer.Option(help="The run's seed (each client's derives from it).")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Write the results here (.parquet or .csv).")
    ] = None,
    top: Annotated[int, typer.Option(help="How many plans to print.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """One income plan per client row: success probability, recommended allocation,
    percentiles. A row that fails is reported; the batch goes on."""
    try:
        rows = read_clients(clients)
    except RealyieldError as exc:
        raise fail(exc) from exc
    with session() as (_, engine), _executor(executor, workers, scheduler) as ex:
        with console.status("building today's indices...") if not json_out else _quiet():
            basis = stored_basis(engine, paths=paths, seed=seed)
        with progress_bar(not json_out) as progress:
            result = plan_batch_on(basis, rows, ex, chunk_size=chunk_size, progress=progress)
        written = write_results(result.table, out) if out else None
    if json_out:
        emit_json(result.as_dict())
    else:
        s = result.as_dict(rows=False)
        console.print(
            f"{s['planned']:,} of {s['clients']:,} clients planned ({paths:,} paths each) "
            f"in {result.seconds:.1f} s on {result.executor} ({result.workers} worker(s)); "
            f"verdicts: {s['verdicts']}",
            highlight=False,
        )
        console.print(_batch_table(result, top))
        for f in s["failed"]:
            console.print(
                f"[red]line {f['line']} ({f['client'] or 'no id'}): {f['error']}[/]",
                highlight=False,
            )
        for note in result.notes:
            console.print(f"[dim]note: {note}[/]", highlight=False)
    if written:
        err.print(f"written: {written}", highlight=False)


@contextmanager
def _quiet() -> Iterator[None]:
    yield None
