"""Fair-market value of ledger events from the store's daily prices.

Why the nearest *earlier* price: a value known at the moment of receipt can only come
from a price published at or before it (no look-ahead). Stored prices are daily points
at 00:00 UTC (``PricePoint``'s convention), so an event at 15:00 is valued at that
day's price, 15 hours old. The age is recorded on the event, and past
``max_age`` the event carries a warning (and the import report counts it): an old
price is better than none, but the user must see it.

Asset identity: a symbol becomes an asset id through the packaged token facts
(``reference.token_facts``: ``ETH`` -> ``ethereum``, ``WETH.e`` -> ``weth``),
then through the stored assets' symbols; the raw symbol is always kept on the event.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, select

from realyield.core.money import to_decimal
from realyield.portfolio.events import MOVE_KINDS, LedgerEvent, is_fiat
from realyield.reference import token_facts
from realyield.store import schema
from realyield.universe.repository import SOURCE_PRIORITY


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """A stored daily price used to value an event, and how old it was."""

    price: Decimal
    day: date
    age_s: int
    source: str


class AssetIds:
    """Symbol -> asset id, from token facts first, then the stored assets' symbols."""

    def __init__(self, stored: Mapping[str, str] | None = None) -> None:
        self._stored = {k.upper(): v for k, v in (stored or {}).items()}
        self._cache: dict[str, str | None] = {}

    @classmethod
    def from_store(cls, engine: Engine) -> AssetIds:
        with engine.connect() as conn:
            rows = conn.execute(select(schema.assets.c.symbol, schema.assets.c.id)).all()
        return cls({symbol: asset_id for symbol, asset_id in rows})

    def __call__(self, symbol: str | None) -> str | None:
        if symbol is None or is_fiat(symbol):
            return None
        key = symbol.strip().upper()
        if key in self._cache:
            return self._cache[key]
        facts = token_facts(key)
        found = facts.asset_id if facts is not None and facts.asset_id else self._stored.get(key)
        self._cache[key] = found
        return found


class PriceBook:
    """Daily USD prices per asset id, answering "the price at or before this instant".

    Args:
        series: per asset id, ``(day, price, source)`` points (any order; for a day
            present in several sources the highest-priority source wins).
        max_age: prices older than this are still used but flagged.
    """

    def __init__(
        self,
        series: Mapping[str, Iterable[tuple[date, Decimal, str]]],
        *,
        max_age: timedelta = timedelta(days=3),
        loader: Callable[[str], Iterable[tuple[date, Decimal, str]]] | None = None,
    ) -> None:
        self.max_age = max_age
        self._loader = loader
        self._days: dict[str, list[int]] = {}
        self._points: dict[str, list[tuple[Decimal, date, str]]] = {}
        for asset_id, points in series.items():
            self._add(asset_id, points)

    def _add(self, asset_id: str, points: Iterable[tuple[date, Decimal, str]]) -> None:
        best: dict[date, tuple[Decimal, str]] = {}
        for day, price, source in points:
            if price <= 0:
                continue
            current = best.get(day)
            if current is None or _rank(source) < _rank(current[1]):
                best[day] = (price, source)
        ordered = sorted(best)
        self._days[asset_id] = [d.toordinal() for d in ordered]
        self._points[asset_id] = [(best[d][0], d, best[d][1]) for d in ordered]

    @classmethod
    def from_store(cls, engine: Engine, *, max_age: timedelta = timedelta(days=3)) -> PriceBook:
        """A book that loads an asset's stored daily prices (every source, the best one
        per day) the first time the asset is asked for."""

        def load(asset_id: str) -> list[tuple[date, Decimal, str]]:
            t = schema.prices
            stmt = select(t.c.date, t.c.price_usd, t.c.source).where(t.c.asset_id == asset_id)
            with engine.connect() as conn:
                return [
                    (_as_date(day), to_decimal(price, what=f"price of {asset_id}"), source)
                    for day, price, source in conn.execute(stmt)
                ]

        return cls({}, max_age=max_age, loader=load)

    def quote(self, asset_id: str, when: datetime) -> PriceQuote | None:
        """The latest price at or before ``when`` (a day's price is its 00:00 UTC price)."""
        days = self._days.get(asset_id)
        if days is None and self._loader is not None:
            self._add(asset_id, self._loader(asset_id))
            days = self._days[asset_id]
        if not days:
            return None
        i = bisect.bisect_right(days, when.astimezone(UTC).date().toordinal()) - 1
        if i < 0:
            return None
        price, day, source = self._points[asset_id][i]
        age = when - datetime(day.year, day.month, day.day, tzinfo=UTC)
        return PriceQuote(price, day, int(age.total_seconds()), source)


def _rank(source: str) -> int:
    return int(SOURCE_PRIORITY.get(source, 5))


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _age_text(seconds: int) -> str:
    return f"{seconds / 86400:.1f} days"


def value_event(event: LedgerEvent, book: PriceBook, ids: AssetIds) -> LedgerEvent:
    """The event with asset ids and, where missing, fair-market values filled in.

    A value already on the event (from the file) is kept and marked as given. Stakes
    and unstakes are not valued (they are not taxable). Otherwise: a fiat leg in the
    event's fiat is its own value; then the stored price of the received asset; for
    swaps, then the price of the given asset. The fee's value is found the same way.
    Old or missing prices set ``warning``.

    Raises:
        DataError: never for a missing price (that is a warning); only if the stored
            price data itself is malformed.
    """
    asset_id = event.asset_id or ids(event.asset)
    counter_id = event.counter_asset_id or ids(event.counter_asset)
    fee_id = event.fee_asset_id or ids(event.fee_asset)
    warnings: list[str] = [event.warning] if event.warning else []
    value, source, quote = event.value, event.price_source, None
    if value is not None:
        source = source or "given"
    elif event.kind in MOVE_KINDS:
        pass  # a stake or unstake is not taxable: it needs no value (and no warning)
    else:
        value, source, quote = _leg_value(event, book, asset_id, counter_id, warnings)
    fee_value = event.fee_value
    if fee_value is None and event.fee_asset is not None and event.fee_amount is not None:
        fee_value = _fee_value(event, value, book, fee_id, warnings)
    return event.with_value(
        asset_id=asset_id,
        counter_asset_id=counter_id,
        fee_asset_id=fee_id,
        value=value,
        fee_value=fee_value,
        price_source=source,
        price_date=quote.day if quote else event.price_date,
        price_age_s=quote.age_s if quote else event.price_age_s,
        warning="; ".join(warnings) or None,
    )


def _priced(
    book: PriceBook, asset_id: str | None, symbol: str, when: datetime, warnings: list[str]
) -> PriceQuote | None:
    if asset_id is None:
        return None
    quote = book.quote(asset_id, when)
    if quote is not None and quote.age_s > book.max_age.total_seconds():
        warnings.append(
            f"price of {symbol} from {quote.day} is {_age_text(quote.age_s)} old "
            f"(limit {_age_text(int(book.max_age.total_seconds()))})"
        )
    return quote


def _leg_value(
    event: LedgerEvent,
    book: PriceBook,
    asset_id: str | None,
    counter_id: str | None,
    warnings: list[str],
) -> tuple[Decimal | None, str | None, PriceQuote | None]:
    fiat = event.fiat
    if event.asset.upper() == fiat:
        return event.amount, "fiat", None
    if event.counter_asset is not None and event.counter_asset.upper() == fiat:
        assert event.counter_amount is not None
        return event.counter_amount, "fiat", None
    if fiat != "USD":
        warnings.append(
            f"no value: stored prices are USD and this event's fiat is {fiat}; give the "
            f"value in {fiat} in the import file"
        )
        return None, None, None
    quote = _priced(book, asset_id, event.asset, event.time, warnings)
    if quote is not None:
        return event.amount * quote.price, f"stored:{quote.source}", quote
    if event.counter_asset is not None and event.counter_amount is not None:
        quote = _priced(book, counter_id, event.counter_asset, event.time, warnings)
        if quote is not None:
            return event.counter_amount * quote.price, f"stored:{quote.source}:counter", quote
    missing = (
        event.asset if event.counter_asset is None else f"{event.asset} or {event.counter_asset}"
    )
    warnings.append(f"no stored price of {missing} at or before {event.time:%Y-%m-%d %H:%M} UTC")
    return None, None, None


def _fee_value(
    event: LedgerEvent,
    value: Decimal | None,
    book: PriceBook,
    fee_id: str | None,
    warnings: list[str],
) -> Decimal | None:
    assert event.fee_asset is not None and event.fee_amount is not None
    if event.fee_amount == 0:
        return Decimal(0)
    if event.fee_asset.upper() == event.fiat:
        return event.fee_amount
    if event.fiat == "USD":
        quote = _priced(book, fee_id, event.fee_asset, event.time, warnings)
        if quote is not None:
            return event.fee_amount * quote.price
    # A fee in the received or given asset of a priced swap: the swap's own rate.
    if value is not None:
        if event.fee_asset == event.asset:
            return value * event.fee_amount / event.amount
        if event.fee_asset == event.counter_asset and event.counter_amount:
            return value * event.fee_amount / event.counter_amount
    warnings.append(f"no price for the fee in {event.fee_asset}; fee value unknown")
    return None
