"""rotki's generic events CSV (the "rotki generic events" import of rotki).

Columns: ``Type, Location, Currency, Amount, Fee, Fee Currency, Description,
Timestamp``; ``Type`` is one of Deposit, Withdrawal, Income, Loss, Spend, Staking;
``Timestamp`` is UTC Unix milliseconds (seconds are recognised by their magnitude);
``Currency`` is a rotki asset identifier (``ETH``, or ``eip155:1/erc20:0x...`` for a
token). ``Location`` becomes the account.

Spend and Loss become withdrawals (the coins leave the holdings) with a note: a spend
that was a taxable sale should be recorded as a trade to fiat.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from realyield.core.parsing import parse_timestamp
from realyield.portfolio.events import LedgerEvent, content_key
from realyield.portfolio.imports.base import Cells, Parsed, csv_rows, guarded

COLUMNS: Final = (
    "Type",
    "Location",
    "Currency",
    "Amount",
    "Fee",
    "Fee Currency",
    "Description",
    "Timestamp",
)
REQUIRED: Final = ("Type", "Location", "Currency", "Amount", "Timestamp")
TYPES: Final = {
    "deposit": "deposit",
    "withdrawal": "withdrawal",
    "income": "income",
    "staking": "staking_reward",
    "loss": "withdrawal",
    "spend": "withdrawal",
}
#: rotki identifiers of well-known Ethereum tokens -> their symbols.
KNOWN_TOKENS: Final = {
    "eip155:1/erc20:0xdac17f958d2ee523a2206206994597c13d831ec7": "USDT",
    "eip155:1/erc20:0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48": "USDC",
    "eip155:1/erc20:0x6b175474e89094c44da98b954eedeac495271d0f": "DAI",
    "eip155:1/erc20:0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2": "WETH",
    "eip155:1/erc20:0xae7ab96520de3a18e5e111b5eaab095312d7fe84": "STETH",
    "eip155:1/erc20:0x2260fac5e5542a773aa44fbcfedf7c193bc2c599": "WBTC",
}


def symbol_of(identifier: str) -> str:
    """A ledger symbol for a rotki asset identifier (known tokens by address)."""
    return KNOWN_TOKENS.get(identifier.strip().lower(), identifier.strip())


def parse(
    lines: Iterable[str],
    *,
    source: str,
    account: str,
    fiat: str,
    decimal_comma: bool = False,
) -> Iterator[Parsed]:
    """Events (or row problems) from a rotki generic events CSV."""

    def build(cells: Cells) -> LedgerEvent:
        raw_type = cells.required("Type")
        kind = TYPES.get(raw_type.lower())
        if kind is None:
            raise cells.fail(
                f"{raw_type!r} is not one of {', '.join(t.title() for t in TYPES)}", "Type"
            )
        stamp = cells.required("Timestamp", max_len=64)
        # The unit comes from the magnitude: rotki writes milliseconds, but a file
        # edited by hand often has seconds, which read as ms would be January 1970.
        time = parse_timestamp(stamp, column="Timestamp")
        currency = cells.required("Currency")
        amount = cells.decimal("Amount")
        if amount is None:
            raise cells.fail("is empty", "Amount")
        fee, fee_cur = cells.decimal("Fee"), cells.text("Fee Currency")
        location = cells.required("Location").lower()
        description = cells.text("Description")
        note = description
        if raw_type.lower() in ("spend", "loss"):
            note = f"rotki {raw_type}" + (f": {description}" if description else "")
        return LedgerEvent(
            kind=kind,
            time=time,
            asset=symbol_of(currency),
            amount=amount,
            key=content_key(raw_type.lower(), stamp, location, currency, amount, fee, fee_cur),
            source=source,
            account=location if account == "default" else account,
            fee_asset=symbol_of(fee_cur) if fee_cur and fee is not None else None,
            fee_amount=fee if fee_cur and fee is not None else None,
            fiat=fiat,
            note=note,
        )

    rows = csv_rows(lines, REQUIRED, "rotki generic events CSV", decimal_comma=decimal_comma)
    return guarded(rows, build)
