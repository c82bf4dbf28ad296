"""``realyield ledger ...``: the portfolio ledger, its tax reports and exports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table
from sqlalchemy import Engine

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, session
from realyield.core import clock
from realyield.core.errors import ConfigError, DataError
from realyield.core.money import round_usd, to_decimal
from realyield.core.settings import Settings
from realyield.exchange import ExchangeClient
from realyield.portfolio import backup as ledger_backup
from realyield.portfolio import ledger, service
from realyield.portfolio.events import KINDS, dec_text
from realyield.portfolio.imports import FORMATS, ImportReport, import_file
from realyield.portfolio.imports.exchange import sync_exchange
from realyield.portfolio.projection import projected_income
from realyield.universe import build
from realyield.universe.repository import stored_sources

ledger_app = typer.Typer(
    help="The ledger of every yield event: import, add, list, gains, income, export.",
    no_args_is_help=True,
)

#: Run statuses after which the ledger holds every good row of the file.
_FINISHED = frozenset({"done", "partial"})

YearOpt = Annotated[int, typer.Option("--year", help="Tax year (calendar year, UTC).")]


def _money(value: object) -> str:
    if value is None:
        return "-"
    return f"{round_usd(to_decimal(value)):,.2f}"


@contextmanager
def _ledger_session() -> Iterator[tuple[Settings, Engine]]:
    """``session()`` that first marks the import runs whose process is gone as
    ``interrupted`` (and says so), so no ledger command shows a dead run as running."""
    with session() as (settings, engine):
        marked = set(ledger.mark_interrupted(engine))
        if marked:
            for run in ledger.import_runs(engine, check=False):
                if run["import_id"] in marked:
                    err.print(
                        f"[yellow]import #{run['import_id']} of {run['origin']} was "
                        f"interrupted[/] ({run['inserted']:,} events stored); import the same "
                        "file again to complete it (`realyield ledger status`)",
                        highlight=False,
                    )
        yield settings, engine


def _print_report(report: ImportReport) -> None:
    colour = {"ok": "green", "partial": "yellow", "failed": "red"}[report.status]
    verb = "would import" if report.dry_run else "imported"
    prefix = "dry run, nothing written: " if report.dry_run else ""
    console.print(
        f"{prefix}[bold {colour}]{report.origin}: {report.status}[/] - {report.rows:,} rows: "
        f"{verb} {report.inserted:,}, {report.duplicates:,} already stored, "
        f"{report.rejected_count:,} rejected; {report.old_prices:,} valued with old prices, "
        f"{report.unpriced:,} without a price",
        highlight=False,
        soft_wrap=True,
    )
    for problem in report.rejected[:10]:
        err.print(f"  rejected: {problem.describe(report.origin)}", highlight=False, soft_wrap=True)
    if report.rejected_count > 10:
        err.print(f"  ... and {report.rejected_count - 10:,} more rejected rows", highlight=False)
    if report.status == "failed":
        reason = "no row could be imported" if report.rows else "the file has no rows"
        err.print(f"[bold red]error:[/] {report.origin}: {reason}", highlight=False)


@ledger_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="The CSV file to import.")],
    fmt: Annotated[
        str, typer.Option("--format", help=f"File format: {'|'.join(FORMATS)}.")
    ] = "generic",
    account: Annotated[str, typer.Option(help="Account (wallet/exchange) name.")] = "default",
    decimal_comma: Annotated[
        bool,
        typer.Option(
            "--decimal-comma",
            help="Numbers use a decimal comma (1.234,56); otherwise such numbers are refused.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be imported; write nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a file; importing the same file again changes nothing. A bad row is
    rejected alone (file, row, column, reason); exits 1 when no row could be imported."""
    with _ledger_session() as (settings, engine):
        report = import_file(
            engine,
            file,
            fmt,
            account=account,
            fiat=settings.ledger_fiat,
            max_price_age_days=settings.ledger_price_max_age_days,
            batch_size=settings.ledger_import_batch,
            decimal_comma=decimal_comma,
            dry_run=dry_run,
        )
    if as_json:
        emit_json(report.as_dict())
    else:
        _print_report(report)
    if report.status == "failed":
        raise typer.Exit(1)


@ledger_app.command("status")
def status(
    limit: Annotated[int, typer.Option(help="The last N import runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Import runs: finished, partial (rows rejected), failed or interrupted."""
    with _ledger_session() as (_, engine):
        runs = ledger.import_runs(engine, check=False)[-limit:] if limit > 0 else []
        events = ledger.event_count(engine, active_only=True)
    if as_json:
        emit_json({"events": events, "imports": runs})
        return
    table = Table(box=SIMPLE_HEAD, pad_edge=False)
    for name in ("#", "started (UTC)", "origin", "status", "rows", "new", "stored", "rejected"):
        right = name in ("#", "rows", "new", "stored", "rejected")
        table.add_column(name, justify="right" if right else "left", no_wrap=name != "origin")
    for run in runs:
        table.add_row(
            str(run["import_id"]),
            str(run["started_at"])[:16].replace("T", " "),
            str(run["origin"]),
            str(run["status"]),
            f"{run['rows_read']:,}",
            f"{run['inserted']:,}",
            f"{run['duplicates']:,}",
            f"{run['rejected'] or 0:,}",
        )
    console.print(table)
    console.print(f"{events:,} active events", highlight=False)
    for run in runs:
        if run["status"] != "done" and run.get("message"):
            console.print(
                f"#{run['import_id']} {run['status']}: {run['message']}",
                highlight=False,
                soft_wrap=True,
            )


@ledger_app.command("add")
def add(
    kind: Annotated[str, typer.Option(help=f"One of: {', '.join(KINDS)}.")],
    asset: Annotated[str, typer.Option(help="Asset symbol (received; sent for outflows).")],
    amount: Annotated[str, typer.Option(help="Quantity (> 0).")],
    time: Annotated[str | None, typer.Option(help="ISO time (UTC if no offset); now.")] = None,
    counter_asset: Annotated[str | None, typer.Option(help="Swaps: asset given.")] = None,
    counter_amount: Annotated[str | None, typer.Option(help="Swaps: quantity given.")] = None,
    fee_asset: Annotated[str | None, typer.Option(help="Fee asset.")] = None,
    fee_amount: Annotated[str | None, typer.Option(help="Fee quantity.")] = None,
    value: Annotated[str | None, typer.Option(help="Fiat value (else stored prices).")] = None,
    opportunity: Annotated[str | None, typer.Option(help="Source opportunity id.")] = None,
    account: Annotated[str, typer.Option(help="Account name.")] = "default",
    key: Annotated[str | None, typer.Option(help="Idempotency key (tx hash).")] = None,
    note: Annotated[str | None, typer.Option(help="Free text.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add one event (valued from stored prices unless --value is given)."""
    fields = {
        "time": time,
        "kind": kind,
        "asset": asset,
        "amount": amount,
        "counter_asset": counter_asset,
        "counter_amount": counter_amount,
        "fee_asset": fee_asset,
        "fee_amount": fee_amount,
        "value": value,
        "opportunity": opportunity,
        "key": key,
        "note": note,
        "account": account,
    }
    with _ledger_session() as (settings, engine):
        event = service.manual_event(fields, account=account, fiat=settings.ledger_fiat)
        stored = service.add_event(
            engine, event, max_price_age_days=settings.ledger_price_max_age_days
        )
    if as_json:
        emit_json(stored.as_dict())
        return
    console.print(
        f"#{stored.seq} {stored.kind} {dec_text(stored.amount)} {stored.asset} "
        f"value {_money(stored.value)} {stored.fiat}"
        + (f" [yellow]({stored.warning})[/]" if stored.warning else ""),
        highlight=False,
    )


@ledger_app.command("list")
def list_(
    year: Annotated[int | None, typer.Option(help="Only this tax year.")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Only these kinds.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many events.")] = 50,
    all_: Annotated[bool, typer.Option("--all", help="Include reversed events.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """List events in time order."""
    with _ledger_session() as (_, engine):
        events = service.list_events(
            engine, year=year, kinds=kind, limit=limit, include_reversed=all_
        )
    if as_json:
        emit_json([e.as_dict() for e in events])
        return
    table = Table(box=SIMPLE_HEAD, pad_edge=False, expand=True)
    # Widths and overflow are the console's (cli/render.py): amounts are never cut.
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("movement")
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("note", ratio=1)
    for e in events:
        movement = f"{dec_text(e.amount)} {e.asset}"
        if e.counter_amount is not None:
            movement += f" for {dec_text(e.counter_amount)} {e.counter_asset}"
        table.add_row(
            str(e.seq),
            e.time.strftime("%Y-%m-%d %H:%M"),
            e.kind + (f" (reverses #{e.reverses})" if e.reverses else ""),
            movement,
            _money(e.value),
            e.warning or e.note or "",
        )
    console.print(table)


@ledger_app.command("gains")
def gains(
    year: YearOpt,
    method: Annotated[
        str | None, typer.Option(help="fifo|lifo|hifo|acb (default: the year's choice).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Disposals and the total realized gain of a tax year."""
    with _ledger_session() as (settings, engine):
        report = service.gains(engine, year, method, fiat=settings.ledger_fiat)
    if as_json:
        emit_json(report.as_dict())
        return
    table = Table(
        title=f"Disposals {year} ({report.method.upper()})", title_justify="left", box=SIMPLE_HEAD
    )
    for name in ("#", "asset", "quantity", "acquired", "disposed", "proceeds", "basis", "gain"):
        table.add_column(name, justify="left" if name in ("asset",) else "right", no_wrap=True)
    for d in report.disposals[:200]:
        acquired = "MISSING" if d.missing else (d.acquired.date().isoformat() if d.acquired else "")
        table.add_row(
            str(d.seq),
            d.asset,
            dec_text(d.quantity),
            acquired,
            d.disposed.date().isoformat(),
            _money(d.proceeds),
            _money(d.basis),
            _money(d.gain),
        )
    console.print(table)
    console.print(
        f"total gain {_money(report.gain)} {report.fiat} (short {_money(report.short_term_gain)}, "
        f"long {_money(report.long_term_gain)}) over {len(report.disposals):,} lines",
        highlight=False,
    )
    for warning in report.warnings[:5]:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)


@ledger_app.command("income")
def income(year: YearOpt, as_json: JsonOpt = False) -> None:
    """Income of a tax year per category (staking, interest, LP fees, airdrops)."""
    with _ledger_session() as (settings, engine):
        report = service.income(engine, year, fiat=settings.ledger_fiat)
    if as_json:
        emit_json(report.as_dict())
        return
    table = Table(title=f"Income {year}", title_justify="left", box=SIMPLE_HEAD)
    for name in ("category", "events", "value", "unpriced"):
        table.add_column(name, justify="left" if name == "category" else "right")
    for kind, entry in report.by_category().items():
        table.add_row(
            kind, str(entry["events"]), _money(entry["value"]), str(entry["unpriced_events"])
        )
    table.add_row("total", str(len(report.lines)), _money(report.total), "")
    console.print(table)
    console.print(f"fees paid outside swaps: {_money(report.fee_expenses)} {report.fiat}")


@ledger_app.command("summary")
def summary(year: YearOpt, as_json: JsonOpt = False) -> None:
    """Holdings at the end of the year, gains and income of the year."""
    with _ledger_session() as (settings, engine):
        result = service.ledger_summary(engine, year, fiat=settings.ledger_fiat)
        unfinished = [
            r for r in ledger.import_runs(engine, check=False) if r["status"] not in _FINISHED
        ]
    data = result.as_dict()
    if as_json:
        emit_json({**data, "unfinished_imports": unfinished})
        return
    if unfinished:
        err.print(
            f"[yellow]{len(unfinished)} import run(s) were interrupted or failed[/] ("
            + ", ".join(f"#{r['import_id']} {r['status']}" for r in unfinished[-5:])
            + "): see `realyield ledger status`",
            highlight=False,
        )
    for h in result.holdings:
        console.print(f"{h.asset:>8} {dec_text(h.quantity):>20}  cost {_money(h.cost)}")
    console.print(
        f"gain {_money(result.gains.gain)}, income {_money(result.income.total)} "
        f"{result.gains.fiat} in {year}"
    )


@ledger_app.command("sync")
def sync(
    exchange: Annotated[str, typer.Argument(help="ccxt exchange id, e.g. kraken.")],
    since: Annotated[str | None, typer.Option(help="From this date (YYYY-MM-DD).")] = None,
    account: Annotated[str | None, typer.Option(help="Account name (default: exchange).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import the account's trades and ledger from an exchange (read-only API keys from
    REALYIELD_<EXCHANGE>_API_KEY / _SECRET / _PASSWORD); syncing again adds only new ones."""
    with _ledger_session() as (settings, engine):
        try:
            start = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
        except ValueError as exc:
            raise fail(ConfigError(f"--since {since!r} is not a YYYY-MM-DD date")) from exc
        stem = f"REALYIELD_{exchange.upper()}"
        client = ExchangeClient.with_credentials(
            exchange,
            api_key=os.environ.get(f"{stem}_API_KEY", ""),
            secret=os.environ.get(f"{stem}_SECRET", ""),
            password=os.environ.get(f"{stem}_PASSWORD") or None,
            timeout_s=settings.http_timeout_s,
        )
        report, skipped = sync_exchange(
            engine,
            client,
            since=start,
            account=account,
            fiat=settings.ledger_fiat,
            max_price_age_days=settings.ledger_price_max_age_days,
            batch_size=settings.ledger_import_batch,
        )
    if as_json:
        emit_json({**report.as_dict(), "skipped": dict(skipped)})
    else:
        console.print(
            f"{exchange}: {report.inserted:,} new events, {report.duplicates:,} already "
            f"stored, {report.rejected_count:,} rejected; skipped {dict(skipped)}",
            highlight=False,
        )
        for problem in report.rejected[:10]:
            err.print(f"  rejected: {problem.describe(exchange)}", highlight=False)
    if report.rows and not report.events:  # nothing new on the exchange is no failure
        raise typer.Exit(1)


@ledger_app.command("project")
def project(
    holding: Annotated[
        list[str], typer.Option(help="INDEX=VALUE held on an index (repeat), e.g. balanced=10000.")
    ],
    tax_rate: Annotated[
        float | None, typer.Option(help="Income tax rate, fraction (default: setting).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Expected yield events of the coming year from a portfolio on the indices, and tax."""
    holdings = {}
    for item in holding:
        name, sep, value = item.partition("=")
        if not sep:
            raise fail(ConfigError(f"--holding {item!r}: write INDEX=VALUE"))
        holdings[name.strip()] = to_decimal(value, what=f"--holding {name}")
    with _ledger_session() as (settings, engine):
        if not stored_sources(engine):
            build.load_snapshot(engine)
            err.print("[yellow]store was empty: loaded the bundled snapshot[/]")
        rate = to_decimal(tax_rate if tax_rate is not None else settings.ledger_tax_rate)
        result = projected_income(engine, holdings, tax_rate=rate, fiat=settings.ledger_fiat)
    if as_json:
        emit_json(result.as_dict())
        return
    for month, amount in result.by_month().items():
        console.print(f"{month}  {_money(amount):>12}")
    console.print(
        f"income {_money(result.total)} (of which emissions {_money(result.emission_total)}), "
        f"tax {_money(result.tax)} at {dec_text(result.tax_rate)}, "
        f"after tax {_money(result.total - result.tax)} {result.fiat}",
        highlight=False,
    )


@ledger_app.command("export")
def export(
    fmt: Annotated[
        str,
        typer.Option("--format", help="generic|koinly|cointracker|8949|income|html"),
    ],
    year: Annotated[int | None, typer.Option(help="Tax year (needed for reports).")] = None,
    method: Annotated[str | None, typer.Option(help="Method for 8949/html.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Export the ledger or a tax report."""
    with _ledger_session() as (settings, engine):
        text = service.export(engine, fmt, year=year, method=method, fiat=settings.ledger_fiat)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


@ledger_app.command("method")
def method(
    year: Annotated[int, typer.Argument(help="Tax year.")],
    name: Annotated[str, typer.Argument(help="fifo|lifo|hifo|acb")],
) -> None:
    """Choose the cost-basis method of a tax year."""
    with _ledger_session() as (_, engine):
        ledger.set_method(engine, year, name)
        console.print(f"{year}: {ledger.chosen_methods(engine)[year]}")


@ledger_app.command("reverse")
def reverse(
    seq: Annotated[int, typer.Argument(help="The event number (#) to cancel.")],
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Correct the ledger by appending an event that reverses event SEQ."""
    with _ledger_session() as (_, engine):
        reversal = ledger.reverse_event(engine, seq, note=note)
    if as_json:
        emit_json(reversal.as_dict())
    else:
        console.print(f"#{reversal.seq} reverses #{seq}")


@ledger_app.command("backup")
def backup(
    path: Annotated[Path | None, typer.Argument(help="Backup file (.jsonl.gz).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a verifiable backup of the ledger."""
    with _ledger_session() as (settings, engine):
        target = path or settings.home / "backups" / f"ledger-{clock.today():%Y%m%d}.jsonl.gz"
        result = ledger_backup.backup(engine, target)
    if as_json:
        emit_json(result.as_dict())
    else:
        console.print(f"wrote {result.path}: {result.counts}")


@ledger_app.command("restore")
def restore(
    path: Annotated[Path, typer.Argument(help="A backup written by `ledger backup`.")],
    replace: Annotated[bool, typer.Option(help="Replace a non-empty ledger.")] = False,
) -> None:
    """Restore the ledger from a backup (all or nothing)."""
    with _ledger_session() as (settings, engine):
        if not path.is_file():
            raise fail(DataError(f"{path}: no such file"))
        result = ledger_backup.restore(
            engine, path, replace=replace, backup_dir=settings.home / "backups"
        )
    console.print(f"restored {result.counts}")
