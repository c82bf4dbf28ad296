"""``realyield data``: refresh live sources, import files, inspect the store."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from realyield.cli.common import (
    JsonOpt,
    console,
    emit_json,
    fail,
    print_result,
    progress_bar,
    session,
)
from realyield.core.errors import ConfigError
from realyield.sources.tabular import parse_column_map
from realyield.universe import batch_import, build
from realyield.universe.repository import SNAPSHOT_SOURCE, stored_sources, table_counts

data_app = typer.Typer(help="Fetch, import and inspect stored data.", no_args_is_help=True)


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
    """Fetch fresh data from a live source (offline: keep stored data, else load the snapshot).

    Nothing refreshed is not a success: exit 75 (EX_TEMPFAIL: the source could not be
    reached, retry later) or 1 (it answered with something unusable), after saying what
    failed and what the store still holds.
    """
    with session() as (settings, engine):
        with progress_bar(not as_json) as progress:
            result = build.refresh(engine, settings, source, progress=progress, history_top=history)
        status = REFRESH_EXIT.get(result.status, 1)
        kept = {"tables": table_counts(engine), "sources": stored_sources(engine)} if status else {}
    if as_json:
        emit_json(result.as_dict() | ({"kept": kept} if kept else {}))
    else:
        print_result(result)
        if status:
            _print_kept(kept)
    if status:
        raise typer.Exit(status)


#: Exit status of ``data refresh`` per result status (75 is sysexits' EX_TEMPFAIL).
REFRESH_EXIT = {"ok": 0, "unchanged": 0, "offline": 75, "failed": 1}


def _print_kept(kept: dict[str, Any]) -> None:
    """One line on what a failed refresh left in the store (nothing is deleted)."""
    counts = ", ".join(f"{n:,} {name}" for name, n in kept["tables"].items())
    newest = ", ".join(f"{name} {facts['latest']}" for name, facts in kept["sources"].items())
    console.print(
        f"  kept in the store: {counts}" + (f"; newest per source: {newest}" if newest else ""),
        highlight=False,
    )


@data_app.command("import")
def data_import(
    paths: Annotated[
        list[Path],
        typer.Argument(help="CSV/JSON files (plain or .gz) and folders of them"),
    ],
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
    decimal_comma: Annotated[
        bool,
        typer.Option(
            "--decimal-comma", help="Numbers use a decimal comma and '.' thousands (1.234,56)."
        ),
    ] = False,
    columns: Annotated[
        str | None,
        typer.Option(help="Map your columns: TARGET=COLUMN,... e.g. date=Date,price=Adj_Close"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import pools, prices or APY histories from files and folders; bad rows reported
    by row number, each file on its own.

    Exit status 1 when any file has no good row or cannot be read (2 for a bad option).
    """
    with session() as (_settings, engine):
        try:
            day = date.fromisoformat(as_of) if as_of else None
        except ValueError as exc:
            raise fail(ConfigError(f"--as-of {as_of!r} is not a YYYY-MM-DD date")) from exc
        outcomes = batch_import.import_paths(
            engine,
            paths,
            kind=kind,
            strict=strict,
            as_of=day,
            apy_unit=apy_unit,
            opportunity_id=series_id,
            asset_id=asset,
            decimal_comma=decimal_comma,
            columns=parse_column_map(columns) if columns else None,
            dry_run=dry_run,
        )
    if len(outcomes) == 1 and outcomes[0].error is not None:
        raise fail(outcomes[0].error)  # one file: its error is the command's, as before
    if as_json:
        payload = [o.as_dict() for o in outcomes]
        emit_json(payload[0] if len(payload) == 1 else {"files": payload})
    else:
        for outcome in outcomes:
            if outcome.result is not None:
                _print_import(outcome.result, outcome.path.name)
            else:
                console.print(
                    f"[bold red]{escape(outcome.path.name)}: failed[/] - "
                    f"{escape(str(outcome.error))}",
                    highlight=False,
                )
        failed = [o.path.name for o in outcomes if o.failed]
        if len(outcomes) > 1:
            console.print(
                f"{len(outcomes) - len(failed)} of {len(outcomes)} file(s) imported"
                + (f"; failed: {escape(', '.join(failed))}" if failed else ""),
                highlight=False,
            )
    if any(o.failed for o in outcomes):
        raise typer.Exit(1)


def _print_import(result: build.LoadResult, name: str) -> None:
    """An import's summary: status, counts, why rows were skipped (file, row, column),
    and what it replaced in the store (or would, with --dry-run)."""
    colour = {"ok": "green", "dry-run": "cyan"}.get(result.status, "red")
    console.print(
        f"[bold {colour}]{name}: {result.status}[/] - {escape(result.message)}", highlight=False
    )
    report = result.report
    if report is not None:
        console.print(
            f"  read {report.rows_seen:,} rows: accepted {report.accepted:,}, "
            f"rejected {report.rejected_total:,}, duplicates resolved {report.duplicates:,}",
            highlight=False,
        )
        for reason, count in report.rejected.most_common():
            console.print(f"    skipped {count:,} x {reason}", highlight=False)
        for reason, count in report.repaired.most_common():
            console.print(f"    repaired {count:,} x {reason}", highlight=False)
        for problem in report.problems[:5]:
            console.print(
                f"    e.g. {escape(f'{name} {problem.where}: {problem.detail}')}", highlight=False
            )
    if result.changes is not None:
        verb = "would change" if result.status == "dry-run" else "changed"
        console.print(f"  {escape(result.changes.summary(verb))}", highlight=False)
        for change in result.changes.examples:
            console.print(f"    {escape(str(change))}", highlight=False)
    if result.written:
        console.print(
            "  stored " + ", ".join(f"{v:,} {k}" for k, v in result.written.items()),
            highlight=False,
        )


#: What ``data status`` says of the bundled snapshot, so nobody takes it for market data.
SNAPSHOT_NOTE = " (bundled offline snapshot: approximate figures, ILLUSTRATIVE histories)"


@data_app.command("status")
def data_status(as_json: JsonOpt = False) -> None:
    """What the store holds: rows per table and the newest date per source."""
    with session() as (settings, engine):
        payload: dict[str, Any] = {
            "database": settings.resolved_database_url(),
            "tables": table_counts(engine),
            "sources": stored_sources(engine),
        }
    if as_json:
        emit_json(payload)
        return
    console.print(f"store: {payload['database']}", highlight=False)
    for name, count in payload["tables"].items():
        console.print(f"  {name:<14} {count:>10,}", highlight=False)
    for name, facts in payload["sources"].items():
        console.print(
            f"  source {name:<10} {facts['rows']:>8,} opportunity rows, newest {facts['latest']}"
            + (SNAPSHOT_NOTE if name == SNAPSHOT_SOURCE else ""),
            highlight=False,
        )
