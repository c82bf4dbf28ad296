"""What is held, valued: positions derived from the ledger's events, at stored prices.

Why from the ledger: imports, exchange syncs, manual adds and every fill of the paper
broker all land there (``execution.fills``), so one pass of the lot engine over the
active events gives each asset's quantity and cost basis, and the same events give
each account's balances. Nothing else keeps a second copy of the holdings.

* Quantity and cost: the open lots of the lot engine (the years' chosen methods).
* Value: the newest stored USD price at or before ``as_of``; a dollar (USD, USDT,
  USDC) without a stored price counts at par (said in ``notes``); an asset with no
  price is listed as unpriced and left out of the total.
* Income this year: the fair-market value of the year's income events per asset.
* Drift: weight minus target weight, in percentage points, for targets given as
  weights per symbol (a plan's allocation or an index's coins map to the same form).

Raises nothing for an empty ledger (an empty portfolio); ``DataError`` only for
malformed stored data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Engine

from realyield.core import clock
from realyield.portfolio import ledger, transfers
from realyield.portfolio.events import (
    INCOME_KINDS,
    MOVE_KINDS,
    SWAP_KINDS,
    LedgerEvent,
    dec_text,
    is_fiat,
)
from realyield.portfolio.lots import ZERO, exact_sum, replay
from realyield.portfolio.pricing import AssetIds, PriceBook

USD_LIKE: Final = frozenset({"USD", "USDT", "USDC"})
#: A stored price older than this (3 days) is still used, with a note saying its date.
STALE_S: Final = 3 * 86400


@dataclass(frozen=True)
class Holding:
    """One asset held: quantity, basis, value and this year's income from it."""

    asset: str
    asset_id: str | None
    quantity: Decimal
    cost: Decimal
    price_usd: Decimal | None
    value_usd: Decimal | None
    income_year: Decimal
    accounts: dict[str, Decimal]
    weight: float | None = None
    target_weight: float | None = None
    #: The opportunity the newest ledger event on this asset names (where it earns).
    opportunity: str | None = None

    @property
    def unrealised(self) -> Decimal | None:
        return None if self.value_usd is None else self.value_usd - self.cost

    @property
    def drift_pp(self) -> float | None:
        if self.weight is None or self.target_weight is None:
            return None
        return (self.weight - self.target_weight) * 100

    def as_dict(self) -> dict[str, Any]:
        def num(v: Decimal | None) -> float | None:
            return None if v is None else float(v)

        return {
            "asset": self.asset,
            "asset_id": self.asset_id,
            "opportunity": self.opportunity,
            "quantity": dec_text(self.quantity),
            "cost_basis": num(self.cost),
            "price_usd": num(self.price_usd),
            "value_usd": num(self.value_usd),
            "unrealised_usd": num(self.unrealised),
            "income_this_year": num(self.income_year),
            "weight": self.weight,
            "target_weight": self.target_weight,
            "drift_pp": self.drift_pp,
            "accounts": {k: dec_text(v) for k, v in self.accounts.items()},
        }


@dataclass(frozen=True)
class Account:
    """A place holdings sit: an exchange, a wallet (imports, manual adds), paper."""

    name: str  # source/account as the ledger keys it ("paper:default" when it says it)
    kind: str  # exchange | wallet | paper
    balances: dict[str, Decimal]
    events: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "events": self.events,
            "balances": {k: dec_text(v) for k, v in self.balances.items()},
        }


@dataclass
class Portfolio:
    as_of: datetime
    year: int
    fiat: str
    holdings: list[Holding]
    accounts: list[Account]
    unpriced: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Withdrawals and deposits not matched as transfers between own accounts.
    unmatched_transfers: list[LedgerEvent] = field(default_factory=list)

    @property
    def total_value_usd(self) -> Decimal:
        return exact_sum(h.value_usd for h in self.holdings if h.value_usd is not None)

    @property
    def total_cost(self) -> Decimal:
        return exact_sum(h.cost for h in self.holdings)

    @property
    def income_year(self) -> Decimal:
        return exact_sum(h.income_year for h in self.holdings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "year": self.year,
            "fiat": self.fiat,
            "total_value_usd": float(self.total_value_usd),
            "total_cost_basis": float(self.total_cost),
            "unrealised_usd": float(
                exact_sum(h.unrealised for h in self.holdings if h.unrealised is not None)
            ),
            "income_this_year": float(self.income_year),
            "holdings": [h.as_dict() for h in self.holdings],
            "accounts": [a.as_dict() for a in self.accounts],
            "unpriced": self.unpriced,
            "notes": self.notes,
            "unmatched_transfers": [e.as_dict() for e in self.unmatched_transfers],
        }


def account_kind(source: str) -> str:
    """``paper`` for the paper broker, ``exchange`` for exchange syncs, else ``wallet``."""
    if source == "paper":
        return "paper"
    return "exchange" if source.startswith("ccxt:") else "wallet"


def signed_moves(event: LedgerEvent) -> Iterable[tuple[str, Decimal]]:
    """(asset, +/- quantity) the event makes in its own account (fiat left out)."""
    if event.kind in MOVE_KINDS:
        return []
    moves: list[tuple[str, Decimal]] = []
    if event.kind in SWAP_KINDS:
        moves.append((event.asset, event.amount))
        if event.counter_asset is not None and event.counter_amount is not None:
            moves.append((event.counter_asset, -event.counter_amount))
    elif event.kind in ("withdrawal", "gas_fee"):
        moves.append((event.asset, -event.amount))
    else:  # deposit, income
        moves.append((event.asset, event.amount))
    if event.kind != "gas_fee" and event.fee_asset is not None and event.fee_amount:
        moves.append((event.fee_asset, -event.fee_amount))
    return [(a, q) for a, q in moves if not is_fiat(a)]


def _accounts(events: list[LedgerEvent]) -> list[Account]:
    balances: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    counts: dict[str, int] = defaultdict(int)
    kinds: dict[str, str] = {}
    for e in events:
        name = e.account if e.account.startswith(f"{e.source}:") else f"{e.source}/{e.account}"
        counts[name] += 1
        kinds[name] = account_kind(e.source)
        for asset, qty in signed_moves(e):
            balances[name][asset] += qty
    return [
        Account(name, kinds[name], {a: q for a, q in sorted(b.items()) if q != 0}, counts[name])
        for name, b in sorted(balances.items())
    ]


def build_portfolio(
    engine: Engine,
    *,
    as_of: datetime | None = None,
    targets: Mapping[str, float] | None = None,
    fiat: str = "USD",
) -> Portfolio:
    """The portfolio from the events before ``as_of`` (default: all, valued now) with
    weights against ``targets``
    (symbol -> fraction; symbols not held show a target with zero weight)."""
    when = as_of or clock.now()
    year = when.year
    end = as_of  # None: every event, including one written this very instant
    events = ledger.load_events(engine, end=end)
    match = transfers.match_transfers(events)
    moves = transfers.apply(ledger.iter_movements(engine, end=end), match)
    run = replay(moves, ledger.chosen_methods(engine), years=[year])
    accounts = _accounts(events)
    ids, book = AssetIds.from_store(engine), PriceBook.from_store(engine)
    income: dict[str, Decimal] = defaultdict(Decimal)
    for line in run.income:
        if line.time.year == year and line.value is not None:
            income[line.asset] += line.value
    known_ids = {e.asset: e.asset_id for e in events if e.asset_id}
    earning = _opportunities(events)
    notes: list[str] = []
    unpriced: list[str] = []
    holdings: list[Holding] = []
    for asset, lots in sorted(run.holdings.items()):
        quantity = exact_sum(lot.quantity for lot in lots)
        if quantity <= 0:
            continue
        asset_id = known_ids.get(asset) or ids(asset)
        quote = book.quote(asset_id, when) if asset_id else None
        price = quote.price if quote is not None else None
        if quote is not None and quote.age_s > STALE_S:
            notes.append(
                f"{asset} valued at its stored price of {quote.day} "
                f"({quote.age_s // 86400} days old): refresh prices (realyield data refresh)"
            )
        if price is None and asset.upper() in USD_LIKE:
            price = Decimal(1)
            notes.append(f"{asset} has no stored price: valued at par with the dollar")
        if price is None:
            unpriced.append(asset)
        per_account = {
            a.name: a.balances[asset] for a in accounts if a.balances.get(asset, ZERO) != 0
        }
        holdings.append(
            Holding(
                asset=asset,
                asset_id=asset_id,
                quantity=quantity,
                cost=exact_sum(lot.cost for lot in lots),
                price_usd=price,
                value_usd=None if price is None else quantity * price,
                income_year=income.get(asset, ZERO),
                accounts=per_account,
                opportunity=earning.get(asset.upper()),
            )
        )
    if fiat != "USD":
        notes.append(f"values are in USD (stored prices); cost basis and income in {fiat}")
    if unpriced:
        notes.append(f"no stored price for {', '.join(unpriced)}: left out of the total")
    folio = Portfolio(when, year, fiat, holdings, accounts, unpriced, notes, match.unmatched)
    return with_targets(folio, targets or {})


def income_by_opportunity(engine: Engine, start: datetime, end: datetime) -> dict[str, Decimal]:
    """Fair-market value of the income events in ``[start, end)`` per opportunity id
    (events the ledger tied to an opportunity; unvalued ones count as nothing)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for e in ledger.load_events(engine, start=start, end=end, kinds=sorted(INCOME_KINDS)):
        if e.opportunity and e.value is not None:
            out[e.opportunity] += e.value
    return dict(out)


def opportunity_values(engine: Engine) -> dict[str, float]:
    """USD value held per opportunity: each priced holding is attributed to the
    opportunity of the newest ledger event on that asset that names one (a stake, a
    reward, a deposit into it). Assets never tied to an opportunity are not yield
    positions and are left out."""
    out: dict[str, float] = defaultdict(float)
    for h in build_portfolio(engine).holdings:
        if h.opportunity is not None and h.value_usd is not None and h.value_usd > 0:
            out[h.opportunity] += float(h.value_usd)
    return dict(out)


def _opportunities(events: Iterable[LedgerEvent]) -> dict[str, str]:
    """Asset (upper case) -> the opportunity of the newest event on it naming one."""
    where: dict[str, str] = {}
    for e in events:  # time order: the newest wins
        if e.opportunity:
            where[e.asset.upper()] = e.opportunity
    return where


def with_targets(folio: Portfolio, targets: Mapping[str, float]) -> Portfolio:
    """Weights of the priced holdings and their targets (symbols upper-cased)."""
    total = folio.total_value_usd
    wanted = {k.upper(): v for k, v in targets.items()}
    out: list[Holding] = []
    for h in folio.holdings:
        weight = float(h.value_usd / total) if h.value_usd is not None and total > 0 else None
        target = wanted.pop(h.asset.upper(), 0.0 if targets else None)
        out.append(replace(h, weight=weight, target_weight=target))
    for symbol, weight in sorted(wanted.items()):  # targeted but not held
        out.append(Holding(symbol, None, ZERO, ZERO, None, ZERO, ZERO, {}, 0.0, weight))
    folio.holdings = out
    return folio


__all__ = [
    "Account",
    "Holding",
    "Portfolio",
    "account_kind",
    "build_portfolio",
    "income_by_opportunity",
    "opportunity_values",
    "signed_moves",
]
