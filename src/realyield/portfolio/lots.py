"""Cost-basis lots and realized gains: FIFO, LIFO, HIFO and average cost, per tax year.

Why recompute from the events every time: lots are derived data; storing them would
let them drift from the ledger after a correction. One pass over the active events in
time order replays every acquisition and disposal (a million events in seconds).

Rules (docs/ledger.md states them for users):

* Acquisitions make lots: a trade's received asset at the trade's value; income
  (staking rewards, interest, LP fees, airdrops) at its fair-market value when received,
  so selling a reward always finds its acquisition; a deposit at its value.
* Disposals consume lots by the method of the disposal's tax year: ``fifo`` oldest
  first, ``lifo`` newest first, ``hifo`` highest unit cost first, ``acb`` the average
  cost of the whole holding (the holding period is then taken first-in first-out,
  as for average-basis shares). Switching methods between years re-arranges the same
  lots; leaving ``acb`` splits its pool back into lots at the average cost.
* Long term means held more than 365 days.
* Fees: a fee in crypto is itself a disposal of that crypto at its fair-market value.
  Its value is added to the cost of what a swap acquires, or, when a swap acquires
  fiat (a sale), subtracted from the proceeds. A fee on anything else (a standalone
  gas fee, a stake, a withdrawal, a claim of income) is an expense line of its own.
* Withdrawals remove lots (basis leaves with the coins) without a gain; stakes and
  unstakes change nothing. Fiat is not tracked in lots.
* A disposal with too few lots is still reported, with zero basis for the missing
  quantity and ``missing=True`` (a warning says which import is incomplete).

Amounts are ``Decimal`` throughout. Splitting a lot's cost or a sale's proceeds
rounds the share to 24 decimal places and gives the last piece the remainder; sums and
differences are exact, so no cost or proceeds are ever lost to rounding.
"""

from __future__ import annotations

import gc
import heapq
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any, Final

from realyield.portfolio.events import FIATS, INCOME_KINDS, SWAP_KINDS, dec_text, parse_time

LONG_TERM: Final = timedelta(days=365)
ZERO: Final = Decimal(0)
#: Shares of a cost or of proceeds are rounded to this many decimal places; every other
#: operation (additions, subtractions) is exact at the engine's precision.
SHARE_QUANTUM: Final = Decimal("1e-24")
ENGINE_PRECISION: Final = 96
_MAX_WARNINGS: Final = 50


@dataclass(frozen=True, slots=True)
class Disposal:
    """One line of realized gain: a quantity of one lot (or of the average pool)."""

    seq: int
    kind: str  # trade, lp_add, lp_remove, fee
    asset: str
    quantity: Decimal
    acquired: datetime | None  # None: several acquisitions (average cost) or missing
    disposed: datetime
    proceeds: Decimal
    basis: Decimal
    term: str  # short | long
    method: str
    missing: bool = False

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.basis

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "asset": self.asset,
            "quantity": dec_text(self.quantity),
            "acquired": None if self.acquired is None else self.acquired.isoformat(),
            "disposed": self.disposed.isoformat(),
            "proceeds": dec_text(self.proceeds),
            "basis": dec_text(self.basis),
            "gain": dec_text(self.gain),
            "term": self.term,
            "method": self.method,
            "missing": self.missing,
        }


@dataclass(frozen=True, slots=True)
class IncomeLine:
    """Income received: its category (the event kind) and fair-market value."""

    seq: int
    time: datetime
    kind: str
    asset: str
    amount: Decimal
    value: Decimal | None  # None: no price was found (counted as unpriced)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time.isoformat(),
            "kind": self.kind,
            "asset": self.asset,
            "amount": dec_text(self.amount),
            "value": None if self.value is None else dec_text(self.value),
        }


@dataclass(frozen=True, slots=True)
class FeeLine:
    """A fee not absorbed into a swap's basis or proceeds (an expense to report)."""

    seq: int
    time: datetime
    kind: str  # the event that paid it
    asset: str
    amount: Decimal
    value: Decimal | None


@dataclass(frozen=True, slots=True)
class OpenLot:
    """A lot still held at the end of the run."""

    asset: str
    acquired: datetime
    quantity: Decimal
    cost: Decimal


@dataclass
class LotRun:
    """Everything one pass over the events produced (details only for ``years``)."""

    disposals: list[Disposal] = field(default_factory=list)
    income: list[IncomeLine] = field(default_factory=list)
    fees: list[FeeLine] = field(default_factory=list)
    removed_basis: dict[int, Decimal] = field(default_factory=dict)
    methods: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    events: int = 0
    open_lots: dict[str, list[list[Any]]] = field(default_factory=dict)
    _holdings: dict[str, list[OpenLot]] | None = None

    @property
    def holdings(self) -> dict[str, list[OpenLot]]:
        """The lots still held at the end, per asset, oldest first (built on first use:
        a gains report does not need them)."""
        if self._holdings is None:
            self._holdings = {
                asset: sorted(
                    (OpenLot(asset, parse_time(lot[0]), lot[1], lot[2]) for lot in lots),
                    key=lambda o: o.acquired,
                )
                for asset, lots in self.open_lots.items()
            }
        return self._holdings


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Sum without rounding (Python's default 28 digits would round long amounts)."""
    with localcontext() as ctx:
        ctx.prec = ENGINE_PRECISION
        return sum(values, ZERO)


def share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """``total * part / whole`` rounded to ``SHARE_QUANTUM`` (call inside the engine's
    context)."""
    return (total * part / whole).quantize(SHARE_QUANTUM)


# A lot is a mutable list for speed: [acquired (ISO text), quantity, cost, seq].
Lot = list[Any]


class _Book:
    """The lots of one asset under one method."""

    __slots__ = ("acb_cost", "acb_qty", "heap", "lots", "method")

    def __init__(self, method: str, lots: Iterable[Lot] = ()) -> None:
        self.method = method
        ordered = sorted(lots, key=lambda lot: (lot[0], lot[3]))
        self.lots: deque[Lot] = deque()
        self.heap: list[tuple[Decimal, str, int, Lot]] = []
        self.acb_qty = ZERO
        self.acb_cost = ZERO
        for lot in ordered:
            self.add(lot)

    def add(self, lot: Lot) -> None:
        if self.method == "hifo":
            heapq.heappush(self.heap, (-(lot[2] / lot[1]), lot[0], lot[3], lot))
        else:
            self.lots.append(lot)
            if self.method == "acb":
                self.acb_qty += lot[1]
                self.acb_cost += lot[2]

    def all_lots(self) -> list[Lot]:
        """The lots, each with its own cost (the average cost when under ``acb``).
        The book must not be used after this (its lots are shared)."""
        if self.method == "hifo":
            return [entry[3] for entry in self.heap]
        if self.method != "acb":
            return list(self.lots)
        lots = [list(lot) for lot in self.lots]
        if lots:
            remaining = self.acb_cost
            for lot in lots[:-1]:
                lot[2] = share(self.acb_cost, lot[1], self.acb_qty)
                remaining -= lot[2]
            lots[-1][2] = remaining
        return lots

    def _next(self) -> Lot | None:
        if self.method == "hifo":
            return self.heap[0][3] if self.heap else None
        if not self.lots:
            return None
        return self.lots[-1] if self.method == "lifo" else self.lots[0]

    def _drop(self) -> None:
        if self.method == "hifo":
            heapq.heappop(self.heap)
        elif self.method == "lifo":
            self.lots.pop()
        else:
            self.lots.popleft()

    def take(self, qty: Decimal) -> tuple[list[tuple[str, Decimal, Decimal]], Decimal]:
        """Remove ``qty``: the pieces taken ``(acquired, quantity, basis)`` and the
        quantity that could not be found."""
        pieces: list[tuple[str, Decimal, Decimal]] = []
        left = qty
        acb = self.method == "acb"
        if acb and self.acb_qty > 0:
            taking = min(qty, self.acb_qty)
            basis_total = (
                self.acb_cost
                if taking == self.acb_qty
                else share(self.acb_cost, taking, self.acb_qty)
            )
            self.acb_qty -= taking
            self.acb_cost -= basis_total
        while left > 0:
            lot = self._next()
            if lot is None:
                break
            if lot[1] <= left:
                self._drop()
                pieces.append((lot[0], lot[1], lot[2]))
                left -= lot[1]
            else:
                basis = share(lot[2], left, lot[1])
                lot[1] -= left
                lot[2] -= basis
                pieces.append((lot[0], left, basis))
                left = ZERO
        if acb and pieces:
            # Holding periods came from the FIFO queue; the basis is the average.
            taken = qty - left
            remaining = basis_total
            shared = []
            for i, (acquired, q, _) in enumerate(pieces):
                b = remaining if i == len(pieces) - 1 else share(basis_total, q, taken)
                remaining -= b
                shared.append((acquired, q, b))
            pieces = shared
        return pieces, left


class LotEngine:
    """Replays movements (``ledger.MOVEMENT_COLUMNS`` tuples) into lots and gains.

    Args:
        method_for: the method of each tax year (``fifo`` when absent).
        years: tax years whose detail lines are kept (None: all).
        fiat: the ledger's fiat (never tracked in lots).
    """

    def __init__(
        self,
        method_for: Mapping[int, str] | Callable[[int], str],
        *,
        years: Iterable[int] | None = None,
        fiat: str = "USD",
    ) -> None:
        if callable(method_for):
            self._method_for: Callable[[int], str] = method_for
        else:
            chosen = dict(method_for)
            self._method_for = lambda year: chosen.get(year, "fifo")
        self._years = None if years is None else frozenset(years)
        self._fiat = fiat
        self._books: dict[str, _Book] = {}
        self._year: int | None = None
        self._method = "fifo"
        self.run = LotRun()

    # -- public ---------------------------------------------------------------------------

    def feed(self, movements: Iterable[tuple[Any, ...]]) -> LotRun:
        # The replay allocates millions of small objects and creates no reference
        # cycles: the cyclic garbage collector would only rescan the growing lot lists
        # over and over (a third of the run time on a million events).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._feed(movements)
        finally:
            if collecting:
                gc.enable()

    def _feed(self, movements: Iterable[tuple[Any, ...]]) -> LotRun:
        with localcontext() as ctx:
            ctx.prec = ENGINE_PRECISION
            for row in movements:
                self._one(row)
            for asset, book in self._books.items():
                lots = book.all_lots()
                if lots:
                    self.run.open_lots[asset] = lots
        return self.run

    # -- internals ------------------------------------------------------------------------

    def _warn(self, text: str) -> None:
        self.run.warning_count += 1
        if len(self.run.warnings) < _MAX_WARNINGS:
            self.run.warnings.append(text)

    def _set_year(self, year: int) -> None:
        self._year = year
        method = self._method_for(year)
        self.run.methods[year] = method
        if method != self._method:
            self._books = {
                asset: _Book(method, book.all_lots()) for asset, book in self._books.items()
            }
            self._method = method

    def _book(self, asset: str) -> _Book:
        book = self._books.get(asset)
        if book is None:
            book = self._books[asset] = _Book(self._method)
        return book

    def _tracked(self, asset: str | None) -> bool:
        return asset is not None and asset.upper() not in FIATS

    def _one(self, row: tuple[Any, ...]) -> None:
        (
            seq,
            kind,
            time,
            asset,
            amount,
            c_asset,
            c_amount,
            f_asset,
            f_amount,
            value,
            f_value,
            _fiat,
        ) = row
        year = int(time[:4])
        if year != self._year:
            self._set_year(year)
        self.run.events += 1
        keep = self._years is None or year in self._years
        # Decimals may arrive as exact text (straight from SQLite): convert what is used.
        amount = Decimal(amount)
        if value is None:
            v = ZERO
            if kind not in ("stake", "unstake", "withdrawal"):
                self._warn(f"event #{seq} ({kind} {amount} {asset}) has no value: counted as 0")
        else:
            v = Decimal(value)
        if c_amount is not None:
            c_amount = Decimal(c_amount)
        fv = ZERO
        if f_asset is not None:
            f_amount = Decimal(f_amount)
            if f_value is not None:
                fv = Decimal(f_value)
            elif f_amount:
                self._warn(f"event #{seq}: fee {f_amount} {f_asset} has no value: counted as 0")
        when: datetime | None = None

        if kind in SWAP_KINDS:
            buys_fiat = not self._tracked(asset)
            if self._tracked(c_asset):
                when = parse_time(time)
                proceeds = v - fv if buys_fiat else v
                self._dispose(seq, kind, c_asset, c_amount, proceeds, when, keep)
            if not buys_fiat:
                self._book(asset).add([time, amount, v + fv, seq])
            if f_asset is not None and self._tracked(f_asset) and f_amount:
                when = when or parse_time(time)
                self._dispose(seq, "fee", f_asset, f_amount, fv, when, keep)
            return
        if kind in INCOME_KINDS:
            if keep:
                self.run.income.append(
                    IncomeLine(
                        seq, parse_time(time), kind, asset, amount, None if value is None else v
                    )
                )
            if self._tracked(asset):
                self._book(asset).add([time, amount, v, seq])
        elif kind == "deposit":
            if self._tracked(asset):
                self._book(asset).add([time, amount, v, seq])
        elif kind == "withdrawal":
            if self._tracked(asset):
                pieces, missing = self._book(asset).take(amount)
                removed = exact_sum(p[2] for p in pieces)
                self.run.removed_basis[year] = self.run.removed_basis.get(year, ZERO) + removed
                if missing:
                    self._warn(
                        f"event #{seq}: withdrawal of {amount} {asset} exceeds the holdings "
                        f"by {missing}: an acquisition is missing from the ledger"
                    )
        elif kind == "gas_fee":
            when = parse_time(time)
            if keep:
                self.run.fees.append(
                    FeeLine(seq, when, kind, asset, amount, None if value is None else v)
                )
            if self._tracked(asset):
                self._dispose(seq, "fee", asset, amount, v, when, keep)
            return
        # stake / unstake: nothing moves between lots.
        if f_asset is not None and f_amount:
            when = parse_time(time)
            if keep:
                self.run.fees.append(
                    FeeLine(seq, when, kind, f_asset, f_amount, None if f_value is None else fv)
                )
            if self._tracked(f_asset):
                self._dispose(seq, "fee", f_asset, f_amount, fv, when, keep)

    def _dispose(
        self,
        seq: int,
        kind: str,
        asset: str,
        qty: Decimal,
        proceeds: Decimal,
        when: datetime,
        keep: bool,
    ) -> None:
        pieces, missing = self._book(asset).take(qty)
        if missing:
            self._warn(
                f"event #{seq}: disposal of {qty} {asset} exceeds the holdings by {missing} "
                "(reported with zero basis): an acquisition is missing from the ledger"
            )
        if not keep:
            return
        method = self._method
        lines = self.run.disposals
        remaining = proceeds
        count = len(pieces) + (1 if missing else 0)
        for i, (acquired_text, q, basis) in enumerate(pieces):
            part = remaining if i == count - 1 else share(proceeds, q, qty)
            remaining -= part
            acquired = parse_time(acquired_text)
            term = "long" if when - acquired > LONG_TERM else "short"
            lines.append(Disposal(seq, kind, asset, q, acquired, when, part, basis, term, method))
        if missing:
            lines.append(
                Disposal(
                    seq,
                    kind,
                    asset,
                    missing,
                    None,
                    when,
                    remaining,
                    ZERO,
                    "short",
                    method,
                    missing=True,
                )
            )


def replay(
    movements: Iterable[tuple[Any, ...]],
    method_for: Mapping[int, str] | Callable[[int], str],
    *,
    years: Iterable[int] | None = None,
    fiat: str = "USD",
) -> LotRun:
    """One pass of the lot engine over ``movements`` (see ``LotEngine``)."""
    return LotEngine(method_for, years=years, fiat=fiat).feed(movements)
