"""Koinly's universal CSV template, in and out of the ledger.

Columns: ``Date, Sent Amount, Sent Currency, Received Amount, Received Currency,
Fee Amount, Fee Currency, Net Worth Amount, Net Worth Currency, Label, Description,
TxHash``. Dates are UTC (``2024-01-31 14:25 UTC``). A row with only a received side is
a deposit or, by its label, income; only a sent side, a withdrawal or a cost; both, a
trade (or a liquidity move by label). ``Net Worth`` in the ledger's fiat is the value,
except for a trade with a leg in that fiat, which is worth its fiat leg.
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
    "Sent Amount",
    "Sent Currency",
    "Received Amount",
    "Received Currency",
    "Fee Amount",
    "Fee Currency",
    "Net Worth Amount",
    "Net Worth Currency",
    "Label",
    "Description",
    "TxHash",
)
REQUIRED: Final = ("Date", "Sent Amount", "Sent Currency", "Received Amount", "Received Currency")
DATE_FORMATS: Final = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")

#: Koinly labels of incoming rows -> ledger kinds (lower case).
INCOMING: Final = {
    "reward": "staking_reward",
    "staking": "staking_reward",
    "lending interest": "lending_interest",
    "loan interest": "lending_interest",
    "interest": "lending_interest",
    "airdrop": "airdrop",
    "income": "income",
    "other income": "income",
    "mining": "income",
    "fork": "income",
    "unstake": "unstake",
}
#: Koinly labels of outgoing rows -> ledger kinds.
OUTGOING: Final = {
    "cost": "gas_fee",
    "fee": "gas_fee",
    "stake": "stake",
}
#: Labels of two-sided rows.
SWAPS: Final = {
    "liquidity in": "lp_add",
    "add to pool": "lp_add",
    "liquidity out": "lp_remove",
    "remove from pool": "lp_remove",
}
#: Ledger kinds -> Koinly label on export (the issue's Reward / Lending interest /
#: Income / Airdrop, plus the movement labels Koinly knows).
LABELS: Final = {
    "staking_reward": "Reward",
    "lending_interest": "Lending interest",
    "lp_fee": "Income",
    "income": "Income",
    "airdrop": "Airdrop",
    "gas_fee": "Cost",
    "stake": "Stake",
    "unstake": "Unstake",
    "lp_add": "Liquidity in",
    "lp_remove": "Liquidity out",
}


def parse(
    lines: Iterable[str],
    *,
    source: str,
    account: str,
    fiat: str,
    decimal_comma: bool = False,
) -> Iterator[Parsed]:
    """Events (or row problems) from a Koinly universal CSV."""

    def build(cells: Cells) -> LedgerEvent:
        time = cells.time("Date", DATE_FORMATS)
        sent, sent_cur = cells.decimal("Sent Amount"), cells.text("Sent Currency")
        got, got_cur = cells.decimal("Received Amount"), cells.text("Received Currency")
        fee, fee_cur = cells.decimal("Fee Amount"), cells.text("Fee Currency")
        label = (cells.text("Label") or "").lower()
        worth, worth_cur = cells.value("Net Worth Amount"), cells.text("Net Worth Currency")
        legs = two_sided(
            cells,
            (got, got_cur),
            (sent, sent_cur),
            swap=SWAPS.get(label, "trade"),
            incoming=INCOMING.get(label, "deposit"),
            outgoing=OUTGOING.get(label, "withdrawal"),
        )
        txhash = cells.text("TxHash")
        # A trade with a leg in the ledger's fiat is worth that leg (the fiat sent for a
        # buy, received for a sale): Koinly's "Net Worth" is its own market estimate, and
        # taking it would put the difference into the basis or the proceeds. Leaving the
        # value empty lets pricing take the fiat leg ("fiat" source).
        fiat_leg = legs.counter_asset is not None and fiat in (
            legs.asset.upper(),
            legs.counter_asset.upper(),
        )
        given = worth if worth is not None and (worth_cur or fiat).upper() == fiat else None
        digest = content_key(time.isoformat(), sent, sent_cur, got, got_cur, fee, fee_cur, label)
        return LedgerEvent(
            kind=legs.kind,
            time=time,
            asset=legs.asset,
            amount=legs.amount,
            key=f"{txhash}:{digest[:12]}" if txhash else digest,
            source=source,
            account=account,
            counter_asset=legs.counter_asset,
            counter_amount=legs.counter_amount,
            fee_asset=fee_cur if fee is not None else None,
            fee_amount=fee if fee_cur is not None else None,
            value=None if fiat_leg else given,
            fiat=fiat,
            note=cells.text("Description"),
        )

    rows = csv_rows(lines, REQUIRED, "Koinly universal CSV", decimal_comma=decimal_comma)
    return guarded(rows, build)
