"""``ExchangeClient``: public market data from one exchange through ccxt.

Why a wrapper rather than ccxt itself: it pins the conventions the rest of realyield
relies on (daily candles keyed by UTC day, the 00:00 UTC open as the day's price, no
still-open candle), pages through history, retries only temporary failures with a
bounded exponential backoff, and turns every ccxt error into a
``realyield.core.errors`` exception that names the exchange, the operation and what to
do. It never puts credentials in its ``repr`` or in error messages.
"""

from __future__ import annotations

import difflib
import functools
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypeVar

import ccxt
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from realyield.core import clock
from realyield.core.errors import ConfigError, DataError, SourceError, TemporarySourceError
from realyield.core.model import PricePoint
from realyield.core.retry import stop_policy
from realyield.exchange.candles import USD_QUOTES, Candle, candle_from_row, day_start_ms
from realyield.exchange.history import (
    AccountTrade,
    LedgerEntry,
    page_through,
    parse_ledger_entry,
    parse_trade,
)
from realyield.exchange.translate import credential_values, has_credentials, translate_error

T = TypeVar("T")

DAILY: Final = "1d"
_ONE_DAY: Final = timedelta(days=1)


class ExchangeClient:
    """Public market data from one ccxt exchange, with our errors and retries.

    Args:
        exchange_id: a ccxt exchange id such as ``"binance"`` or ``"kraken"``.
        api: an already-built ccxt exchange object to use instead of building one (tests
            inject one with a recorded ``fetch``; execution may inject one with keys).
        timeout_s: per-request timeout in seconds (used when the client builds ``api``).
        max_attempts: total tries of an operation that fails temporarily (>= 1).
        backoff_s: first wait between tries; it doubles each retry, capped at
            ``max_backoff_s``.
        sleep: how to wait between tries (tests pass a recorder instead of sleeping).

    Raises:
        ConfigError: unknown exchange id, an ``api`` for another exchange, or a
            non-positive timeout / attempt count / negative backoff.
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        api: Any = None,
        timeout_s: float = 20.0,
        max_attempts: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(timeout_s, (int, float)) or not (0 < timeout_s < math.inf):
            raise ConfigError(f"timeout_s = {timeout_s!r}: give a positive number of seconds")
        if not isinstance(max_attempts, int) or max_attempts < 1:
            raise ConfigError(f"max_attempts = {max_attempts!r}: give an integer >= 1")
        if backoff_s < 0 or max_backoff_s < 0:
            raise ConfigError(
                f"backoff_s = {backoff_s!r}, max_backoff_s = {max_backoff_s!r}: must be >= 0"
            )
        if api is None:
            _check_exchange_id(exchange_id)
            api = getattr(ccxt, exchange_id)(
                {"enableRateLimit": True, "timeout": round(timeout_s * 1000)}
            )
        elif getattr(api, "id", None) != exchange_id:
            raise ConfigError(
                f"ExchangeClient({exchange_id!r}) was given a ccxt object for "
                f"{getattr(api, 'id', None)!r}; pass the matching exchange id"
            )
        self._exchange_id = exchange_id
        self._api = api
        self._timeout_s = float(timeout_s)
        self._max_attempts = max_attempts
        self._backoff_s = float(backoff_s)
        self._max_backoff_s = float(max_backoff_s)
        self._sleep = sleep
        self._markets: dict[str, Mapping[str, Any]] | None = None

    def __repr__(self) -> str:
        credentials = "set" if has_credentials(self._api) else "none"
        return (
            f"ExchangeClient(exchange_id={self._exchange_id!r}, timeout_s={self._timeout_s:g}, "
            f"credentials={credentials}, markets_loaded={self._markets is not None})"
        )

    @classmethod
    def with_credentials(
        cls,
        exchange_id: str,
        *,
        api_key: str,
        secret: str,
        password: str | None = None,
        timeout_s: float = 20.0,
        **kwargs: Any,
    ) -> ExchangeClient:
        """A client that can read the account's private history (keys are never shown).

        Raises:
            ConfigError: unknown exchange id, or an empty key or secret.
        """
        _check_exchange_id(exchange_id)
        if not api_key or not secret:
            raise ConfigError(
                f"{exchange_id}: private history needs an API key and secret (read-only "
                f"permissions are enough); set REALYIELD_{exchange_id.upper()}_API_KEY and "
                f"REALYIELD_{exchange_id.upper()}_SECRET in the environment"
            )
        config: dict[str, Any] = {
            "enableRateLimit": True,
            "timeout": round(timeout_s * 1000),
            "apiKey": api_key,
            "secret": secret,
        }
        if password:
            config["password"] = password
        api = getattr(ccxt, exchange_id)(config)
        return cls(exchange_id, api=api, timeout_s=timeout_s, **kwargs)

    @property
    def exchange_id(self) -> str:
        """The ccxt id of the exchange this client talks to."""
        return self._exchange_id

    def markets(self) -> Mapping[str, Mapping[str, Any]]:
        """The exchange's markets by unified symbol (``"BTC/USDT"``), loaded once and cached.

        Raises:
            TemporarySourceError: (or ``SourceUnavailableError``) if loading kept
                failing temporarily after all attempts.
            SourceError: any other failure of the exchange.
        """
        if self._markets is None:
            loaded: Mapping[str, Mapping[str, Any]] = self._call(
                "load markets", self._api.load_markets
            )
            self._markets = dict(loaded)
        return self._markets

    def fetch_daily_ohlcv(
        self,
        symbol: str,
        since: date,
        until: date | None = None,
        *,
        page_limit: int = 500,
    ) -> list[Candle]:
        """Complete daily candles of ``symbol`` for the UTC days ``since`` .. ``until``.

        Pages forward from ``since`` (``page_limit`` candles per request), each page
        starting just after the last candle returned; stops at an empty page, a page
        with nothing new, or a page reaching past ``until``. Candles are deduplicated
        by day and sorted. The still-open candle of the current UTC day
        (``core.clock.today()``) is never returned, so ``until`` defaults to yesterday.
        A history that starts after ``since`` (listing date, or an exchange that only
        serves recent candles, e.g. Kraken's last 720) is returned as it is.

        Raises:
            ConfigError: ``since``/``until`` not dates or ``page_limit`` < 1.
            DataError: unknown symbol, ``until`` before ``since``, or a malformed candle.
            SourceError: the exchange offers no daily OHLCV, or failed for good.
            TemporarySourceError: temporary failures persisted through all attempts.
        """
        _check_day("since", since)
        if until is not None:
            _check_day("until", until)
            if until < since:
                raise DataError(f"until {until} is before since {since}: swap or fix the dates")
        if isinstance(page_limit, bool) or not isinstance(page_limit, int) or page_limit < 1:
            raise ConfigError(f"page_limit = {page_limit!r}: give an integer >= 1")
        self._require_ohlcv()
        self._market(symbol)
        last_day = clock.today() - _ONE_DAY
        if until is not None:
            last_day = min(last_day, until)
        if since > last_day:
            return []

        operation = f"fetch daily OHLCV of {symbol}"
        by_day: dict[date, Candle] = {}
        cursor = day_start_ms(since)
        while True:
            fetch = functools.partial(self._api.fetch_ohlcv, symbol, DAILY, cursor, page_limit)
            start = datetime.fromtimestamp(cursor / 1000, UTC).isoformat(timespec="seconds")
            page: list[list[Any]] = self._call(f"{operation} from {start}", fetch)
            if not page:
                break
            added = 0
            newest_ms = cursor - 1
            passed_end = False
            for row in page:
                ts, candle = candle_from_row(row, exchange_id=self._exchange_id, symbol=symbol)
                newest_ms = max(newest_ms, ts)
                if candle.day > last_day:
                    passed_end = True
                elif candle.day >= since and candle.day not in by_day:
                    by_day[candle.day] = candle
                    added += 1
            if passed_end or added == 0:
                break
            cursor = newest_ms + 1
        return [by_day[day] for day in sorted(by_day)]

    def daily_prices(
        self, symbol: str, asset_id: str, since: date, until: date | None = None
    ) -> list[PricePoint]:
        """Daily USD prices of ``asset_id`` from the ``symbol`` market's daily candles.

        The price of day D is the OPEN of the candle starting 00:00 UTC D, i.e. the
        00:00 UTC price of D (the convention of ``PricePoint`` and of CoinGecko's daily
        points). ``volume_usd`` is the base volume times the close. Only USD, USDT and
        USDC quotes are accepted (stablecoins taken at par): a price in another quote
        currency is not a USD price.

        Raises:
            DataError: unknown symbol, a quote that is not USD/USDT/USDC, or bad candles.
            (and everything ``fetch_daily_ohlcv`` raises)
        """
        quote = self._market(symbol).get("quote")
        if quote not in USD_QUOTES:
            raise DataError(
                f"{self._exchange_id} market {symbol} is quoted in {quote!r}, not USD: its "
                f"prices are not USD prices; use a {'/'.join(sorted(USD_QUOTES))} pair "
                "for this asset"
            )
        return [
            PricePoint(
                asset_id=asset_id,
                date=candle.day,
                price_usd=candle.open,
                volume_usd=candle.volume * candle.close,
            )
            for candle in self.fetch_daily_ohlcv(symbol, since, until)
        ]

    def fetch_my_trades(
        self, since: datetime | None = None, *, symbol: str | None = None, page_limit: int = 50
    ) -> list[AccountTrade]:
        """Every trade of the account since ``since`` (all pages, deduplicated, oldest
        first). Needs credentials (``with_credentials``).

        Raises:
            SourceError: the exchange has no ``fetchMyTrades``, rejected the keys, or
                failed for good. DataError: a malformed trade.
        """
        self._require("fetchMyTrades", "fetch my trades")
        items = page_through(
            self._exchange_id,
            "fetch my trades",
            self._call,
            self._api.fetch_my_trades,
            since_ms=_ms(since),
            page_limit=page_limit,
            args=(symbol,),
        )
        return [parse_trade(item, self._exchange_id) for item in items]

    def fetch_ledger(
        self, since: datetime | None = None, *, code: str | None = None, page_limit: int = 50
    ) -> list[LedgerEntry]:
        """Every balance change of the account since ``since`` (deposits, withdrawals,
        staking rewards, trades...), all pages, deduplicated, oldest first.

        Raises:
            SourceError: the exchange has no ``fetchLedger``, rejected the keys, or
                failed for good. DataError: a malformed entry.
        """
        self._require("fetchLedger", "fetch ledger")
        items = page_through(
            self._exchange_id,
            "fetch ledger",
            self._call,
            self._api.fetch_ledger,
            since_ms=_ms(since),
            page_limit=page_limit,
            args=(code,),
        )
        return [parse_ledger_entry(item, self._exchange_id) for item in items]

    # -- internals -------------------------------------------------------------------

    def _require(self, capability: str, operation: str) -> None:
        has = getattr(self._api, "has", None) or {}
        if not has.get(capability):
            raise SourceError(
                f"{self._exchange_id}: {operation} is not supported by this exchange in ccxt; "
                "import its CSV export instead (realyield ledger import)",
                source=self._exchange_id,
            )

    def _market(self, symbol: str) -> Mapping[str, Any]:
        markets = self.markets()
        market = markets.get(symbol)
        if market is None:
            close = difflib.get_close_matches(symbol, list(markets), n=3)
            hint = f" Close matches: {', '.join(close)}." if close else ""
            raise DataError(
                f"{self._exchange_id} has no market {symbol!r}. Symbols are unified ccxt "
                f"symbols like 'BTC/USDT'; list them with ExchangeClient("
                f"{self._exchange_id!r}).markets().{hint}"
            )
        return market

    def _require_ohlcv(self) -> None:
        has = getattr(self._api, "has", None) or {}
        timeframes = getattr(self._api, "timeframes", None) or {}
        if not has.get("fetchOHLCV") or DAILY not in timeframes:
            raise SourceError(
                f"{self._exchange_id}: fetch daily OHLCV is not supported by this exchange "
                "in ccxt; read prices from another exchange (e.g. binance or kraken)",
                source=self._exchange_id,
            )

    def _call(self, operation: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` (one ccxt call), translating errors and retrying temporary ones."""
        attempt = 0

        def once() -> T:
            nonlocal attempt
            attempt += 1
            try:
                return fn()
            except ccxt.BaseError as exc:
                raise translate_error(
                    exc,
                    exchange_id=self._exchange_id,
                    operation=operation,
                    attempt=attempt,
                    max_attempts=self._max_attempts,
                    timeout_s=self._timeout_s,
                    secrets=credential_values(self._api),
                ) from exc

        retrying = Retrying(
            stop=stop_policy(self._max_attempts),
            wait=wait_exponential(multiplier=self._backoff_s, max=self._max_backoff_s),
            retry=retry_if_exception_type(TemporarySourceError),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(once)


def _check_exchange_id(exchange_id: str) -> None:
    known: list[str] = list(ccxt.exchanges)
    if exchange_id in known:
        return
    close = difflib.get_close_matches(str(exchange_id), known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(
        f"unknown exchange id {exchange_id!r}: ccxt has no such exchange.{hint} See the "
        'valid ids with: python -c "import ccxt; print(ccxt.exchanges)"'
    )


def _ms(when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        raise ConfigError(f"since = {when!r}: give a timezone-aware datetime (UTC)")
    return int(when.timestamp() * 1000)


def _check_day(name: str, value: object) -> None:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ConfigError(f"{name} = {value!r}: give a calendar date (datetime.date, UTC day)")
