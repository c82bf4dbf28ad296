"""The ``realyield`` command line: a thin layer over the library's functions.

Every command that prints data takes ``--json`` so scripts and tests can read it.
Errors from the library (``RealyieldError``) are printed as one clear line and exit
with status 1 (2 for configuration mistakes). The console script runs ``main``, whose
last-resort handler (``guard``) turns any other exception into one line and status 70
(a bug to report; ``REALYIELD_DEBUG=1`` shows the traceback); Ctrl-C exits 130.
Tables never hide a digit (``render``). ``app`` is the Typer application itself
(tests drive it with Typer's ``CliRunner``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

from realyield.cli import (
    backtest,
    data,
    demo,
    execution,
    guard,
    indices,
    ledger,
    mcp,
    monitor,
    plan,
    portfolio,
    scaleout,
    scores,
    serve,
    universe,
)

app = typer.Typer(
    help="realyield: sustainable crypto income, with data anyone can check.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data.data_app, name="data")
app.command("universe")(universe.universe)
app.command("demo")(demo.demo)
app.command("screen")(scores.screen)
app.command("explain")(scores.explain)
app.add_typer(scores.model_app, name="model")
app.command("indices")(indices.indices)
app.command("index")(indices.index)
app.command("plan")(plan.plan)
app.command("monitor")(monitor.monitor)
app.command("alerts")(monitor.alerts)
app.command("review")(monitor.review)
app.command("rebalance")(execution.rebalance)
app.command("backtest")(backtest.backtest)
app.command("sweep")(scaleout.sweep)
app.command("plan-batch")(scaleout.plan_batch)
app.command("serve")(serve.serve)
app.command("mcp")(mcp.mcp)
app.add_typer(serve.key_app, name="api-key")
app.add_typer(ledger.ledger_app, name="ledger")
app.command("portfolio")(portfolio.portfolio)


def main(args: Sequence[str] | None = None) -> None:
    """The ``realyield`` console script: run ``app`` behind the last-resort handler and
    exit with its status (never a traceback; see ``realyield.cli.guard``)."""
    sys.exit(guard.run(app, args))


__all__ = ["app", "main"]
