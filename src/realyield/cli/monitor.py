"""``realyield monitor``, ``realyield alerts`` and ``realyield review`` (thin: parse, call
``realyield.monitor``, print)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, session
from realyield.core.errors import ConfigError, RealyieldError
from realyield.core.secrets import install_log_redaction
from realyield.monitor.alerts import Alert, acknowledge, list_alerts
from realyield.monitor.config import MonitorConfig, channels_from_config, load_config
from realyield.monitor.replay import ReplayResult, parse_span, replay
from realyield.monitor.review import index_holdings, quarterly_review, write_review
from realyield.monitor.scheduler import monitor_job, watch
from realyield.monitor.service import MonitorRun, run_monitor

_STYLE = {"info": "cyan", "warning": "yellow", "critical": "bold red"}
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Monitor configuration (default: monitor.toml in REALYIELD_HOME)."
    ),
]


def alerts_table(alerts: list[Alert], title: str) -> Table:
    table = Table(title=title, title_justify="left", box=SIMPLE_HEAD, pad_edge=False)
    for name, justify in (
        ("id", "right"),
        ("severity", "left"),
        ("days", "left"),
        ("alert", "left"),
    ):
        table.add_column(name, justify="right" if justify == "right" else "left", overflow="fold")
    for a in alerts:
        span = str(a.first_day) if a.first_day == a.last_day else f"{a.first_day}..{a.last_day}"
        status = " (ack)" if a.status == "acknowledged" else ""
        table.add_row(
            str(a.alert_id or ""),
            f"[{_STYLE[a.severity]}]{a.severity}[/]{status}",
            span,
            escape(a.title),
        )
    return table


def _print_run(run: MonitorRun) -> None:
    if run.evaluated:
        console.print(
            f"evaluated {run.evaluated[0]} to {run.evaluated[1]}: {len(run.findings)} finding(s)"
        )
    new = [c.alert for c in run.changes if c.kind in ("opened", "escalated")]
    if new:
        console.print(alerts_table(new, "New or escalated alerts"))
    else:
        console.print("no new alerts")
    for channel, ids in run.delivery.delivered.items():
        console.print(f"{channel}: delivered {len(ids)} alert(s)")
    for channel, failed in run.delivery.failed.items():
        err.print(
            f"[yellow]{channel}: {len(failed)} alert(s) not delivered (kept, retried next run)[/]"
        )
    for note in run.notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)


def _print_replay(result: ReplayResult) -> None:
    console.print(
        f"replay {result.start} to {result.end}: {len(result.alerts)} episode(s) from "
        f"{len(result.findings)} finding-days"
    )
    console.print(
        alerts_table(sorted(result.alerts, key=lambda a: a.first_day), "Would have fired")
    )
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)


def _config(path: Path | None, home: Path, engine: Engine | None = None) -> MonitorConfig:
    """monitor.toml, its [holdings] completed by what the ledger holds (``engine``):
    the TOML's amounts override the ledger's for the ids it names."""
    try:
        config = load_config(path, home=home)
    except ConfigError as exc:
        raise fail(exc) from exc
    if engine is None:
        return config
    from dataclasses import replace as _replace

    from realyield.portfolio.holdings import opportunity_values

    held = opportunity_values(engine)
    if not held:
        return config
    return _replace(config, holdings_usd={**held, **dict(config.holdings_usd)})


def monitor(
    watch_: Annotated[bool, typer.Option("--watch", help="Keep running on a schedule.")] = False,
    replay_span: Annotated[
        str | None, typer.Option("--replay", help="FROM:TO - what would have fired on past days.")
    ] = None,
    every: Annotated[float | None, typer.Option(help="Minutes between runs with --watch.")] = None,
    refresh: Annotated[
        list[str] | None, typer.Option("--refresh", help="Refresh this source first (repeatable).")
    ] = None,
    all_opportunities: Annotated[
        bool, typer.Option("--all", help="Replay the yield rules on every stored series.")
    ] = False,
    config_path: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the alert rules, store and deliver the alerts (or replay past days)."""
    logging.basicConfig(
        level=logging.INFO if watch_ else logging.WARNING, format="%(asctime)s %(message)s"
    )
    install_log_redaction()  # after basicConfig: the filter goes on its handler too
    with session() as (settings, engine):
        config = _config(config_path, settings.home, engine)
        if refresh:
            from dataclasses import replace

            config = replace(config, refresh=tuple(refresh))
        if replay_span is not None:
            try:
                start, end = parse_span(replay_span)
                result = replay(engine, start, end, config, all_opportunities=all_opportunities)
            except RealyieldError as exc:
                raise fail(exc) from exc
            emit_json(result.as_dict()) if as_json else _print_replay(result)
            return
        channels = channels_from_config(config.notify)

        def once() -> MonitorRun:
            return run_monitor(engine, settings, config, channels)

        if watch_:
            minutes = every or config.every_minutes
            err.print(f"monitoring every {minutes:g} minutes; Ctrl-C stops")

            def show(run: MonitorRun) -> None:
                emit_json(run.as_dict()) if as_json else _print_run(run)

            try:
                job = monitor_job(
                    once, on_result=show, on_error=lambda e: err.print(f"[red]{e}[/]")
                )
                watch(job, minutes)
            except ConfigError as exc:
                raise fail(exc) from exc
            return
        run = once()
    emit_json(run.as_dict()) if as_json else _print_run(run)


def alerts(
    ack: Annotated[
        int | None, typer.Option("--ack", help="Acknowledge the alert with this id.")
    ] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the acknowledgement.")] = None,
    status: Annotated[str | None, typer.Option(help="open | acknowledged.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List stored alerts (newest first), or acknowledge one."""
    with session() as (_, engine):
        if ack is not None:
            alert = acknowledge(engine, ack, note)
            if as_json:
                emit_json(alert.as_dict())
            else:
                console.print(f"acknowledged #{ack}: {alert.title}", highlight=False)
            return
        found = list_alerts(engine, status=status, limit=limit)
    if as_json:
        emit_json([a.as_dict() for a in found])
        return
    if not found:
        console.print("no alerts stored")
        return
    console.print(alerts_table(found, "Alerts"))
    console.print(
        "[dim]details: realyield alerts --json; acknowledge: realyield alerts --ack ID[/]"
    )


def _ledger_income(
    engine: Engine, quarter: str, holdings: dict[str, float]
) -> dict[str, Decimal] | None:
    """Income the ledger recorded in the quarter per held opportunity, or None when it
    recorded none for these holdings (the review then estimates from stored APYs)."""
    from realyield.monitor.review import parse_quarter
    from realyield.portfolio.holdings import income_by_opportunity

    first, last = parse_quarter(quarter)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    found = income_by_opportunity(engine, start, end)
    held = {k: v for k, v in found.items() if k in holdings}
    return held or None


def review(
    quarter: Annotated[str, typer.Option(help="The quarter, e.g. 2025Q3.")],
    index: Annotated[str | None, typer.Option(help="Review this index as if held.")] = None,
    capital: Annotated[float | None, typer.Option(help="Capital in USD with --index.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write review-QUARTER.html and .md here.")
    ] = None,
    config_path: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Quarterly review: yield earned vs expected, score changes, alerts, rebalance, plan."""
    with session() as (settings, engine):
        config = _config(config_path, settings.home, engine)
        holdings, targets = dict(config.holdings_usd), dict(config.targets)
        labels: dict[str, str] = {}
        if index is not None:
            if not capital or capital <= 0:
                raise fail(ConfigError("--index needs --capital (USD, > 0)"))
            holdings, targets, labels = index_holdings(engine, index, capital, home=settings.home)
        realised = _ledger_income(engine, quarter, holdings)
        result = quarterly_review(
            engine,
            quarter,
            holdings,
            targets=targets or None,
            realised_income=realised,
            income_per_year_usd=config.income_per_year_usd,
            band_pp=config.rules.drift_band_pp,
            labels=labels,
        )
        written = write_review(result, out) if out is not None else None
    if as_json:
        emit_json(result.as_dict())
    else:
        from realyield.cli.review_view import print_review

        print_review(console, result)
    if written is not None:
        err.print(f"review written to {written[0]} and {written[1]} (plotly.min.js beside them)")
