"""Daily candles: the typed record ccxt's ``[ms, open, high, low, close, volume]`` rows become.

Why a record of our own: ccxt rows are untyped lists keyed by millisecond timestamps
and may hold ``None``; downstream code wants a calendar day and plain floats that were
checked once, here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

from realyield.core.errors import DataError

DAY_MS: Final = 86_400_000
"""One UTC day in milliseconds (ccxt timestamps are milliseconds since the epoch)."""

USD_QUOTES: Final = frozenset({"USD", "USDT", "USDC"})
"""Quote currencies whose prices are taken as US dollars (stablecoins at par)."""

_EPOCH: Final = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Candle:
    """One complete daily candle of a market, in the market's quote currency.

    ``day`` is the UTC calendar day the candle covers (it opens at 00:00 UTC of
    ``day``); ``volume`` is in the base currency, as exchanges report it.
    """

    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float


def day_start_ms(day: date) -> int:
    """Milliseconds since the epoch at 00:00 UTC of ``day``."""
    return (day - _EPOCH).days * DAY_MS


def ms_to_day(ms: int) -> date:
    """The UTC calendar day containing the millisecond timestamp ``ms``."""
    return _EPOCH + timedelta(days=ms // DAY_MS)


def candle_from_row(row: Sequence[Any], *, exchange_id: str, symbol: str) -> tuple[int, Candle]:
    """Turn one ccxt OHLCV row into ``(timestamp_ms, Candle)``.

    Raises:
        DataError: if the row is short, a field is missing or not a finite number, a
            price is not positive, the volume is negative, or the candle does not
            start at 00:00 UTC (its open would then not be the 00:00 UTC price).
    """
    where = f"{exchange_id} daily candle of {symbol}"
    if len(row) < 6:
        raise DataError(f"{where}: expected [ms, open, high, low, close, volume], got {row!r}")
    ts = row[0]
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise DataError(f"{where}: timestamp {ts!r} is not integer milliseconds")
    if ts % DAY_MS != 0:
        opened = datetime.fromtimestamp(ts / 1000, UTC).isoformat()
        raise DataError(
            f"{where} opens at {opened}, not 00:00 UTC: its open is not the 00:00 UTC "
            "price of the day; use an exchange whose daily candles start at midnight UTC"
        )
    values: list[float] = []
    for name, value in zip(("open", "high", "low", "close", "volume"), row[1:6], strict=True):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{where} at {ms_to_day(ts)}: {name} = {value!r} is not a number")
        number = float(value)
        if not math.isfinite(number):
            raise DataError(f"{where} at {ms_to_day(ts)}: {name} = {value!r} is not finite")
        too_low = number < 0 if name == "volume" else number <= 0
        if too_low:
            raise DataError(f"{where} at {ms_to_day(ts)}: {name} = {value!r} is out of range")
        values.append(number)
    open_, high, low, close, volume = values
    return ts, Candle(ms_to_day(ts), open_, high, low, close, volume)
