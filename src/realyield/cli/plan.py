"""``realyield plan``: the income planner on the command line (thin: parse, call
``planning.service.plan_stored``, print)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.markup import escape
from rich.table import Table

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, session
from realyield.core.errors import ConfigError, RealyieldError
from realyield.planning.goal import mix_words, verdict_sentence
from realyield.planning.outcomes import PERCENTILES, chart_top, cvar_words
from realyield.planning.parse import request_options
from realyield.planning.report import write_report
from realyield.planning.service import Plan, PlanRequest, plan_stored, request_from_preset
from realyield.universe.provenance import view_sources

_LEVEL_STYLE = {"sustainable": "green", "stretch": "yellow", "unsustainable": "red"}


def plan(
    capital: Annotated[str | None, typer.Option(help="Capital, e.g. 300000 or $300k.")] = None,
    income: Annotated[
        str | None, typer.Option(help="Income goal, e.g. 1500/month or 50k/year.")
    ] = None,
    risk: Annotated[str | None, typer.Option(help="conservative | moderate | aggressive.")] = None,
    preset: Annotated[
        str | None, typer.Option(help="supplemental | early-retirement | independence.")
    ] = None,
    horizon: Annotated[str | None, typer.Option(help="Years simulated, e.g. 30y.")] = None,
    start_in: Annotated[str | None, typer.Option(help="Years before the income starts.")] = None,
    withdrawal: Annotated[
        str | None, typer.Option(help="fixed | inflation-indexed | percent | guardrails.")
    ] = None,
    reinvest: Annotated[str | None, typer.Option(help="Share of spare income reinvested.")] = None,
    tax_income: Annotated[str | None, typer.Option(help="Tax on yield income, e.g. 25%.")] = None,
    tax_sales: Annotated[str | None, typer.Option(help="Tax on gains when selling.")] = None,
    inflation: Annotated[str | None, typer.Option(help="Inflation a year, e.g. 3%.")] = None,
    allocation: Annotated[
        str | None, typer.Option(help="Your mix, e.g. large-cap-staking=60%,stablecoin-income=40%.")
    ] = None,
    price_model: Annotated[str | None, typer.Option(help="bootstrap | regime.")] = None,
    price_drift: Annotated[
        str | None, typer.Option(help="Median price growth a year (default 0%), or 'history'.")
    ] = None,
    paths: Annotated[int | None, typer.Option(help="Monte Carlo paths.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    no_optimize: Annotated[bool, typer.Option("--no-optimize", help="Skip the optimizer.")] = False,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="Plan on the indices as of this date, with what was known then."),
    ] = None,
    from_portfolio: Annotated[
        bool,
        typer.Option("--from-portfolio", help="Capital = what the ledger holds, at stored prices."),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Plan an income goal: required yield, verdict, allocation, Monte Carlo, cash flow."""
    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as exc:
        raise fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
    if from_portfolio:
        capital = _portfolio_capital(capital)
    try:
        opts = request_options(
            capital=capital,
            income_per_year=income,
            risk=risk,
            horizon_years=horizon,
            start_in_years=start_in,
            withdrawal=withdrawal,
            reinvest=reinvest,
            tax_income=tax_income,
            tax_sales=tax_sales,
            inflation=inflation,
            allocation=allocation,
            price_model=price_model,
            price_drift=price_drift,
            paths=paths,
            seed=seed,
        )
        if price_drift is None:
            opts.pop("price_drift", None)
        if no_optimize:
            opts["optimize"] = False
        if preset:
            request = request_from_preset(preset, **opts)
        else:
            if "capital" not in opts or "income_per_year" not in opts:
                raise ConfigError("give --capital and --income, or a --preset")
            request = PlanRequest(**opts)
    except RealyieldError as exc:
        raise fail(exc) from exc
    with session() as (_, engine):
        with console.status("building indices and simulating...") if not json_out else _null():
            result = plan_stored(engine, request, as_of=day)
        rests_on = [] if json_out else view_sources(engine, day)
        written = write_report(result, report) if report is not None else None
    if json_out:
        emit_json(result.as_dict())
    else:
        print_plan(result)
        console.print("Built from:", highlight=False)
        for line in rests_on:
            console.print(f"  {escape(line)}", highlight=False)
    if written is not None:
        err.print(f"report written to {written} (with plotly.min.js beside it)")


def _portfolio_capital(capital: str | None) -> str:
    """The value of the ledger's holdings as the plan's capital (``--from-portfolio``)."""
    from realyield.portfolio.holdings import build_portfolio

    if capital is not None:
        raise fail(
            ConfigError("--from-portfolio takes the capital from the ledger: drop --capital")
        )
    with session() as (_, engine):
        total = build_portfolio(engine).total_value_usd
    if not total > 0:
        raise fail(
            ConfigError(
                "--from-portfolio: the ledger holds nothing priced; import your history "
                "(realyield ledger import) or give --capital"
            )
        )
    return f"{total:.2f}"


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def print_plan(p: Plan) -> None:
    """The plan in the terminal (also the end of ``realyield demo``)."""
    v, r = p.verdict, p.request
    style = _LEVEL_STYLE.get(v.level, "white")
    title = f" ({r.preset})" if r.preset else ""
    console.print(
        f"[bold]Plan{title}[/]: ${r.capital:,.0f} for ${r.income_per_year:,.0f} a year "
        f"({r.income_per_year / 12:,.0f}/month), {r.risk} risk, {r.withdrawal} withdrawals"
        + (f" from year {r.start_in_years:g}" if r.start_in_years else "")
    )
    console.print(f"[bold {style}]{verdict_sentence(v)}[/]", highlight=False)
    for line in v.reasons:
        console.print(f"  - {line}", highlight=False)
    t = Table(title="Allocation (simulated)", title_justify="left", box=SIMPLE_HEAD, pad_edge=False)
    for col in ("index", "weight", "APY", "real", "emission", "risk"):
        t.add_column(col, justify="left" if col == "index" else "right")
    for name, w in sorted(p.allocation.items(), key=lambda kv: -kv[1]):
        y = p.index_yields[name]
        t.add_row(
            name,
            f"{w:.0%}",
            f"{y.apy:.2f}%",
            f"{y.apy_real:.2f}%",
            f"{y.apy_emission:.2f}%",
            y.risk_grade,
        )
    b = p.blended
    t.add_row(
        "[bold]blended[/]", "100%", f"{b.apy:.2f}%", f"{b.real:.2f}%", f"{b.emission:.2f}%", ""
    )
    console.print(t)
    o = p.outcomes
    console.print(
        f"Success probability: [bold]{o.success_probability:.1%}[/] of {o.paths:,} paths "
        f"(income met every year, capital never exhausted); capital exhausted in "
        f"{o.exhaustion_probability:.1%}"
    )
    console.print(_percentile_table(p))
    console.print(_fan(p), highlight=False)
    sr = o.sequence_risk
    if sr:
        console.print(
            f"Sequence risk: success {sr['success_worst_fifth_early_returns']:.0%} when the "
            f"first five income years' returns are in the worst fifth, "
            f"{sr['success_best_fifth_early_returns']:.0%} in the best fifth."
        )
    if p.optimized is not None:
        best = p.optimized.best
        console.print(
            f"Optimizer ({r.risk} profile): recommends {mix_words(best.weights)} - success "
            f"{best.success:.1%} on {p.optimized.screening_paths:,} screening paths; "
            f"12-month CVaR95 {cvar_words(best.cvar)} (budget: a loss of at most "
            f"{p.optimized.budget:.0%})",
            highlight=False,
        )
    risks = p.tail_risks
    if risks:
        console.print(
            f"Tail risks simulated as jumps ({risks['events_per_year']:.2f} events a year, "
            f"expected loss {risks['expected_loss_per_year']:.2%} a year): "
            + "; ".join(risks["modelled"])
            + ". Not modelled: "
            + "; ".join(risks["not_modelled"]),
            highlight=False,
        )
    for note in p.notes:
        console.print(f"[dim]note: {note}[/]", highlight=False)


def _percentile_table(p: Plan) -> Table:
    o = p.outcomes
    t = Table(
        title="Percentiles across paths: capital in today's dollars; income nominal and in "
        "today's dollars side by side",
        title_justify="left",
        box=SIMPLE_HEAD,
        pad_edge=False,
    )
    cols = ["year", "capital p5", "p50", "p95", "goal", "income p50", "today's $", "p5 today's"]
    for col in cols:
        t.add_column(col, justify="right")
    i = {q: PERCENTILES.index(q) for q in (5, 50, 95)}
    for y in _years(len(o.years)):
        k = y - 1
        t.add_row(
            str(y),
            *(_money(o.capital_real_pct[i[q], k]) for q in (5, 50, 95)),
            _money(o.goal_by_year[k]),
            _money(o.income_pct[i[50], k]),
            _money(o.income_real_pct[i[50], k]),
            _money(o.income_real_pct[i[5], k]),
        )
    return t


def _money(x: float) -> str:
    """Dollars compactly: $950, $73.2k, $1.04M."""
    if abs(x) >= 1e6:
        return f"${x / 1e6:,.2f}M"
    if abs(x) >= 1e4:
        return f"${x / 1e3:,.1f}k"
    return f"${x:,.0f}"


def _years(n: int) -> list[int]:
    return sorted({y for y in (1, 5, 10, 15, 20, 30, 40, 50, n) if y <= n})


def _fan(p: Plan, width: int = 50) -> str:
    """A text fan chart: per year, the 5-95% range (-), 25-75% (=) and the median (|),
    scaled so the median stays readable (``chart_top``)."""
    o = p.outcomes
    c = o.capital_real_pct
    top = chart_top(o)
    lines = ["Capital fan (today's $; - 5-95%, = 25-75%, | median, > beyond scale)"]
    for y in _years(len(o.years)):
        col = c[:, y - 1]
        pos = [min(int(x / top * width), width) for x in col]
        row = [" "] * (width + 1)
        for k in range(pos[0], pos[4] + 1):
            row[k] = "-"
        for k in range(pos[1], pos[3] + 1):
            row[k] = "="
        row[pos[2]] = "|"
        if col[4] > top:
            row[width] = ">"
        lines.append(f"{y:>4} {''.join(row)} ${col[2]:,.0f}")
    return "\n".join(lines)
