"""Transfers between one's own accounts keep their cost basis and holding period.

Why: the lot engine treats a withdrawal as coins leaving (their lots go with them) and
a deposit as coins arriving (a new lot at the deposit's value and date). When both are
the same coins moving from an exchange to one's own wallet, that would reset the basis
to the day's price and restart the holding period, changing every later gain.

A withdrawal and a deposit are one transfer when:

* explicitly: both carry the same key starting with ``transfer:`` (a row of a generic
  import, or ``ledger add --key transfer:...``), in two different accounts; or
* by matching: same asset, different accounts, the deposit within ``window`` after
  the withdrawal (or up to ``skew`` before it: clocks of two sources differ), and the
  deposit's amount is the withdrawal's less at most ``max_fee`` of it (the network
  fee). Each withdrawal takes the earliest such deposit; each deposit is used once.

A matched pair moves no lots. What the transfer lost on the way (withdrawn minus
deposited, the network fee) is a ``gas_fee`` disposal of that quantity at its share of
the withdrawal's value, and a fee recorded on the withdrawal stays a fee. Unmatched
withdrawals and deposits are listed (``unmatched``) for the user to confirm: add the
missing side, or give both the same ``transfer:`` key.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Engine

from realyield.portfolio import ledger
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.lots import ZERO

WINDOW: Final = timedelta(days=3)
SKEW: Final = timedelta(minutes=30)
MAX_FEE: Final = Decimal("0.02")
EXPLICIT: Final = "transfer:"


@dataclass
class TransferMatch:
    """Matched pairs (withdrawal seq -> deposit seq) and what is left unmatched."""

    pairs: dict[int, int] = field(default_factory=dict)
    lost: dict[int, Decimal] = field(default_factory=dict)  # withdrawal seq -> fee part
    unmatched: list[LedgerEvent] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "pairs": [{"withdrawal": w, "deposit": d} for w, d in sorted(self.pairs.items())],
            "unmatched": [e.as_dict() for e in self.unmatched],
        }


def _acct(e: LedgerEvent) -> tuple[str, str]:
    return (e.source, e.account)


def match_transfers(
    events: Iterable[LedgerEvent],
    *,
    window: timedelta = WINDOW,
    skew: timedelta = SKEW,
    max_fee: Decimal = MAX_FEE,
) -> TransferMatch:
    """Pair withdrawals with deposits of the same coins into another own account."""
    withdrawals = [e for e in events if e.kind == "withdrawal"]
    deposits = [e for e in events if e.kind == "deposit"]
    withdrawals.sort(key=lambda e: (e.time, e.seq or 0))
    deposits.sort(key=lambda e: (e.time, e.seq or 0))
    used: set[int] = set()
    out = TransferMatch()

    def pair(w: LedgerEvent, d: LedgerEvent) -> None:
        assert w.seq is not None and d.seq is not None
        out.pairs[w.seq] = d.seq
        out.lost[w.seq] = w.amount - d.amount
        used.add(d.seq)

    by_key = {d.key: d for d in deposits if d.key.startswith(EXPLICIT)}
    for w in withdrawals:
        d = by_key.get(w.key) if w.key.startswith(EXPLICIT) else None
        if d is not None and _acct(d) != _acct(w) and d.amount <= w.amount:
            pair(w, d)
    by_asset: dict[str, list[LedgerEvent]] = defaultdict(list)
    for d in deposits:  # time order kept: each asset's list is sorted by time
        by_asset[d.asset.upper()].append(d)
    times = {a: [d.time for d in ds] for a, ds in by_asset.items()}
    for w in withdrawals:
        if w.seq in out.pairs:
            continue
        asset = w.asset.upper()
        candidates = by_asset.get(asset, [])
        i = bisect.bisect_left(times.get(asset, []), w.time - skew)
        for d in candidates[i:]:
            if d.time > w.time + window:
                break
            if d.seq in used or _acct(d) == _acct(w):
                continue
            if d.amount <= w.amount and w.amount - d.amount <= max_fee * w.amount:
                pair(w, d)
                break
    out.unmatched = [w for w in withdrawals if w.seq not in out.pairs] + [
        d for d in deposits if d.seq not in used
    ]
    out.unmatched.sort(key=lambda e: (e.time, e.seq or 0))
    return out


def load_match(engine: Engine, *, end: Any = None) -> TransferMatch:
    """``match_transfers`` over the ledger's active deposits and withdrawals."""
    return match_transfers(ledger.load_events(engine, end=end, kinds=["deposit", "withdrawal"]))


def apply(movements: Iterable[tuple[Any, ...]], match: TransferMatch) -> Iterator[tuple[Any, ...]]:
    """The lot engine's movement rows with each matched transfer made neutral: the
    deposit dropped, the withdrawal kept only for what was lost on the way (a gas fee)
    and for a fee recorded on it."""
    deposits = set(match.pairs.values())
    for row in movements:
        seq = row[0]
        if seq in deposits:
            continue
        if seq not in match.pairs:
            yield row
            continue
        (_, _, time, asset, amount, _, _, fee_asset, fee_amount, value, fee_value, fiat) = row
        lost = match.lost[seq]
        if lost > ZERO:
            share = None if value is None else Decimal(value) * lost / Decimal(amount)
            yield (seq, "gas_fee", time, asset, lost, None, None, None, None, share, None, fiat)
        if fee_asset is not None and fee_amount is not None:
            yield (seq, "gas_fee", time, fee_asset, fee_amount, None, None, None, None,
                   fee_value, None, fiat)  # fmt: skip


def transfer_key(tag: str) -> str:
    """The explicit key both sides of a transfer carry (``transfer:<tag>``)."""
    return f"{EXPLICIT}{tag}"


__all__ = ["TransferMatch", "apply", "load_match", "match_transfers", "transfer_key"]
