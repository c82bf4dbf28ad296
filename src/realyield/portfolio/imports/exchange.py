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
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import Engine

from realyield.exchange import ExchangeClient
from realyield.exchange.history import AccountTrade, LedgerEntry
from realyield.portfolio.events import LedgerEvent
from realyield.portfolio.imports.base import ImportReport, Parsed, Problem, write_events
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
    return datetime.fromtimestamp(ms / 1000, UTC)


def trade_event(trade: AccountTrade, *, source: str, account: str, fiat: str) -> LedgerEvent:
    """A trade: a buy receives the base for the quote, a sell the quote for the base."""
    buy = trade.side == "buy"
    return LedgerEvent(
        kind="trade",
        time=_time(trade.timestamp_ms),
        asset=asset_code(trade.base if buy else trade.quote),
        amount=trade.amount if buy else trade.cost,
        counter_asset=asset_code(trade.quote if buy else trade.base),
        counter_amount=trade.cost if buy else trade.amount,
        fee_asset=asset_code(trade.fee.currency) if trade.fee else None,
        fee_amount=trade.fee.cost if trade.fee else None,
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


def events_from_history(
    trades: Iterable[AccountTrade],
    entries: Iterable[LedgerEntry],
    *,
    source: str,
    account: str,
    fiat: str,
    skipped: Counter[str],
) -> Iterator[Parsed]:
    """Ledger events of an account's trades and ledger entries, in time order."""
    events: list[LedgerEvent] = [
        trade_event(t, source=source, account=account, fiat=fiat) for t in trades
    ]
    for entry in entries:
        kind = ledger_kind(entry)
        if kind is None:
            skipped[entry.raw_type or entry.type or "unknown"] += 1
            continue
        if entry.amount <= 0:
            skipped["zero amount"] += 1
            continue
        events.append(
            LedgerEvent(
                kind=kind,
                time=_time(entry.timestamp_ms),
                asset=asset_code(entry.currency),
                amount=entry.amount,
                fee_asset=asset_code(entry.fee.currency) if entry.fee else None,
                fee_amount=entry.fee.cost if entry.fee else None,
                key=f"ledger:{entry.id}",
                source=source,
                account=account,
                fiat=fiat,
                note=f"{entry.raw_type} {entry.reference_id or ''}".strip(),
            )
        )
    events.sort(key=lambda e: (e.time, e.key))
    yield from events


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
        DataError: a malformed trade or entry.
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
