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
from rich.box import SIMPLE_HEAD
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine

from realyield.core.errors import ConfigError, RealyieldError
from realyield.core.model import Opportunity
from realyield.core.settings import Settings, load_settings
from realyield.sources.staking import StakingParams, load_staking_params
from realyield.store.engine import open_store
from realyield.universe import build
from realyield.universe.repository import (
    SNAPSHOT_SOURCE,
    UniverseQuery,
    load_universe,
    stored_sources,
    table_counts,
)
from realyield.universe.summary import emission_heavy, real_yield_leaders, summarize

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
def _progress(enabled: bool, *, transient: bool = False) -> Iterator[build.Progress | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("{task.description:<40}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=transient) as bar:
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
    history: Annotated[
        int, typer.Option(help="defillama: also fetch daily history of the N largest pools.")
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Fetch fresh data from a live source (offline: keep stored data, else load the snapshot)."""
    with _session() as (settings, engine), _progress(not as_json) as progress:
        result = build.refresh(engine, settings, source, progress=progress, history_top=history)
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
            scaled = value / size
            return f"${scaled:,.0f}{unit}" if abs(scaled) >= 100 else f"${scaled:,.1f}{unit}"
    return f"${value:,.0f}"


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}%"


_KIND_SHORT = {
    "staking": "stake",
    "liquid_staking": "LST",
    "lending": "lend",
    "liquidity": "LP",
    "vault": "vault",
}


def _universe_table(opps: list[Opportunity], title: str, caption: str | None = None) -> Table:
    table = Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("opportunity", overflow="ellipsis", no_wrap=True, width=22)
    table.add_column("chain", overflow="ellipsis", no_wrap=True, width=9)
    table.add_column("kind", no_wrap=True, width=6)
    for name in ("APY", "base", "reward", "TVL"):
        table.add_column(name, justify="right", no_wrap=True, width=8)
    for o in opps:
        table.add_row(
            f"{o.protocol} {o.symbol}",
            o.chain,
            _KIND_SHORT.get(o.kind, o.kind),
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
    include_stale: Annotated[
        bool,
        typer.Option("--include-stale", help="Also list pools not seen for over 30 days."),
    ] = False,
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
                max_age_days=None if include_stale else 30,
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


def _staking_table(rows: list[StakingParams]) -> Table:
    table = Table(
        title="Staking: reward after fees, nominal and real (net of supply inflation)",
        title_justify="left",
        caption="real = (1 + nominal) / (1 + inflation) - 1: the growth of your share of the "
        "network",
        caption_justify="left",
        box=SIMPLE_HEAD,
    )
    for name in ("network", "route", "nominal", "inflation", "real", "unbonding", "slashing"):
        table.add_column(name, justify="left" if name in ("network", "route") else "right")
    for p in rows:
        table.add_row(
            p.network,
            p.route,
            _fmt_pct(p.net_apr_pct),
            _fmt_pct(p.supply_inflation_pct),
            _fmt_pct(100 * p.real_net_reward_rate),
            f"{p.unbonding_days:g} d",
            "yes" if p.slashing else "no",
        )
    return table


@app.command("demo")
def demo(as_json: JsonOpt = False) -> None:
    """The main job, offline: load the bundled snapshot and summarize the universe."""
    with _session() as (_settings, engine):
        with _progress(not as_json, transient=True) as progress:
            loaded = build.load_snapshot(engine, progress=progress)
        opps = load_universe(engine, UniverseQuery(sources=(SNAPSHOT_SOURCE,)))
        counts = table_counts(engine)
    summary = summarize(opps)
    leaders = real_yield_leaders(opps)
    farms = emission_heavy(opps)
    staking = sorted(
        (p for p in load_staking_params() if p.route != "liquid"),
        key=lambda p: p.real_net_reward_rate,
        reverse=True,
    )
    if as_json:
        _emit_json(
            {
                "snapshot": loaded.as_dict(),
                "summary": summary.as_dict(),
                "stored_rows": counts,
                "illustrative_history": True,
                "top_real_yield": [_opportunity_dict(o) for o in leaders],
                "top_emission_farms": [_opportunity_dict(o) for o in farms],
                "staking_real_rates": [
                    {
                        "network": p.network,
                        "route": p.route,
                        "net_apr_pct": p.net_apr_pct,
                        "supply_inflation_pct": p.supply_inflation_pct,
                        "real_net_reward_pct": 100 * p.real_net_reward_rate,
                        "unbonding_days": p.unbonding_days,
                        "source": p.source_name,
                    }
                    for p in staking
                ],
            }
        )
        return
    as_of = loaded.as_of.date() if loaded.as_of else "?"
    console.rule(f"[bold]realyield demo - bundled snapshot as of {as_of}")
    console.print(
        f"{summary.count} opportunities on {len(summary.chains)} chains across "
        f"{summary.protocols} protocols, {_fmt_usd(summary.tvl_usd)} TVL. TVL-weighted APY "
        f"{_fmt_pct(summary.tvl_weighted_apy)}, of which base (fees, interest, staking) "
        f"{_fmt_pct(summary.tvl_weighted_base_apy)}.",
        highlight=False,
    )
    kinds = Table(title="By kind", title_justify="left", box=SIMPLE_HEAD)
    for name in ("kind", "count", "TVL", "median APY", "paid as base yield"):
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
    console.print(_staking_table(staking))
    console.print(
        _universe_table(
            leaders,
            "Highest base yield: TVL >= $10M, < 20% emissions, no impermanent loss",
            "staking APY is nominal here; see the real rates above",
        )
    )
    console.print(_universe_table(farms, "Headline APY paid mostly in emissions (likely to fade)"))
    console.print(
        f"{summary.above_100pct_apy} opportunities quote APY above 100%. Stored: "
        + ", ".join(f"{v:,} {k}" for k, v in counts.items()),
        highlight=False,
    )
    console.print(
        "[dim]Current APY/TVL/prices are approximations as of the snapshot date; all "
        "histories in the snapshot are ILLUSTRATIVE (generated), not market data. Run "
        "`realyield data refresh` for live data.[/]"
    )


if __name__ == "__main__":  # pragma: no cover
    app()
