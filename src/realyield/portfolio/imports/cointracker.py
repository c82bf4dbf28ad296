"""CoinTracker's CSV template, in and out of the ledger.

Columns (all required, any order): ``Date, Received Quantity, Received Currency,
Sent Quantity, Sent Currency, Fee Amount, Fee Currency, Tag``. Dates are UTC,
``MM/DD/YYYY HH:MM:SS``. The file carries no values: events are valued from stored
prices. Tags are CoinTracker's lower-case CSV tags (``staking``, ``stake``,
``unstake``, ``interest``, ``airdrop``, ``fork``, ``mined``, ``payment``, ``income``;
``gift``, ``lost``, ``donation`` on sends).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from realyield.portfolio.events import LedgerEvent, content_key
from realyield.portfolio.imports.base import (
    Cells,
    Parsed,
    csv_rows,
    guarded,
    two_sided,
)

COLUMNS: Final = (
    "Date",
    "Received Quantity",
    "Received Currency",
    "Sent Quantity",
    "Sent Currency",
    "Fee Amount",
    "Fee Currency",
    "Tag",
)
DATE_FORMATS: Final = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")

RECEIVE_TAGS: Final = {
    "staking": "staking_reward",
    "unstake": "unstake",
    "interest": "lending_interest",
    "airdrop": "airdrop",
    "fork": "income",
    "mined": "income",
    "payment": "income",
    "income": "income",
}
SEND_TAGS: Final = {
    "stake": "stake",
    "gift": "withdrawal",
    "lost": "withdrawal",
    "donation": "withdrawal",
}
#: Ledger kinds -> CoinTracker tag on export ("" = untagged send/receive/trade).
TAGS: Final = {
    "staking_reward": "staking",
    "lending_interest": "interest",
    "airdrop": "airdrop",
    "lp_fee": "income",
    "income": "income",
    "stake": "stake",
    "unstake": "unstake",
}


def parse(
    lines: Iterable[str],
    *,
    source: str,
    account: str,
    fiat: str,
    decimal_comma: bool = False,
) -> Iterator[Parsed]:
    """Events (or row problems) from a CoinTracker CSV."""

    def build(cells: Cells) -> LedgerEvent:
        time = cells.time("Date", DATE_FORMATS)
        got, got_cur = cells.decimal("Received Quantity"), cells.text("Received Currency")
        sent, sent_cur = cells.decimal("Sent Quantity"), cells.text("Sent Currency")
        fee, fee_cur = cells.decimal("Fee Amount"), cells.text("Fee Currency")
        tag = (cells.text("Tag") or "").lower()
        legs = two_sided(
            cells,
            (got, got_cur),
            (sent, sent_cur),
            swap="trade",
            incoming=RECEIVE_TAGS.get(tag, "deposit"),
            outgoing=SEND_TAGS.get(tag, "withdrawal"),
        )
        return LedgerEvent(
            kind=legs.kind,
            time=time,
            asset=legs.asset,
            amount=legs.amount,
            key=content_key(time.isoformat(), got, got_cur, sent, sent_cur, fee, fee_cur, tag),
            source=source,
            account=account,
            counter_asset=legs.counter_asset,
            counter_amount=legs.counter_amount,
            fee_asset=fee_cur if fee is not None else None,
            fee_amount=fee if fee_cur is not None else None,
            fiat=fiat,
            note=f"CoinTracker tag {tag}" if tag else None,
        )

    rows = csv_rows(lines, COLUMNS, "CoinTracker CSV", decimal_comma=decimal_comma)
    return guarded(rows, build)
