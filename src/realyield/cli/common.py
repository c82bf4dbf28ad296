"""Shared pieces of the command line: the session (settings + store), progress bars,
JSON output, error handling and number formatting. Commands stay thin: they parse
options, call library functions and print.

``console`` (stdout) and ``err`` (stderr) are ``render.ReportConsole``s: every table
printed through them shows whole figures (folded or widened, never cut with ``…``),
whatever its columns ask for; see ``realyield.cli.render``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from realyield.cli.render import ReportConsole
from realyield.core.errors import ConfigError, RealyieldError
from realyield.core.secrets import redact
from realyield.core.settings import Settings, load_settings
from realyield.store.engine import open_store
from realyield.universe import build

console = ReportConsole()
err = ReportConsole(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def fail(exc: RealyieldError) -> typer.Exit:
    """Print ``exc`` as one ``error:`` line (registered secrets scrubbed) and return the
    ``typer.Exit`` to raise: status 2 for a configuration mistake, else 1."""
    err.print(f"[bold red]error:[/] {escape(redact(str(exc)))}", highlight=False, soft_wrap=True)
    return typer.Exit(2 if isinstance(exc, ConfigError) else 1)


@contextmanager
def session() -> Iterator[tuple[Settings, Engine]]:
    try:
        settings = load_settings()
        engine = open_store(settings)
    except RealyieldError as exc:
        raise fail(exc) from exc
    try:
        yield settings, engine
    except RealyieldError as exc:
        raise fail(exc) from exc
    finally:
        engine.dispose()


@contextmanager
def progress_bar(enabled: bool, *, transient: bool = False) -> Iterator[build.Progress | None]:
    """A progress callback for the library's long loads, drawn on stderr (``None`` when
    disabled, e.g. with ``--json``). A bar that did not reach its end is removed on exit."""
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

        try:
            yield update
        finally:
            # A bar left short (the source went away, the command failed) would stay on
            # screen, and in a log, as if the work were still running: remove it; the
            # command says what happened.
            for task in bar.tasks:
                if not task.finished:
                    bar.remove_task(task.id)
            if not bar.tasks:  # nothing left to show: no last frame, not even a blank line
                bar.live.transient = True
                bar.live.stop()
                bar.disable = True


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


def print_result(result: build.LoadResult) -> None:
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
        print_result(result.fallback)


def fmt_usd(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            scaled = value / size
            return f"${scaled:,.0f}{unit}" if abs(scaled) >= 100 else f"${scaled:,.1f}{unit}"
    return f"${value:,.0f}"


def fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}%"


KIND_SHORT = {
    "staking": "stake",
    "liquid_staking": "LST",
    "lending": "lend",
    "liquidity": "LP",
    "vault": "vault",
}
