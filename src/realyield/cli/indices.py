"""``realyield indices`` and ``realyield index NAME``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.box import SIMPLE_HEAD
from rich.markup import escape
from rich.table import Table

from realyield.backtest.service import index_history
from realyield.cli.common import JsonOpt, console, emit_json, err, fail, fmt_pct, session
from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.indices.composition import IndexComposition
from realyield.indices.methodology import (
    check_references,
    definition_to_dict,
    describe_rules,
    load_definition,
    packaged_definitions,
)
from realyield.indices.service import indices_at, load_history_data
from realyield.universe import build
from realyield.universe.provenance import view_sources
from realyield.universe.repository import stored_sources

SourceOpt = Annotated[str | None, typer.Option(help="Only this stored source.")]
AsOfOpt = Annotated[str | None, typer.Option(help="Build as of this date (YYYY-MM-DD).")]


def _day(text: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise fail(ConfigError(f"{option} {text!r} is not a YYYY-MM-DD date")) from exc


def _summary_table(results: dict[str, Any]) -> Table:
    table = Table(title="Indices", title_justify="left", box=SIMPLE_HEAD, pad_edge=False)
    # Widths and overflow are the console's (cli/render.py): figures are never cut.
    for name in ("index", "APY", "real", "emis.", "R", "n", "bets", "top holding"):
        table.add_column(name, justify="left" if name in ("index", "top holding") else "right")
    for name, comp in results.items():
        if not isinstance(comp, IndexComposition):
            table.add_row(name, "-", "-", "-", "-", "0", "-", f"not built: {comp}")
            continue
        top = comp.top(1)
        table.add_row(
            name,
            fmt_pct(comp.expected_apy),
            fmt_pct(comp.expected_real_apy),
            fmt_pct(comp.expected_emission_apy),
            comp.risk_grade,
            str(len(comp.constituents)),
            f"{comp.effective_bets:.1f}",
            f"{top[0].label} {top[0].weight:.0%}" if top else "-",
        )
    return table


def _ensure_data(engine: Any) -> None:
    if not stored_sources(engine):
        build.load_snapshot(engine)
        err.print("[yellow]store was empty: loaded the bundled snapshot[/]")


def indices(
    source: SourceOpt = None,
    as_of: AsOfOpt = None,
    definition: Annotated[
        list[Path] | None,
        typer.Option(
            "--definition", help="Also build your own index from a TOML file (repeatable)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every index: expected yield split real/emission, risk, constituents, bets."""
    definitions = dict(packaged_definitions())
    try:
        for path in definition or ():
            custom = load_definition(path)
            definitions[custom.name] = custom
        for defn in definitions.values():
            check_references(defn, definitions)
    except ConfigError as exc:
        raise fail(exc) from exc
    with session() as (settings, engine):
        _ensure_data(engine)
        results, _note = indices_at(
            engine,
            as_of=_day(as_of, "--as-of"),
            sources=(source,) if source else None,
            definitions=definitions,
            home=settings.home,
        )
        rests_on = (
            []
            if as_json
            else view_sources(engine, _day(as_of, "--as-of"), (source,) if source else None)
        )
    if as_json:
        emit_json(
            [
                comp.as_dict()
                if isinstance(comp, IndexComposition)
                else {"name": name, "error": str(comp), "constituents": []}
                for name, comp in results.items()
            ]
        )
        return
    console.print(_summary_table(results))
    console.print(
        "[dim]APY = expected headline yield; real = fees, interest and staking net "
        "of inflation; emis. = token emissions; bets = effective number of "
        "independent protocol/issuer bets. `realyield index NAME` for details.[/]"
    )
    for name, comp in results.items():  # e.g. an empty sleeve re-spread: never silent
        for note in comp.notes if isinstance(comp, IndexComposition) else ():
            console.print(f"note: {name}: {escape(note)}", highlight=False)
    console.print("Built from:", highlight=False)
    for line in rests_on:
        console.print(f"  {escape(line)}", highlight=False)


def index(
    name: Annotated[str, typer.Argument(help="Index name (see `realyield indices`).")],
    source: SourceOpt = None,
    as_of: AsOfOpt = None,
    history: Annotated[
        bool, typer.Option("--history", help="Also replay the index's daily levels point in time.")
    ] = False,
    start: Annotated[
        str | None,
        typer.Option(help="History start (default: as `backtest`, 3 years of yield history)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """One index: its rules, constituents with weights, and optionally its level history."""
    definitions = packaged_definitions()
    if name not in definitions:
        raise fail(ConfigError(f"unknown index {name!r}; known: {sorted(definitions)}"))
    with session() as (settings, engine):
        _ensure_data(engine)
        results, _note = indices_at(
            engine,
            as_of=_day(as_of, "--as-of"),
            sources=(source,) if source else None,
            home=settings.home,
        )
        comp = results[name]
        levels = None
        if history and isinstance(comp, IndexComposition):
            # the very run `realyield backtest NAME` makes: same window, same numbers
            data = load_history_data(engine, (source,) if source else None)
            try:
                levels = index_history(
                    name,
                    data,
                    start=_day(start, "--start"),
                    end=comp.as_of,
                    definitions=definitions,
                )
            except (ConfigError, InsufficientDataError) as exc:
                raise fail(exc) from exc
    if not isinstance(comp, IndexComposition):
        raise fail(ConfigError(f"{name} cannot be built: {comp}"))
    if as_json:
        out = {**comp.as_dict(), "rules": definition_to_dict(definitions[name])}
        if levels is not None:
            out["history"] = {
                "summary": levels.summary(),
                "events": levels.events,
                "levels": levels.frame.to_dicts(),
            }
        emit_json(out)
        return
    console.rule(f"[bold]{comp.title} as of {comp.as_of}")
    by = comp.bets_by()
    console.print(
        f"expected APY {fmt_pct(comp.expected_apy)} = real {fmt_pct(comp.expected_real_apy)} "
        f"+ emissions {fmt_pct(comp.expected_emission_apy)}; sustainable "
        f"{fmt_pct(comp.expected_sustainable_apy)}; risk {comp.risk:.0f} ({comp.risk_grade}); "
        f"{len(comp.constituents)} constituents; effective bets by protocol "
        f"{by['protocol']:.1f}, issuer {by['issuer']:.1f}, chain {by['chain']:.1f}",
        highlight=False,
    )
    for section, text in describe_rules(definitions[name]):  # the rules, then what they hold
        console.print(f"[bold]{section}[/]: {text}", highlight=False)
    for note in comp.notes:
        console.print(f"note: {note}", highlight=False)
    rules = definitions[name]
    parts = comp.sleeves() if rules.sleeves or rules.components else []
    if parts:
        what = "component" if comp.components else "sleeve"
        sleeves = Table(box=SIMPLE_HEAD, pad_edge=False)
        for column in (what, "weight", "APY", "holdings"):
            sleeves.add_column(column, justify="left" if column == what else "right")
        for part, weight, apy, count in parts:
            sleeves.add_row(part, f"{weight:.1%}", fmt_pct(apy), str(count))
        console.print(sleeves)
    table = Table(box=SIMPLE_HEAD, pad_edge=False)
    for column, justify in (
        ("holding", "left"),
        ("sleeve", "left"),
        ("chain", "left"),
        ("weight", "right"),
        ("APY", "right"),
        ("real", "right"),
        ("risk", "right"),
    ):
        table.add_column(column, justify="left" if justify == "left" else "right")
    for c in comp.top(len(comp.constituents)):
        table.add_row(
            c.label,
            c.sleeve or "-",
            c.chain or "-",
            f"{c.weight:.1%}",
            fmt_pct(c.apy),
            fmt_pct(c.apy_real),
            f"{c.risk:.0f}",
        )
    console.print(table)
    if levels is not None:
        s = levels.summary()
        console.print(
            f"levels {levels.frame['date'][0]} to {levels.frame['date'][-1]} (the run "
            f"`realyield backtest {name}` makes): total {s['total_return']:+.1%} (CAGR "
            f"{s['cagr']:+.1%}) = price {s['price_return']:+.1%} + income "
            f"{s['income_return']:+.1%} - costs {s['costs']:.2%}; {s['rebalances']:.0f} "
            "rebalances",
            highlight=False,
        )
        for event in levels.events[:10]:
            console.print(f"  {event}", highlight=False)
