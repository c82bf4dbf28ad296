"""The ``realyield`` command line: a thin layer over the library's functions.

Every command that prints data takes ``--json`` so scripts and tests can read it.
Errors from the library (``RealyieldError``) are printed as one clear line and exit
with status 1 (2 for configuration mistakes); nothing else is caught.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from realyield.core.errors import ConfigError, RealyieldError
from realyield.core.model import Opportunity
from realyield.core.settings import Settings, load_settings
from realyield.store.engine import open_store
from realyield.universe import build
from realyield.universe.repository import (
    SNAPSHOT_SOURCE,
    UniverseQuery,
    load_universe,
    stored_sources,
    table_counts,
)
from realyield.universe.summary import summarize

app = typer.Typer(
    help="realyield: sustainable crypto income, with data anyone can check.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Fetch, import and inspect stored data.", no_args_is_help=True)
app.add_typer(data_app, name="data")
console = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _fail(exc: RealyieldError) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(2 if isinstance(exc, ConfigError) else 1)


@contextmanager
def _session() -> Iterator[tuple[Settings, Engine]]:
    try:
        settings = load_settings()
        engine = open_store(settings)
    except RealyieldError as exc:
        raise _fail(exc) from exc
    try:
        yield settings, engine
    except RealyieldError as exc:
        raise _fail(exc) from exc
    finally:
        engine.dispose()


@contextmanager
def _progress(enabled: bool) -> Iterator[build.Progress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        tasks: dict[str, TaskID] = {}

        def update(description: str, done: int, total: int) -> None:
            key = "main"
            if key not in tasks:
                tasks[key] = bar.add_task(description, total=total)
            bar.update(tasks[key], description=description, completed=done, total=total)

        yield update


def _emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def _print_result(result: build.LoadResult) -> None:
    colour = {"ok": "green", "unchanged": "cyan", "offline": "yellow"}.get(result.status, "red")
    console.print(
        f"[bold {colour}]{result.source}: {result.status}[/] - {result.message}", highlight=False
    )
    report = result.report
    if report is not None:
        console.print(
            f"  fetched/read {report.rows_seen:,} rows, accepted {report.accepted:,}, "
            f"rejected {report.rejected_total:,}, stale {report.stale:,}, "
            f"duplicates resolved {report.duplicates:,}",
            highlight=False,
        )
        for reason, count in report.rejected.most_common():
            console.print(f"    rejected {count:,} x {reason}", highlight=False)
        for reason, count in report.repaired.most_common():
            console.print(f"    repaired {count:,} x {reason}", highlight=False)
        for problem in report.problems[:5]:
            console.print(
                f"    e.g. {problem.where}: {problem.reason} ({problem.detail})", highlight=False
            )
    if result.written:
        console.print(
            "  stored " + ", ".join(f"{v:,} {k}" for k, v in result.written.items()),
            highlight=False,
        )
    if result.fallback is not None:
        _print_result(result.fallback)


@data_app.command("refresh")
def data_refresh(
    source: Annotated[
        str, typer.Option(help="defillama | coingecko | exchange | snapshot")
    ] = "defillama",
    as_json: JsonOpt = False,
) -> None:
    """Fetch fresh data from a live source (offline: keep stored data, else load the snapshot)."""
    with _session() as (settings, engine), _progress(not as_json) as progress:
        result = build.refresh(engine, settings, source, progress=progress)
    if as_json:
        _emit_json(result.as_dict())
    else:
        _print_result(result)
    if result.status == "failed":
        raise typer.Exit(1)


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="CSV/JSON file, plain or .gz")],
    kind: Annotated[
        str | None, typer.Option(help="pools | prices | apy-history (default: detect)")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail on any bad row.")] = False,
    apy_unit: Annotated[
        str, typer.Option(help="percent | fraction (APY history files)")
    ] = "percent",
    series_id: Annotated[
        str | None, typer.Option("--id", help="Series id for a one-pool file.")
    ] = None,
    asset: Annotated[str | None, typer.Option(help="Asset id for a one-asset price file.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Date of a pools dump (YYYY-MM-DD).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import pools, prices or an APY history from a file; bad rows reported by row number."""
    with _session() as (_settings, engine):
        try:
            day = date.fromisoformat(as_of) if as_of else None
        except ValueError as exc:
            raise _fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
        result = build.import_file(
            engine,
            file,
            kind=kind,
            strict=strict,
            as_of=day,
            apy_unit=apy_unit,
            opportunity_id=series_id,
            asset_id=asset,
        )
    if as_json:
        _emit_json(result.as_dict())
    else:
        _print_result(result)


@data_app.command("status")
def data_status(as_json: JsonOpt = False) -> None:
    """What the store holds: rows per table and the newest date per source."""
    with _session() as (settings, engine):
        payload: dict[str, Any] = {
            "database": settings.resolved_database_url(),
            "tables": table_counts(engine),
            "sources": stored_sources(engine),
        }
    if as_json:
        _emit_json(payload)
        return
    console.print(f"store: {payload['database']}", highlight=False)
    for name, count in payload["tables"].items():
        console.print(f"  {name:<14} {count:>10,}", highlight=False)
    for name, facts in payload["sources"].items():
        console.print(
            f"  source {name:<10} {facts['rows']:>8,} opportunity rows, newest {facts['latest']}",
            highlight=False,
        )


def _opportunity_dict(o: Opportunity) -> dict[str, Any]:
    return {
        "id": o.id,
        "kind": o.kind,
        "chain": o.chain,
        "protocol": o.protocol,
        "symbol": o.symbol,
        "apy": o.apy,
        "apy_base": o.apy_base,
        "apy_reward": o.apy_reward,
        "tvl_usd": o.tvl_usd,
        "exposure": o.exposure,
        "stablecoin": o.stablecoin,
        "il_risk": o.il_risk,
        "lockup_days": o.lockup_days,
        "underlying": list(o.underlying),
        "reward_tokens": list(o.reward_tokens),
        "source": o.source,
        "as_of": o.as_of.isoformat(),
    }


def _fmt_usd(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"${value / size:,.1f}{unit}"
    return f"${value:,.0f}"


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}%"


def _universe_table(opps: list[Opportunity], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for name, justify in (
        ("protocol", "left"),
        ("chain", "left"),
        ("symbol", "left"),
        ("kind", "left"),
        ("APY", "right"),
        ("base", "right"),
        ("reward", "right"),
        ("TVL", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for o in opps:
        table.add_row(
            o.protocol,
            o.chain,
            o.symbol[:28],
            o.kind,
            _fmt_pct(o.apy),
            _fmt_pct(o.apy_base),
            _fmt_pct(o.apy_reward),
            _fmt_usd(o.tvl_usd),
        )
    return table


@app.command("universe")
def universe(
    kind: Annotated[
        str | None, typer.Option(help="staking | liquid_staking | lending | liquidity | vault")
    ] = None,
    chain: Annotated[str | None, typer.Option()] = None,
    protocol: Annotated[str | None, typer.Option()] = None,
    min_tvl: Annotated[float | None, typer.Option(help="Minimum TVL in USD.")] = None,
    sort: Annotated[str, typer.Option(help="apy | tvl")] = "tvl",
    limit: Annotated[int | None, typer.Option(help="Show at most this many.")] = 25,
    source: Annotated[
        str | None, typer.Option(help="Only this stored source (e.g. snapshot, file, defillama).")
    ] = None,
    as_of: Annotated[str | None, typer.Option(help="Point-in-time view (YYYY-MM-DD).")] = None,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
) -> None:
    """List yield opportunities with APY split into base (real) and reward (emissions)."""
    with _session() as (_settings, engine):
        try:
            query = UniverseQuery(
                as_of=date.fromisoformat(as_of) if as_of else None,
                kind=kind,
                chain=chain,
                protocol=protocol,
                min_tvl_usd=min_tvl,
                sources=(source,) if source else None,
                sort=sort,
                limit=limit,
            )
        except ValueError as exc:
            raise _fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print(
                "[yellow]store was empty: loaded the bundled snapshot "
                "(run `realyield data refresh` for live data)[/]"
            )
        opps = load_universe(engine, query)
    rows = [_opportunity_dict(o) for o in opps]
    if as_json:
        _emit_json(rows)
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    else:
        console.print(_universe_table(opps, f"{len(opps)} opportunities (sorted by {sort})"))


@app.command("demo")
def demo(as_json: JsonOpt = False) -> None:
    """The main job, offline: load the bundled snapshot and summarize the universe."""
    with _session() as (_settings, engine), _progress(not as_json) as progress:
        loaded = build.load_snapshot(engine, progress=progress)
        opps = load_universe(engine, UniverseQuery(sources=(SNAPSHOT_SOURCE,)))
        counts = table_counts(engine)
    summary = summarize(opps)
    real = [
        o
        for o in opps
        if o.tvl_usd and o.tvl_usd >= 10e6 and o.reward_share is not None and o.reward_share < 0.2
    ]
    real.sort(key=lambda o: o.apy_base or 0.0, reverse=True)
    farms = sorted(
        (o for o in opps if o.reward_share and o.reward_share > 0.5),
        key=lambda o: o.apy or 0.0,
        reverse=True,
    )
    if as_json:
        _emit_json(
            {
                "snapshot": loaded.as_dict(),
                "summary": summary.as_dict(),
                "stored_rows": counts,
                "illustrative_history": True,
                "top_real_yield": [_opportunity_dict(o) for o in real[:10]],
                "top_emission_farms": [_opportunity_dict(o) for o in farms[:5]],
            }
        )
        return
    as_of = loaded.as_of.date() if loaded.as_of else "?"
    console.rule(f"[bold]realyield demo - bundled snapshot as of {as_of}")
    console.print(
        f"{summary.count} opportunities on {len(summary.chains)} chains across "
        f"{summary.protocols} protocols, {_fmt_usd(summary.tvl_usd)} TVL. "
        f"TVL-weighted APY {_fmt_pct(summary.tvl_weighted_apy)}, of which base "
        f"(fees, interest, staking) {_fmt_pct(summary.tvl_weighted_base_apy)}.",
        highlight=False,
    )
    kinds = Table(title="By kind", title_justify="left")
    for name in ("kind", "count", "TVL", "median APY", "paid as real yield"):
        kinds.add_column(name, justify="left" if name == "kind" else "right")
    for k in summary.kinds:
        kinds.add_row(
            k.kind,
            str(k.count),
            _fmt_usd(k.tvl_usd),
            _fmt_pct(k.median_apy),
            "-" if k.base_share is None else f"{k.base_share:.0%}",
        )
    console.print(kinds)
    console.print(
        _universe_table(real[:10], "Highest real (base) yield, TVL >= $10M, < 20% emissions")
    )
    console.print(
        _universe_table(farms[:5], "Headline APYs paid mostly in emissions (likely to fade)")
    )
    console.print(
        f"{summary.above_100pct_apy} opportunities quote APY above 100% (screened out "
        "of every index). Stored: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()),
        highlight=False,
    )
    console.print(
        "[dim]Current APY/TVL/prices are approximations as of the snapshot date; "
        "all histories in the snapshot are ILLUSTRATIVE (generated), not market data. "
        "Run `realyield data refresh` for live data.[/]"
    )


if __name__ == "__main__":  # pragma: no cover
    app()
