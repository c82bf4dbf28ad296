"""``realyield universe`` and ``realyield demo``."""

from __future__ import annotations

import csv
import sys
from datetime import date
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from realyield.cli.common import (
    JsonOpt,
    console,
    emit_json,
    err,
    fail,
    fmt_pct,
    fmt_usd,
    opportunity_dict,
    progress_bar,
    session,
    universe_table,
)
from realyield.core.errors import ConfigError
from realyield.sources.staking import StakingParams, load_staking_params
from realyield.universe import build
from realyield.universe.repository import (
    SNAPSHOT_SOURCE,
    UniverseQuery,
    load_universe,
    stored_sources,
    table_counts,
)
from realyield.universe.summary import emission_heavy, real_yield_leaders, summarize


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
    with session() as (_settings, engine):
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
            raise fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print(
                "[yellow]store was empty: loaded the bundled snapshot "
                "(run `realyield data refresh` for live data)[/]"
            )
        opps = load_universe(engine, query)
    rows = [opportunity_dict(o) for o in opps]
    if as_json:
        emit_json(rows)
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["id"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    else:
        console.print(universe_table(opps, f"{len(opps)} opportunities (sorted by {sort})"))


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
            fmt_pct(p.net_apr_pct),
            fmt_pct(p.supply_inflation_pct),
            fmt_pct(100 * p.real_net_reward_rate),
            f"{p.unbonding_days:g} d",
            "yes" if p.slashing else "no",
        )
    return table


def demo(as_json: JsonOpt = False) -> None:
    """The main job, offline: load the bundled snapshot and summarize the universe."""
    with session() as (_settings, engine):
        with progress_bar(not as_json, transient=True) as progress:
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
        emit_json(
            {
                "snapshot": loaded.as_dict(),
                "summary": summary.as_dict(),
                "stored_rows": counts,
                "illustrative_history": True,
                "top_real_yield": [opportunity_dict(o) for o in leaders],
                "top_emission_farms": [opportunity_dict(o) for o in farms],
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
        f"{summary.protocols} protocols, {fmt_usd(summary.tvl_usd)} TVL. TVL-weighted APY "
        f"{fmt_pct(summary.tvl_weighted_apy)}, of which base (fees, interest, staking) "
        f"{fmt_pct(summary.tvl_weighted_base_apy)}.",
        highlight=False,
    )
    kinds = Table(title="By kind", title_justify="left", box=SIMPLE_HEAD)
    for name in ("kind", "count", "TVL", "median APY", "paid as base yield"):
        kinds.add_column(name, justify="left" if name == "kind" else "right")
    for k in summary.kinds:
        kinds.add_row(
            k.kind,
            str(k.count),
            fmt_usd(k.tvl_usd),
            fmt_pct(k.median_apy),
            "-" if k.base_share is None else f"{k.base_share:.0%}",
        )
    console.print(kinds)
    console.print(_staking_table(staking))
    console.print(
        universe_table(
            leaders,
            "Highest base yield: TVL >= $10M, < 20% emissions, no impermanent loss",
            "staking APY is nominal here; see the real rates above",
        )
    )
    console.print(universe_table(farms, "Headline APY paid mostly in emissions (likely to fade)"))
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
