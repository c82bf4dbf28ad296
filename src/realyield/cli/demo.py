"""``realyield demo``: the product's front door, offline on the bundled snapshot.

It loads the snapshot (once), then shows what realyield answers: how much of the
headline yield is real, the staking rates net of inflation, the best sustainable yield
per kind with both scores and the forecast, and the farms whose APY will fade.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.box import SIMPLE_HEAD
from rich.table import Table

from realyield.cli.common import (
    KIND_SHORT,
    JsonOpt,
    console,
    emit_json,
    fmt_pct,
    fmt_usd,
    progress_bar,
    session,
)
from realyield.cli.indices import _summary_table
from realyield.cli.plan import print_plan
from realyield.core.errors import RealyieldError
from realyield.indices.composition import IndexComposition
from realyield.indices.service import indices_at
from realyield.planning.service import Plan, plan_on_indices, request_from_preset
from realyield.reference.staking import StakingParams, load_staking_params
from realyield.scoring.service import score_stored
from realyield.universe import build
from realyield.universe.repository import SNAPSHOT_SOURCE, UniverseQuery, table_counts
from realyield.universe.summary import summarize

DEMO_PATHS = 5_000


def _staking_table(rows: list[StakingParams]) -> Table:
    table = Table(
        title="Staking: reward after fees, nominal and real (net of supply inflation)",
        title_justify="left",
        caption="real = (1 + nominal) / (1 + inflation) - 1: the growth of your share of "
        "the network",
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


def _scored_table(frame: pl.DataFrame, title: str, *, kind_column: bool) -> Table:
    """Ranked picks with the readable id `explain` accepts (``frame`` from
    ``ScoredUniverse.table(readable=True)``)."""
    table = Table(title=title, title_justify="left", box=SIMPLE_HEAD, pad_edge=False)
    if kind_column:
        table.add_column("kind", no_wrap=True)
    table.add_column("id (for explain)", overflow="fold")
    for name in ("APY", "IL/yr", "sust.", "fcst", "S", "R"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in frame.iter_rows(named=True):
        cells = [KIND_SHORT.get(row["kind"], row["kind"])] if kind_column else []
        loss = row.get("apy_impermanent_loss")
        cells += [
            row["label"],
            fmt_pct(row["apy"]),
            fmt_pct(loss) if loss else "-",
            fmt_pct(row["apy_sustainable"]),
            fmt_pct(row.get("forecast_apy_30d")),
            row["sustainability_grade"],
            row["risk_grade"],
        ]
        table.add_row(*cells)
    return table


def _rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    keep = (
        "id",
        "label",
        "apy_impermanent_loss",
        "kind",
        "protocol",
        "symbol",
        "chain",
        "apy",
        "apy_sustainable",
        "forecast_apy_30d",
        "sustainability",
        "sustainability_grade",
        "risk",
        "risk_grade",
        "tvl_usd",
        "excluded_reason",
    )
    return [{k: row.get(k) for k in keep} for row in frame.iter_rows(named=True)]


def demo(as_json: JsonOpt = False) -> None:
    """The main job, offline: the bundled snapshot screened, scored and explained."""
    query = UniverseQuery(sources=(SNAPSHOT_SOURCE,))
    with session() as (_settings, engine):
        with progress_bar(not as_json, transient=True) as progress:
            loaded = build.load_snapshot(engine, progress=progress)
        scored, forecast_note = score_stored(engine, query, home=_settings.home)
        indices, _ = indices_at(engine, scored=scored)
        counts = table_counts(engine)
        try:
            plan: Plan | str = plan_on_indices(
                engine,
                request_from_preset("supplemental", paths=DEMO_PATHS),
                indices,
                as_of=scored.inputs.as_of,
                forecast=scored.forecast,
            )
        except RealyieldError as exc:  # the demo goes on without its plan
            plan = f"the supplemental-income plan could not be made: {exc}"
    opps = list(scored.inputs.opportunities)
    summary = summarize(opps)
    table = scored.table(readable=True)
    top = scored.top_per_kind(3)
    farms = (
        table.filter(pl.col("apy_reward") > pl.col("apy_base")).sort("apy", descending=True).head(5)
    )
    staking = sorted(
        (p for p in load_staking_params() if p.route != "liquid"),
        key=lambda p: p.real_net_reward_rate,
        reverse=True,
    )
    passing = table.filter(~pl.col("excluded"))
    if as_json:
        emit_json(
            {
                "snapshot": loaded.as_dict(),
                "summary": summary.as_dict(),
                "stored_rows": counts,
                "illustrative_history": True,
                "passing_screens": passing.height,
                "excluded_by_screen": scored.exclusion_counts(),
                "top_sustainable_per_kind": _rows(top),
                "top_emission_farms": _rows(farms),
                "forecast_note": forecast_note,
                "indices": [
                    c.as_dict()
                    if isinstance(c, IndexComposition)
                    else {"name": n, "error": str(c), "constituents": []}
                    for n, c in indices.items()
                ],
                "plan": plan.as_dict() if isinstance(plan, Plan) else {"error": plan},
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
    weighted_sustainable = (
        passing.select(
            (pl.col("apy_sustainable") * pl.col("tvl_usd")).sum() / pl.col("tvl_usd").sum()
        ).item()
        if passing.height
        else None
    )
    console.print(
        f"{summary.count} opportunities on {len(summary.chains)} chains across "
        f"{summary.protocols} protocols, {fmt_usd(summary.tvl_usd)} TVL. TVL-weighted APY "
        f"{fmt_pct(summary.tvl_weighted_apy)}, of which base (fees, interest, staking) "
        f"{fmt_pct(summary.tvl_weighted_base_apy)}. {passing.height} pass the screens, with a "
        f"TVL-weighted sustainable APY of {fmt_pct(weighted_sustainable)}.",
        highlight=False,
    )
    console.print(_summary_table(indices))
    console.print(_staking_table(staking))
    console.print(
        _scored_table(
            top,
            f"Best sustainable APY per kind: {top.height} of {passing.height} passing every "
            "screen shown",
            kind_column=True,
        )
    )
    farming = table.filter(pl.col("apy_reward") > pl.col("apy_base")).height
    console.print(
        _scored_table(
            farms,
            f"Headline APY paid mostly in emissions: what is likely to remain ({farms.height} "
            f"of {farming} shown)",
            kind_column=True,
        )
    )
    excluded = ", ".join(f"{v} {k}" for k, v in scored.exclusion_counts().items())
    console.print(f"Excluded by the screens: {excluded or 'none'}.", highlight=False)
    console.print(
        "IL/yr = expected impermanent loss a year (netted out of the sustainable APY); "
        "S = sustainability (0-100, A best), R = risk (0-100, A lowest); "
        "`realyield explain ID` shows every factor, `realyield screen --all` every "
        "opportunity.",
        highlight=False,
    )
    if forecast_note:
        console.print(f"[dim]forecast: {forecast_note}[/]")
    console.print(
        "[dim]Stored: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()) + ". Current "
        "APY/TVL/prices are approximations as of the snapshot date; all histories in the "
        "snapshot are ILLUSTRATIVE (generated), not market data, so forecasts and scores "
        "that use history are illustrative too. Run `realyield data refresh` for live "
        "data.[/]"
    )
    console.rule("[bold]Income plan: the supplemental-income preset")
    if isinstance(plan, Plan):
        print_plan(plan)
        console.print(
            "[dim]Your own: `realyield plan --capital 300000 --income 1500/month "
            "[--risk ...] [--report plan.html]`[/]"
        )
    else:
        console.print(plan)
    console.print(
        "[dim]More, offline: `realyield serve` (dashboard and API at http://127.0.0.1:8000), "
        "`realyield backtest large-cap-staking --report bt.html`, `realyield sweep SPEC.toml "
        "--executor dask` (methodology variants, docs/scaleout.md), `realyield plan-batch "
        "clients.csv`, `realyield ledger import "
        "FILE`, and after importing real CoinGecko prices (`realyield data import`), "
        "`realyield monitor --replay 2022-05-01:2023-03-31` (the LUNA, stETH and USDC "
        "episodes).[/]"
    )
