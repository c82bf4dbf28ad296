"""An exchange account's history (through ``realyield.exchange``) into the ledger.

Trades come from ``fetch_my_trades``; everything else from ``fetch_ledger``, whose
``trade`` entries are skipped because they are the same trades seen as balance changes
(importing both would count every trade twice). Ledger entries become deposits and
withdrawals (ccxt type ``transaction``), staking rewards (the exchange's ``staking``,
``reward`` or ``earn`` credits), interest and airdrops; other types (internal
transfers, margin, rollovers) are skipped and counted in the report.

Keys are the exchange's own ids (``trade:<id>``, ``ledger:<id>``), so syncing again
inserts only what is new. Kraken's staked-balance codes (``DOT.S``, ``ETH2.S``) are
the asset itself (``DOT``, ``ETH``): a reward in ``DOT.S`` is DOT income.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Final

from sqlalchemy import Engine

from realyield.core.errors import DataError, RecordError, shown_value
from realyield.core.parsing import AMOUNT_BOUNDS, parse_decimal, parse_timestamp
from realyield.exchange import ExchangeClient
from realyield.exchange.history import AccountTrade, Fee, LedgerEntry
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.imports.base import ImportReport, Parsed, Problem, RowEvent
from realyield.portfolio.imports.writer import write_events
from realyield.portfolio.pricing import AssetIds, PriceBook

_STAKED_SUFFIX = re.compile(r"\.(S|M|B|F|P)$")
_ALIASES: Final = {"ETH2": "ETH", "XBT": "BTC"}
REWARD_TYPES: Final = frozenset({"staking", "reward", "earn"})
INTEREST_TYPES: Final = frozenset({"interest", "lending"})


def asset_code(code: str) -> str:
    """The ledger symbol of an exchange currency code (``DOT.S`` -> ``DOT``)."""
    base = _STAKED_SUFFIX.sub("", code.strip().upper())
    return _ALIASES.get(base, base)


def _time(ms: int) -> datetime:
    """ccxt's millisecond timestamp as UTC (``FieldError`` when out of range)."""
    return parse_timestamp(ms, column="timestamp", unit="ms")


def _qty(value: Decimal, column: str) -> Decimal:
    """An exchange quantity within the plausible amounts (``FieldError`` otherwise), so
    an absurd figure from an exchange is rejected like one from a file."""
    checked = parse_decimal(value, column=column, bounds=AMOUNT_BOUNDS)
    assert checked is not None  # a Decimal is never blank
    return checked


def _fee(fee: Fee | None) -> tuple[str | None, Decimal | None]:
    if fee is None:
        return None, None
    return asset_code(fee.currency), _qty(fee.cost, "fee")


def trade_event(trade: AccountTrade, *, source: str, account: str, fiat: str) -> LedgerEvent:
    """A trade: a buy receives the base for the quote, a sell the quote for the base."""
    buy = trade.side == "buy"
    amount, cost = _qty(trade.amount, "amount"), _qty(trade.cost, "cost")
    fee_asset, fee_amount = _fee(trade.fee)
    return LedgerEvent(
        kind="trade",
        time=_time(trade.timestamp_ms),
        asset=asset_code(trade.base if buy else trade.quote),
        amount=amount if buy else cost,
        counter_asset=asset_code(trade.quote if buy else trade.base),
        counter_amount=cost if buy else amount,
        fee_asset=fee_asset,
        fee_amount=fee_amount,
        key=f"trade:{trade.id}",
        source=source,
        account=account,
        fiat=fiat,
        note=f"{trade.side} {trade.symbol}",
    )


def ledger_kind(entry: LedgerEntry) -> str | None:
    """The event kind of a ledger entry, or None when it is skipped."""
    raw = entry.raw_type.lower()
    if entry.type == "trade" or raw == "trade":
        return None
    if entry.direction == "in" and raw in REWARD_TYPES:
        return "staking_reward"
    if entry.direction == "in" and raw in INTEREST_TYPES:
        return "lending_interest"
    if entry.direction == "in" and raw == "airdrop":
        return "airdrop"
    if entry.type == "transaction" or raw in ("deposit", "withdrawal"):
        return "deposit" if entry.direction == "in" else "withdrawal"
    return None


def _entry_event(
    entry: LedgerEntry, kind: str, *, source: str, account: str, fiat: str
) -> LedgerEvent:
    fee_asset, fee_amount = _fee(entry.fee)
    return LedgerEvent(
        kind=kind,
        time=_time(entry.timestamp_ms),
        asset=asset_code(entry.currency),
        amount=_qty(entry.amount, "amount"),
        fee_asset=fee_asset,
        fee_amount=fee_amount,
        key=f"ledger:{entry.id}",
        source=source,
        account=account,
        fiat=fiat,
        note=f"{entry.raw_type} {entry.reference_id or ''}".strip(),
    )


def _one(number: int, what: str, build: Callable[[], LedgerEvent]) -> Parsed:
    """The event of one trade or entry, or a ``Problem`` naming it (never fatal)."""
    try:
        return RowEvent(number, build())
    except RecordError as exc:
        return Problem(number, f"{what}: {exc.field} {shown_value(exc.value)}: {exc.problem}")
    except (DataError, ArithmeticError, ValueError) as exc:
        return Problem(number, f"{what}: {shown_value(str(exc), 300)}")


def events_from_history(
    trades: Iterable[AccountTrade],
    entries: Iterable[LedgerEntry],
    *,
    source: str,
    account: str,
    fiat: str,
    skipped: Counter[str],
) -> Iterator[Parsed]:
    """Ledger events of an account's trades and ledger entries, in time order; a
    trade or entry that cannot become an event (a zero amount, a timestamp out of
    range) is a ``Problem`` numbered by its position (trades first, then entries)."""
    items: list[Parsed] = []
    number = 0
    for t in trades:
        number += 1
        items.append(
            _one(
                number,
                f"trade {shown_value(t.id, 40)}",
                partial(trade_event, t, source=source, account=account, fiat=fiat),
            )
        )
    for entry in entries:
        number += 1
        kind = ledger_kind(entry)
        if kind is None:
            skipped[entry.raw_type or entry.type or "unknown"] += 1
            continue
        if entry.amount.is_finite() and entry.amount <= 0:
            skipped["zero amount"] += 1
            continue
        items.append(
            _one(
                number,
                f"ledger entry {shown_value(entry.id, 40)}",
                partial(_entry_event, entry, kind, source=source, account=account, fiat=fiat),
            )
        )
    good = sorted(
        (i for i in items if isinstance(i, RowEvent)), key=lambda r: (r.event.time, r.event.key)
    )
    yield from (i for i in items if isinstance(i, Problem))
    yield from good


def sync_exchange(
    engine: Engine,
    client: ExchangeClient,
    *,
    since: datetime | None = None,
    account: str | None = None,
    fiat: str = "USD",
    max_price_age_days: float = 3.0,
    batch_size: int = 5000,
) -> tuple[ImportReport, Counter[str]]:
    """Fetch the account's trades and ledger (all pages) and store them idempotently;
    return the report and the skipped ledger types.

    Raises:
        SourceError / TemporarySourceError: the exchange failed (nothing is stored for
            a fetch that failed: fetching completes before writing).
        Nothing for a malformed trade or entry: it is rejected alone (the report
        lists it) and the rest is stored.
    """
    exchange_id = client.exchange_id
    trades = client.fetch_my_trades(since)
    entries = client.fetch_ledger(since)
    source = f"ccxt:{exchange_id}"
    skipped: Counter[str] = Counter()
    report = ImportReport(format="ccxt", origin=exchange_id)
    parsed = events_from_history(
        trades, entries, source=source, account=account or exchange_id, fiat=fiat, skipped=skipped
    )
    write_events(
        engine,
        parsed,
        report,
        source=source,
        account=account or exchange_id,
        digest=None,
        book=PriceBook.from_store(engine, max_age=timedelta(days=max_price_age_days)),
        ids=AssetIds.from_store(engine),
        batch_size=batch_size,
    )
    return report, skipped


__all__ = ["Problem", "asset_code", "events_from_history", "ledger_kind", "sync_exchange"]
