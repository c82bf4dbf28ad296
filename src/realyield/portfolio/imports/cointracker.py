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
from realyield.portfolio.imports.base import Cells, Parsed, csv_rows, guarded, parse_utc

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


def parse(lines: Iterable[str], *, source: str, account: str, fiat: str) -> Iterator[Parsed]:
    """Events (or row problems) from a CoinTracker CSV."""

    def build(cells: Cells) -> LedgerEvent:
        time = parse_utc(cells.required("Date"), DATE_FORMATS, cells.number, "Date")
        got, got_cur = cells.decimal("Received Quantity"), cells.text("Received Currency")
        sent, sent_cur = cells.decimal("Sent Quantity"), cells.text("Sent Currency")
        fee, fee_cur = cells.decimal("Fee Amount"), cells.text("Fee Currency")
        tag = (cells.text("Tag") or "").lower()
        has_got = got is not None and got_cur is not None and got > 0
        has_sent = sent is not None and sent_cur is not None and sent > 0
        if has_got and has_sent:
            kind, asset, amount, counter, counter_amount = "trade", got_cur, got, sent_cur, sent
        elif has_got:
            kind = RECEIVE_TAGS.get(tag, "deposit")
            asset, amount, counter, counter_amount = got_cur, got, None, None
        elif has_sent:
            kind = SEND_TAGS.get(tag, "withdrawal")
            asset, amount, counter, counter_amount = sent_cur, sent, None, None
        else:
            raise cells.fail("neither a received nor a sent quantity with its currency")
        return LedgerEvent(
            kind=kind,
            time=time,
            asset=str(asset),
            amount=amount,  # type: ignore[arg-type]
            key=content_key(time.isoformat(), got, got_cur, sent, sent_cur, fee, fee_cur, tag),
            source=source,
            account=account,
            counter_asset=counter,
            counter_amount=counter_amount,
            fee_asset=fee_cur if fee is not None else None,
            fee_amount=fee if fee_cur is not None else None,
            fiat=fiat,
            note=f"CoinTracker tag {tag}" if tag else None,
        )

    return guarded(csv_rows(lines, COLUMNS, "CoinTracker CSV"), build)
