"""Event exports: realyield's generic CSV, Koinly universal and CoinTracker CSV.

Mapping to the two-sided formats: the received side is ``asset``/``amount`` of
deposits, income, unstakes and swaps; the sent side is ``asset``/``amount`` of
withdrawals, stakes and gas fees, and ``counter_*`` of swaps. Labels and tags say what
income is (Koinly ``Reward``/``Lending interest``/``Income``/``Airdrop``; CoinTracker
``staking``/``interest``/``income``/``airdrop``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from realyield.portfolio.events import INCOME_KINDS, SWAP_KINDS, LedgerEvent, format_time
from realyield.portfolio.exports.csvtext import write_csv
from realyield.portfolio.imports import cointracker, generic, koinly

_RECEIVED_KINDS = INCOME_KINDS | {"deposit", "unstake"}

#: A chain transaction hash: EVM (0x + 64 hex), Bitcoin-like (64 hex), Solana
#: (base58, 86-88 characters). Koinly matches its TxHash column against chains.
_CHAIN_HASH = re.compile(r"0x[0-9a-fA-F]{64}|[0-9a-fA-F]{64}|[1-9A-HJ-NP-Za-km-z]{86,88}")


def chain_hash(key: str) -> str | None:
    """The chain transaction hash an event's key carries, or None.

    Keys are realyield's own idempotency keys: a Koinly import keeps the file's hash as
    ``<hash>:<digest>``, a generic file may use the hash itself; exchange ids
    (``trade:123``) and content digests (32 hex) are not chain hashes and must not be exported
    as ones (Koinly would try to match them against the chain).
    """
    head = key.split(":", 1)[0] if key.count(":") == 1 else key
    return head if _CHAIN_HASH.fullmatch(head) else None


def _sides(
    e: LedgerEvent,
) -> tuple[Decimal | None, str | None, Decimal | None, str | None]:
    """(sent amount, sent currency, received amount, received currency)."""
    if e.kind in SWAP_KINDS:
        return e.counter_amount, e.counter_asset, e.amount, e.asset
    if e.kind in _RECEIVED_KINDS:
        return None, None, e.amount, e.asset
    return e.amount, e.asset, None, None


def generic_csv(events: Iterable[LedgerEvent]) -> str:
    """The generic CSV (imports back unchanged: same keys, same values)."""
    rows = []
    for e in events:
        d = e.as_dict()
        rows.append([d[c] for c in generic.COLUMNS])
    return write_csv(generic.COLUMNS, rows)


def koinly_csv(events: Iterable[LedgerEvent]) -> str:
    """Koinly universal CSV (UTC dates, Net Worth in the event's fiat)."""
    rows = []
    for e in events:
        sent, sent_cur, got, got_cur = _sides(e)
        description = " ".join(x for x in (e.note, e.opportunity) if x) or None
        rows.append(
            [
                e.time.strftime("%Y-%m-%d %H:%M:%S UTC"),
                sent,
                sent_cur,
                got,
                got_cur,
                e.fee_amount,
                e.fee_asset,
                e.value,
                e.fiat if e.value is not None else None,
                koinly.LABELS.get(e.kind, ""),
                description,
                chain_hash(e.key),
            ]
        )
    return write_csv(koinly.COLUMNS, rows)


def cointracker_csv(events: Iterable[LedgerEvent]) -> str:
    """CoinTracker CSV (``MM/DD/YYYY HH:MM:SS`` UTC; tags for income and staking)."""
    rows = []
    for e in events:
        sent, sent_cur, got, got_cur = _sides(e)
        rows.append(
            [
                e.time.strftime("%m/%d/%Y %H:%M:%S"),
                got,
                got_cur,
                sent,
                sent_cur,
                e.fee_amount,
                e.fee_asset,
                cointracker.TAGS.get(e.kind, ""),
            ]
        )
    return write_csv(cointracker.COLUMNS, rows)


__all__ = ["chain_hash", "cointracker_csv", "format_time", "generic_csv", "koinly_csv"]
