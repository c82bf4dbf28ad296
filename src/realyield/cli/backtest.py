"""``realyield backtest INDEX|weights.csv``: simulate, print the metrics, write a report."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table

from realyield.backtest.engine import BacktestConfig, BacktestResult
from realyield.backtest.instruments import HoldingShock
from realyield.backtest.report import write_report
from realyield.backtest.schedule import REBALANCE_CHOICES
from realyield.backtest.service import (
    backtest_index,
    backtest_weights,
    stress_today,
    today_weights,
)
from realyield.backtest.stress import EpisodeResult
from realyield.cli.common import JsonOpt, console, emit_json, err, fail, progress_bar, session
from realyield.core.errors import ConfigError, RealyieldError
from realyield.indices.methodology import packaged_definitions
from realyield.universe import build
from realyield.universe.repository import stored_sources


def _day(text: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError as exc:
        raise fail(ConfigError(f"{option} {text!r} is not a YYYY-MM-DD date")) from exc


def _ranges(values: list[str] | None) -> dict[str, tuple[float, float]]:
    out = {}
    for v in values or ():
        ident, _, bounds = v.rpartition("=")
        lo, _, hi = bounds.partition(":")
        try:
            out[ident] = (float(lo), float(hi))
        except ValueError as exc:
            raise fail(
                ConfigError(f"--lp-range {v!r}: use ID=LOWER:UPPER, e.g. pool-id=0.9:1.1")
            ) from exc
        if not ident:
            raise fail(ConfigError(f"--lp-range {v!r}: missing the holding id before '='"))
    return out


def _shocks(values: list[str] | None) -> tuple[HoldingShock, ...]:
    out = []
    for v in values or ():
        ident, _, rest = v.rpartition("@")
        day, _, loss = rest.partition("=")
        try:
            out.append(HoldingShock(ident, date.fromisoformat(day), float(loss), "--writedown"))
        except ValueError as exc:
            raise fail(
                ConfigError(f"--writedown {v!r}: use ID@YYYY-MM-DD=LOSS, e.g. pool@2023-03-11=0.3")
            ) from exc
    return tuple(out)


def _fmt(value: float, kind: str) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return "-"
    return {"pct": f"{value:+.1%}", "ratio": f"{value:.2f}", "int": f"{value:.0f}"}[kind]


ROWS = (
    ("total return", "total_return", "pct"),
    ("CAGR", "cagr", "pct"),
    ("volatility", "volatility", "pct"),
    ("Sharpe", "sharpe", "ratio"),
    ("Sortino", "sortino", "ratio"),
    ("Calmar", "calmar", "ratio"),
    ("max drawdown", "max_drawdown", "pct"),
    ("  its duration (days)", "max_drawdown_days", "int"),
    ("longest drawdown (days)", "longest_drawdown_days", "int"),
)


def _print(result: BacktestResult, stress: list[EpisodeResult], report: Path | None) -> None:
    console.rule(f"[bold]Backtest {result.name}: {result.start} to {result.end}")
    if result.illustrative:
        console.print(
            "[bold yellow]ILLUSTRATIVE DATA[/]: some histories come from the bundled snapshot "
            "(generated, not market history); import real data for real results.",
            highlight=False,
        )
    table = Table(box=SIMPLE_HEAD, pad_edge=False)
    table.add_column("")
    names = [result.name, *[b.name for b in result.benchmarks]]
    for n in names:
        table.add_column(n, justify="right", no_wrap=True)
    metrics = [result.metrics.as_dict(), *[b.metrics.as_dict() for b in result.benchmarks]]
    for label, key, kind in ROWS:
        cells = [_fmt(float(m[key]), kind) for m in metrics]
        if key == "max_drawdown_days":  # "+": still under water on the last day
            cells = [
                c + ("" if m["max_drawdown_recovered"] else "+")
                for c, m in zip(cells, metrics, strict=True)
            ]
        table.add_row(label, *cells)
    console.print(table)
    a = result.attribution
    console.print(
        f"price {a['price_return']:+.1%} + income {a['income_return']:+.1%} - costs "
        f"{a['costs']:.2%} = {result.metrics.total_return:+.1%} of the capital; impermanent "
        f"loss {a['impermanent_loss']:+.2%} (inside price), write-downs {a['writedowns']:.2%}; "
        f"realised yield {a['realised_yield']:.2%}/yr; turnover {a['turnover_annual']:.2f}/yr "
        f"over {a['rebalances']:.0f} rebalances ({result.config.rebalance}, income "
        f"{result.config.income})",
        highlight=False,
    )
    if stress:
        st = Table(
            title="Stress episodes on today's weights",
            title_justify="left",
            box=SIMPLE_HEAD,
            pad_edge=False,
        )
        for col in ("episode", "peak loss", "recovery", "covered", "note"):
            st.add_column(col, justify="right" if col in ("peak loss", "covered") else "left")
        for e in stress:
            note = []
            if e.key_missing:
                note.append("not stored: " + ", ".join(e.key_missing))
            if e.missing:
                note.append(f"{len(e.missing)} holdings without data")
            if e.illustrative:
                note.append("illustrative prices")
            st.add_row(
                e.episode.title,
                "-" if e.loss is None else f"{e.loss:+.1%}",
                e.recovery_text,
                f"{e.covered_weight:.0%}",
                "; ".join(note),
            )
        console.print(st)
    for line in result.notes[:12]:
        console.print(f"[dim]note: {line}[/]", highlight=False)
    if len(result.notes) > 12:
        console.print(f"[dim]... {len(result.notes) - 12} more notes (--json or the report)[/]")
    if report:
        console.print(f"report written to {report}", highlight=False)


def backtest(
    target: Annotated[
        str, typer.Argument(help="An index name (see `realyield indices`) or a weights CSV file.")
    ],
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Use only data known up to this date: the last day, and the holdings "
            "stressed are those held then."
        ),
    ] = None,
    rebalance: Annotated[
        str | None,
        typer.Option(help=" | ".join(REBALANCE_CHOICES) + " (index default: its methodology)"),
    ] = None,
    income: Annotated[str, typer.Option(help="compound | payout")] = "compound",
    capital: Annotated[float, typer.Option(help="Starting capital in USD.")] = 100_000.0,
    fee_bps: Annotated[float | None, typer.Option(help="Trading fee, bps of traded value.")] = None,
    slippage_bps: Annotated[float | None, typer.Option(help="Slippage, bps.")] = None,
    gas_usd: Annotated[float | None, typer.Option(help="Gas per trade in USD (any chain).")] = None,
    band: Annotated[float | None, typer.Option(help="No-trade band, fraction (0.01).")] = None,
    drift: Annotated[
        float | None, typer.Option(help="Rebalance when a weight drifts this far (0.05).")
    ] = None,
    lp_range: Annotated[
        list[str] | None,
        typer.Option(help="Concentrated range of a pool holding: ID=LOWER:UPPER (repeatable)."),
    ] = None,
    writedown: Annotated[
        list[str] | None,
        typer.Option(help="Write a holding or asset down: ID@YYYY-MM-DD=LOSS (repeatable)."),
    ] = None,
    source: Annotated[str | None, typer.Option(help="Only this stored source.")] = None,
    stress: Annotated[bool, typer.Option(help="Replay the stress episodes too.")] = True,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report (equity, drawdowns...) here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Backtest an index (rebuilt point in time) or your weights: price and income apart,
    costs, impermanent loss, lock-ups, benchmarks, stress episodes, HTML report."""
    known = _day(as_of, "--as-of")
    last = _day(end, "--to")
    if known is not None and last is not None and last > known:
        raise fail(ConfigError(f"--to {last} is after --as-of {known}: no look-ahead"))
    overrides: dict[str, Any] = {
        "start": _day(start, "--from"),
        "end": last or known,
        "rebalance": rebalance,
        "income": income,
        "capital_usd": capital,
        "fee_bps": fee_bps,
        "slippage_bps": slippage_bps,
        "band": band,
        "drift_trigger": drift,
        "lp_ranges": _ranges(lp_range),
        "holding_shocks": _shocks(writedown),
    }
    if gas_usd is not None:
        overrides.update(default_gas_usd=gas_usd, gas_usd={})
    path = Path(target)
    is_file = path.suffix.lower() in (".csv", ".gz") or path.exists()
    if not is_file and target not in packaged_definitions():
        raise fail(
            ConfigError(
                f"{target!r} is neither a weights CSV file nor an index; indices: "
                f"{', '.join(sorted(packaged_definitions()))}"
            )
        )
    if is_file and not path.exists():
        raise fail(ConfigError(f"weights file {path} does not exist"))
    sources = (source,) if source else None
    with session() as (_settings, engine), progress_bar(not as_json, transient=True) as progress:
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print("[yellow]store was empty: loaded the bundled snapshot (illustrative)[/]")
        if is_file:
            config = BacktestConfig(**{k: v for k, v in overrides.items() if v is not None})
            result = backtest_weights(engine, path, config, sources=sources)
            weights, info = result.final_weights, result.info
        else:
            result = backtest_index(engine, target, overrides, sources=sources, progress=progress)
            if known is None:
                _, weights, info = today_weights(engine, target, sources=sources)
            else:  # the index as it was held on the last day, not today's
                weights, info = result.final_weights, result.info
        episodes = stress_today(engine, weights, info) if stress else []
    try:
        written = write_report(report, result, episodes) if report else None
    except RealyieldError as exc:
        raise fail(exc) from exc
    if as_json:
        emit_json(
            {
                **result.as_dict(),
                "stress": [e.as_dict() for e in episodes],
                "report": str(written) if written else None,
            }
        )
        return
    _print(result, episodes, written)
