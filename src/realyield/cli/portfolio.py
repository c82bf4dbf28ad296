"""``realyield portfolio``: what is held (from the ledger), valued, earning, drifting.

Thin: the targets are parsed by ``execution.targets`` (the same forms ``rebalance``
takes) and the portfolio is ``portfolio.holdings.build_portfolio``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from realyield.cli.common import JsonOpt, console, emit_json, session
from realyield.core.errors import ConfigError
from realyield.execution.targets import index_targets, load_targets, parse_targets
from realyield.portfolio.holdings import Portfolio, build_portfolio


def _money(value: object) -> str:
    return "-" if value is None else f"{float(value):,.2f}"  # type: ignore[arg-type]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def portfolio_table(folio: Portfolio) -> Table:
    table = Table(title=f"Holdings at {folio.as_of:%Y-%m-%d %H:%M} UTC", title_justify="left")
    for name in ("asset", "quantity", "price", "value USD", "cost basis", "unrealised"):
        table.add_column(name, justify="left" if name == "asset" else "right")
    for name in (f"income {folio.year}", "weight", "target", "drift pp", "accounts"):
        table.add_column(name, justify="left" if name == "accounts" else "right")
    for h in folio.holdings:
        table.add_row(
            h.asset,
            str(h.quantity.normalize()) if h.quantity else "0",
            _money(h.price_usd),
            _money(h.value_usd),
            _money(h.cost),
            _money(h.unrealised),
            _money(h.income_year),
            _pct(h.weight),
            _pct(h.target_weight),
            "-" if h.drift_pp is None else f"{h.drift_pp:+.1f}",
            ", ".join(sorted(h.accounts)),
        )
    return table


def portfolio(
    target: Annotated[
        list[str] | None, typer.Option("--target", help="SYMBOL=WEIGHT to drift against.")
    ] = None,
    targets_file: Annotated[
        Path | None, typer.Option("--targets", help="TOML file with a [targets] table.")
    ] = None,
    index: Annotated[str | None, typer.Option(help="Drift against this index's coins.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Accounts and holdings from the ledger at stored prices: value, unrealised gain,
    income this year and drift against a target."""
    with session() as (settings, engine):
        if sum(x is not None and x != [] for x in (target, targets_file, index)) > 1:
            raise ConfigError("give at most one of --target, --targets and --index")
        notes: list[str] = []
        weights: dict[str, float] = {}
        if target:
            weights = parse_targets(target)
        elif targets_file is not None:
            weights = load_targets(targets_file)
        elif index is not None:
            weights, notes = index_targets(engine, index, home=settings.home)
        folio = build_portfolio(engine, targets=weights, fiat=settings.ledger_fiat)
        folio.notes.extend(notes)
    if as_json:
        emit_json(folio.as_dict())
        return
    if not folio.holdings:
        console.print("nothing held: import a ledger file (realyield ledger import) or trade")
        return
    console.print(portfolio_table(folio))
    console.print(
        f"total value ${_money(folio.total_value_usd)}; cost basis {_money(folio.total_cost)} "
        f"{folio.fiat}; income {folio.year} {_money(folio.income_year)} {folio.fiat}"
    )
    accounts = Table(title="Accounts", title_justify="left")
    for name in ("account", "kind", "events", "balances"):
        accounts.add_column(name)
    for a in folio.accounts:
        balances = ", ".join(f"{q.normalize()} {s}" for s, q in a.balances.items())
        accounts.add_row(a.name, a.kind, str(a.events), balances)
    console.print(accounts)
    for note in folio.notes:
        console.print(f"[dim]{note}[/]")


__all__ = ["portfolio", "portfolio_table"]
