"""The ``realyield`` command line: a thin layer over the library's functions.

Every command that prints data takes ``--json`` so scripts and tests can read it.
Errors from the library (``RealyieldError``) are printed as one clear line and exit
with status 1 (2 for configuration mistakes); nothing else is caught.
"""

from __future__ import annotations

import typer

from realyield.cli import (
    backtest,
    data,
    demo,
    execution,
    indices,
    ledger,
    monitor,
    plan,
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
app.add_typer(serve.key_app, name="api-key")
app.add_typer(ledger.ledger_app, name="ledger")

__all__ = ["app"]
