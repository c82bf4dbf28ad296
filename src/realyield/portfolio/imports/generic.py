"""realyield's own generic CSV: one event per row, every field of ``LedgerEvent``.

Columns (docs/ledger.md): ``time,kind,asset,amount`` are required;
``counter_asset,counter_amount,fee_asset,fee_amount,value,fee_value,fiat,opportunity,
source,account,key,note`` are optional. ``time`` is ISO 8601 (no offset means UTC). Without
a ``key`` the key is a hash of the economic fields, so re-importing is idempotent.
The export writes exactly these columns, so an export imports back unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial

from realyield.portfolio.events import LedgerEvent, content_key
from realyield.portfolio.imports.base import Cells, Parsed, csv_rows, guarded

COLUMNS = (
    "time",
    "kind",
    "asset",
    "amount",
    "counter_asset",
    "counter_amount",
    "fee_asset",
    "fee_amount",
    "value",
    "fee_value",
    "fiat",
    "opportunity",
    "source",
    "account",
    "key",
    "note",
)
REQUIRED = ("time", "kind", "asset", "amount")


def build_event(cells: Cells, *, source: str, account: str, fiat: str) -> LedgerEvent:
    """The event of one generic row (also what ``ledger add`` builds from its options).

    Raises:
        RowError / FieldError: a missing or unreadable cell (names the column).
        RecordError: the cells do not make a valid event.
    """
    time = cells.time("time")
    kind = cells.required("kind").lower()
    asset = cells.required("asset")
    amount = cells.decimal("amount")
    if amount is None:
        raise cells.fail("is empty", "amount")
    counter_asset = cells.text("counter_asset")
    counter_amount = cells.decimal("counter_amount")
    fee_asset = cells.text("fee_asset")
    fee_amount = cells.decimal("fee_amount")
    row_fiat = (cells.text("fiat") or fiat).upper()
    if row_fiat != fiat:
        raise cells.fail(
            f"fiat {row_fiat} differs from the ledger's fiat {fiat}: one ledger keeps "
            "one fiat (set ledger_fiat, or convert the values)",
            "fiat",
        )
    key = cells.text("key", max_len=255) or content_key(
        kind,
        time.isoformat(),
        asset,
        amount,
        counter_asset,
        counter_amount,
        fee_asset,
        fee_amount,
    )
    return LedgerEvent(
        kind=kind,
        time=time,
        asset=asset,
        amount=amount,
        key=key,
        source=cells.text("source") or source,
        account=cells.text("account") or account,
        counter_asset=counter_asset,
        counter_amount=counter_amount,
        fee_asset=fee_asset,
        fee_amount=fee_amount,
        value=cells.value("value"),
        fee_value=cells.value("fee_value"),
        fiat=fiat,
        opportunity=cells.text("opportunity", max_len=200),
        note=cells.text("note"),
    )


def parse(
    lines: Iterable[str],
    *,
    source: str,
    account: str,
    fiat: str,
    decimal_comma: bool = False,
) -> Iterator[Parsed]:
    """Events (or row problems) from the lines of a generic CSV."""

    rows = csv_rows(lines, REQUIRED, "generic ledger CSV", decimal_comma=decimal_comma)
    return guarded(rows, partial(build_event, source=source, account=account, fiat=fiat))
