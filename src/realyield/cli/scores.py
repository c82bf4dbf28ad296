"""``realyield screen``, ``realyield explain`` and ``realyield model``."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, fmt_pct, session
from realyield.core.errors import ConfigError
from realyield.scoring.score import Explanation
from realyield.scoring.service import score_stored
from realyield.universe import build
from realyield.universe.repository import UniverseQuery, stored_sources

model_app = typer.Typer(help="Train and evaluate the forward-yield forecast.", no_args_is_help=True)
SORTS = ("sustainable", "apy", "sustainability", "risk", "tvl")
KindOpt = Annotated[
    str | None, typer.Option(help="staking | liquid_staking | lending | liquidity | vault")
]


def _query(
    kind: str | None, chain: str | None, source: str | None, as_of: str | None
) -> UniverseQuery:
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
    try:
        return UniverseQuery(
            as_of=day, kind=kind, chain=chain, sources=(source,) if source else None
        )
    except ConfigError as exc:
        raise fail(exc) from exc


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def screen(
    kind: KindOpt = None,
    chain: Annotated[str | None, typer.Option()] = None,
    min_sustainability: Annotated[
        float | None, typer.Option(help="Keep scores at or above this (0-100).")
    ] = None,
    max_risk: Annotated[float | None, typer.Option(help="Keep risk at or below this.")] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list excluded opportunities with their reasons.")
    ] = False,
    sort: Annotated[str, typer.Option(help=" | ".join(SORTS))] = "sustainable",
    limit: Annotated[int | None, typer.Option(help="Show at most this many (table).")] = 30,
    source: Annotated[str | None, typer.Option(help="Only this stored source.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Point-in-time (YYYY-MM-DD).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Screen and score opportunities: APY, sustainable APY, forecast, scores and grades."""
    if sort not in SORTS:
        raise fail(ConfigError(f"unknown sort {sort!r}; use one of {SORTS}"))
    query = _query(kind, chain, source, as_of)
    with session() as (_settings, engine):
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print("[yellow]store was empty: loaded the bundled snapshot[/]")
        scored, note = score_stored(engine, query)
    table = scored.table()
    if not show_all:
        table = table.filter(~pl.col("excluded"))
    if min_sustainability is not None:
        table = table.filter(pl.col("sustainability") >= min_sustainability)
    if max_risk is not None:
        table = table.filter(pl.col("risk") <= max_risk)
    column = {"sustainable": "apy_sustainable", "tvl": "tvl_usd"}.get(sort, sort)
    table = table.sort(column, descending=sort != "risk", nulls_last=True)
    if as_json:
        emit_json([{k: _clean(v) for k, v in row.items()} for row in table.iter_rows(named=True)])
        return
    view = Table(
        title=f"{table.height} opportunities"
        + (" (incl. excluded)" if show_all else " passing the screens"),
        title_justify="left",
        box=SIMPLE_HEAD,
        pad_edge=False,
    )
    for name, justify, width in (
        ("opportunity", "left", 22),
        ("chain", "left", 9),
        ("APY", "right", 8),
        ("sustain.", "right", 8),
        ("forecast", "right", 8),
        ("S", "right", 4),
        ("R", "right", 4),
    ):
        view.add_column(
            name,
            justify="left" if justify == "left" else "right",
            no_wrap=True,
            overflow="ellipsis",
            width=width,
        )
    if show_all:
        view.add_column("excluded because", overflow="fold")
    for row in table.head(limit or table.height).iter_rows(named=True):
        cells = [
            f"{row['protocol']} {row['symbol']}",
            row["chain"],
            fmt_pct(row["apy"]),
            fmt_pct(row["apy_sustainable"]),
            fmt_pct(row.get("forecast_apy_30d")),
            f"{row['sustainability']:.0f}{row['sustainability_grade']}",
            f"{row['risk']:.0f}{row['risk_grade']}",
        ]
        if show_all:
            cells.append(row["excluded_reason"] or "")
        view.add_row(*cells)
    console.print(view)
    if note:
        console.print(f"[dim]forecast: {note}[/]")
    console.print(
        "[dim]S = sustainability (0-100, A best); R = risk (0-100, A lowest). "
        "`realyield explain ID` shows every factor.[/]"
    )


def _print_explanation(e: Explanation) -> None:
    o = e.opportunity
    console.rule(f"[bold]{o.protocol} {o.symbol} on {o.chain} ({o.kind})")
    console.print(f"id {o.id}  as of {o.as_of:%Y-%m-%d}  source {o.source}", highlight=False)
    console.print(
        f"APY {fmt_pct(o.apy)} = base {fmt_pct(o.apy_base)} + reward {fmt_pct(o.apy_reward)}; "
        f"real base {fmt_pct(e.apy_real_base)} + emissions kept "
        f"{fmt_pct(e.apy_reward_retained)} = [bold]sustainable {fmt_pct(e.apy_sustainable)}[/]",
        highlight=False,
    )
    for score in (e.sustainability, e.risk):
        table = Table(
            title=f"{score.kind}: {score.total:.1f} / 100, grade {score.grade}",
            title_justify="left",
            box=SIMPLE_HEAD,
        )
        table.add_column("factor")
        table.add_column("value", justify="right")
        table.add_column("effect", justify="right")
        table.add_column("why", overflow="fold")
        for factor in score.factors:
            value = factor.value
            shown = (
                "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
            )
            table.add_row(factor.name, shown, f"{factor.effect:+.2f}", factor.explanation)
        console.print(table)
    reasons = "; ".join(e.excluded_reasons) or "passes every screen"
    console.print(f"screens: {reasons}", highlight=False)
    deps = e.dependencies
    console.print(
        f"depends on: protocol {deps['protocol']}, chain {deps['chain']}, issuers "
        f"{', '.join(deps['issuers']) or '-'}, rewards "
        f"{', '.join(deps['reward_tokens']) or '-'}, bridge {deps['bridge'] or '-'}",
        highlight=False,
    )
    f = e.forecast
    if f is None or f.get("forecast_apy_30d") is None:
        why = (f or {}).get("reason") or "no forecast model or history"
        console.print(f"forecast: none ({why})", highlight=False)
    else:
        console.print(
            f"forecast: median APY over the next 30 days {fmt_pct(f['forecast_apy_30d'])}, "
            f"P(falls > 20%) {f['p_down']:.0%}, confidence {f['confidence']} "
            f"({f['n_obs']} observations)",
            highlight=False,
        )


def explain(
    opportunity_id: Annotated[str, typer.Argument(help="Opportunity id (see `universe --json`).")],
    source: Annotated[str | None, typer.Option(help="Only this stored source.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Point-in-time (YYYY-MM-DD).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every factor behind one opportunity's scores, its screens, dependencies and forecast."""
    query = _query(None, None, source, as_of)
    with session() as (_settings, engine):
        if not stored_sources(engine):
            build.load_snapshot(engine)
        scored, _note = score_stored(engine, replace_max_age(query))
        explanation = scored.explain(opportunity_id)
    if as_json:
        emit_json(explanation.as_dict())
    else:
        _print_explanation(explanation)


def replace_max_age(query: UniverseQuery) -> UniverseQuery:
    """Explaining a pool that left the universe is still useful: include stale ones."""
    from dataclasses import replace

    return replace(query, max_age_days=None)


__all__ = ["Path", "explain", "model_app", "screen"]
