"""``realyield rebalance``: target weights -> orders, on the paper broker by default.

Safety, in order:

* the default broker is ``paper`` (simulated, balances in the store);
* ``--broker ccxt:EXCHANGE`` without ``--live`` only plans (a dry run), unless
  ``--sandbox`` sends to the exchange's test environment;
* ``--live`` needs a confirmation: type the exchange's name at the prompt. When stdin
  is not a terminal (cron, CI) there is no prompt and ``--live`` is refused unless
  ``--yes-i-understand-this-trades-real-money`` is also given;
* the key must come from the environment or the OS keyring, and a key the exchange
  reports as able to withdraw is refused before anything is planned.
"""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.box import SIMPLE_HEAD
from rich.markup import escape
from rich.table import Table

from realyield.cli.common import JsonOpt, console, emit_json, err, fail, session
from realyield.core.errors import ConfigError, RealyieldError
from realyield.core.secrets import install_log_redaction
from realyield.execution.brokers import open_broker
from realyield.execution.orders import OrderPlan
from realyield.execution.paper import PaperBroker
from realyield.execution.rebalance import RebalanceResult, execute_plan
from realyield.execution.rebalance import rebalance as run_rebalance
from realyield.execution.targets import index_targets, load_targets, parse_target, parse_targets

YES_FLAG = "--yes-i-understand-this-trades-real-money"


def _decimal(text: str, what: str) -> Decimal:
    try:
        value = Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise ConfigError(f"{what} {text!r} is not a number") from None
    return value / 100 if text.strip().endswith("%") else value


def plan_table(plan: OrderPlan) -> Table:
    table = Table(
        title=f"Orders (run {plan.run_id}), portfolio {plan.portfolio_value:,.2f} {plan.quote}",
        title_justify="left",
        box=SIMPLE_HEAD,
        pad_edge=False,
    )
    for name in ("side", "symbol", "amount", "price", "cost", "fee", "client id"):
        table.add_column(
            name, justify="left" if name in ("side", "symbol", "client id") else "right"
        )
    for o in plan.orders:
        r = o.request
        table.add_row(
            r.side,
            r.symbol,
            str(r.amount),
            str(r.price or o.reference_price),
            f"{o.cost:,.2f}",
            f"{o.fee:,.4f}",
            r.client_order_id,
        )
    return table


def _print(result: RebalanceResult) -> None:
    plan = result.plan
    mode = "dry run" if result.dry_run else ("LIVE" if result.live else "paper/sandbox")
    console.print(f"[bold]{result.broker}[/] ({mode})")
    console.print(plan_table(plan))
    for s in plan.skipped:
        console.print(f"[yellow]skipped[/] {s.side} {s.symbol}: {s.reason}", highlight=False)
    if plan.untouched:
        console.print(
            "untouched: " + ", ".join(f"{v} {k}" for k, v in plan.untouched.items()),
            highlight=False,
        )
        console.print(f"[dim]{plan.untouched_reason}[/]", highlight=False)
    for fill in result.fills:
        console.print(
            f"{fill.status}: {fill.side} {fill.filled}/{fill.amount} {fill.symbol} at "
            f"{fill.average} (fee {fill.fee} {fill.fee_currency or ''})",
            highlight=False,
        )
    for cid, error in result.failed:
        err.print(f"[red]failed {cid}:[/] {error}", highlight=False)
    if result.halted:
        err.print(f"[bold red]halted:[/] {result.halted}", highlight=False)
    if result.dry_run:
        console.print("[dim]dry run: nothing was sent[/]")


def _targets(
    engine: Any, home: Path, target: list[str] | None, targets_file: Path | None, index: str | None
) -> tuple[dict[str, float], list[str]]:
    given = sum(x is not None and x != [] for x in (target, targets_file, index))
    if given != 1:
        raise ConfigError(
            "give the targets one way: --target SYM=W (repeatable), --targets FILE or --index NAME"
        )
    if target:
        return parse_targets(target), []
    if targets_file is not None:
        return load_targets(targets_file), []
    return index_targets(engine, str(index), home=home)


def _confirm_live(exchange: str, plan: OrderPlan, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(
            f"--live needs a confirmation and stdin is not a terminal: run it interactively, "
            f"or add {YES_FLAG} if you really mean to trade from a script"
        )
    console.print(plan_table(plan))
    answer = typer.prompt(
        f"These orders trade REAL money on {exchange}. Type '{exchange}' to send them"
    )
    if answer.strip() != exchange:
        raise ConfigError("not confirmed: nothing was sent")


def rebalance(
    broker: Annotated[str, typer.Option(help="paper (default) or ccxt:EXCHANGE.")] = "paper",
    target: Annotated[
        list[str] | None, typer.Option("--target", help="SYMBOL=WEIGHT, e.g. BTC=40% (repeatable).")
    ] = None,
    targets_file: Annotated[
        Path | None, typer.Option("--targets", help="TOML file with a [targets] table.")
    ] = None,
    index: Annotated[str | None, typer.Option(help="Targets from this index's coins.")] = None,
    quote: Annotated[str, typer.Option(help="Quote currency (cash).")] = "USDT",
    cash_buffer: Annotated[str, typer.Option(help="Share kept in cash, e.g. 1%.")] = "1%",
    order_type: Annotated[str, typer.Option(help="market or limit.")] = "market",
    slippage_bps: Annotated[
        str, typer.Option(help="Limit orders: basis points through the price.")
    ] = "50",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; send nothing.")
    ] = False,
    live: Annotated[
        bool, typer.Option("--live", help="Send real orders (asks to confirm).")
    ] = False,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="Use the exchange's test environment.")
    ] = False,
    yes: Annotated[bool, typer.Option(YES_FLAG, help="Skip the --live prompt (scripts).")] = False,
    fund: Annotated[
        list[str] | None, typer.Option("--fund", help="Paper: deposit ASSET=AMOUNT first.")
    ] = None,
    account: Annotated[str, typer.Option(help="Paper account name.")] = "default",
    fee_bps: Annotated[str, typer.Option(help="Paper: fee in basis points.")] = "10",
    as_json: JsonOpt = False,
) -> None:
    """Rebalance to target weights: paper by default, --dry-run to plan, --live to trade."""
    install_log_redaction()
    if dry_run and live:
        raise fail(ConfigError("--dry-run and --live exclude each other"))
    with session() as (settings, engine):
        try:
            weights, notes = _targets(engine, settings.home, target, targets_file, index)
            buffer = _decimal(cash_buffer, "--cash-buffer")
            opened = open_broker(
                broker,
                engine,
                live=live,
                sandbox=sandbox,
                account=account,
                bases=sorted(weights),
                quote=quote.upper(),
                fee_bps=_decimal(fee_bps, "--fee-bps"),
            )
            chosen, may_send = opened.broker, opened.may_send
            if opened.permissions is not None and opened.permissions.can_withdraw is None:
                err.print(
                    f"[yellow]{broker}: the exchange does not report key permissions; make "
                    "sure this key cannot withdraw (trade-only).[/]"
                )
            if fund:
                if not isinstance(chosen, PaperBroker):
                    raise ConfigError("--fund is for the paper broker")
                for item in fund:
                    asset, amount = parse_target(item)
                    chosen.deposit(asset, Decimal(str(amount)))
            plan_only = dry_run or not may_send
            result = run_rebalance(
                chosen,
                weights,
                quote=quote.upper(),
                dry_run=True,
                cash_buffer=buffer,
                order_type=order_type,
                slippage_bps=_decimal(slippage_bps, "--slippage-bps"),
            )
            if not plan_only:
                if chosen.live:  # the plan shown is the plan sent
                    _confirm_live(broker.partition(":")[2], result.plan, yes)
                reconciled = result.reconciled
                result = execute_plan(chosen, result.plan)
                result.reconciled = reconciled
        except RealyieldError as exc:
            raise fail(exc) from exc
        balances = chosen.balances() if not result.dry_run else None
    if as_json:
        out = result.as_dict()
        out["notes"] = notes
        if balances is not None:
            out["balances"] = {k: str(v) for k, v in balances.total.items()}
        emit_json(out)
        return
    for note in notes:
        console.print(f"[dim]note: {escape(note)}[/]", highlight=False)
    _print(result)
    if not may_send and not dry_run:
        console.print(
            f"[dim]{broker} without --live only plans; add --live (or --sandbox) to send[/]"
        )
    if balances is not None:
        console.print(
            "balances: " + ", ".join(f"{v} {k}" for k, v in balances.total.items()), highlight=False
        )
