"""ExchangeClient on recorded responses, with ccxt's own request building and parsing.

A real ccxt exchange object is built and only its lowest HTTP method, ``fetch(url,
method, headers, body)``, is replaced: the fake answers from the recorded JSON in
tests/contract/exchange/ and, like the real ``fetch``, runs the exchange's
``handle_errors`` on the body, so ccxt's URL building, error mapping and parsers all run.
"""

from __future__ import annotations

import functools
import json
import traceback
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import pytest
import requests

from realyield.core import clock
from realyield.core.errors import (
    ConfigError,
    DataError,
    SourceError,
    SourceUnavailableError,
    TemporarySourceError,
)
from realyield.core.model import PricePoint
from realyield.exchange import Candle, ExchangeClient

CONTRACT = Path(__file__).resolve().parents[1] / "contract" / "exchange"
KLINES = "/api/v3/klines"
OHLC = "/0/public/OHLC"
NOON_JAN_6 = datetime(2024, 1, 6, 12, 0, tzinfo=UTC)  # 2024-01-06 candle still open
JAN_1_MS = 1_704_067_200_000
DAY_MS = 86_400_000
SECRET_KEY = "SECRETKEY123"
SECRET = "SECRETSECRET456"


@dataclass
class Reply:
    """One scripted answer: a recorded file (with an HTTP status) or an exception."""

    file: str | None = None
    status: int = 200
    error: BaseException | None = None
    data: Any = None  # inline body, only for synthetic malformed data


class RecordedServer:
    """Stands in for ccxt's HTTP layer on one exchange object.

    ``routes`` maps a URL path to a list of replies used in order, or to one reply used
    for every request. Unknown paths and exhausted lists fail the test loudly.
    """

    def __init__(self, api: Any, routes: dict[str, list[Reply] | Reply]) -> None:
        self.api = api
        self.routes = {k: (list(v) if isinstance(v, list) else v) for k, v in routes.items()}
        self.requests: list[tuple[str, str]] = []
        api.fetch = self.fetch

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        self.requests.append((method, url))
        path = urlsplit(url).path
        if path not in self.routes:
            raise AssertionError(f"unexpected request {method} {url}")
        route = self.routes[path]
        if isinstance(route, list):
            if not route:
                raise AssertionError(f"no recorded reply left for {method} {url}")
            reply = route.pop(0)
        else:
            reply = route
        if reply.error is not None:
            raise reply.error
        if reply.file is not None:
            text = (CONTRACT / reply.file).read_text(encoding="utf-8").strip()
        else:
            text = json.dumps(reply.data)
        data = json.loads(text)
        # What ccxt's real fetch() does with a response once it has it:
        reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests"}.get(reply.status, "")
        self.api.handle_errors(reply.status, reason, url, method, {}, text, data, headers, body)
        if reply.status >= 400:
            self.api.handle_http_status_code(reply.status, reason, url, method, text)
            raise ccxt.ExchangeError(f"{self.api.id} {method} {url}")
        return data

    def calls(self, path: str) -> list[dict[str, str]]:
        """Query parameters of every request made to ``path``, in order."""
        out = []
        for _, url in self.requests:
            parts = urlsplit(url)
            if parts.path == path:
                out.append({k: v[0] for k, v in parse_qs(parts.query).items()})
        return out


def binance(routes: dict[str, list[Reply] | Reply], **config: Any) -> tuple[Any, RecordedServer]:
    # Spot markets only, and none of the private calls (currencies, margin pairs) that
    # ccxt adds to load_markets when keys are set.
    options = {
        "fetchMarkets": {"types": ["spot"]},
        "fetchCurrencies": False,
        "fetchMargins": False,
    }
    api = ccxt.binance({"enableRateLimit": False, "options": options, **config})
    all_routes: dict[str, list[Reply] | Reply] = {
        "/api/v3/exchangeInfo": Reply("binance_exchangeinfo_spot.json")
    }
    all_routes.update(routes)
    return api, RecordedServer(api, all_routes)


def kraken(routes: dict[str, list[Reply] | Reply], **config: Any) -> tuple[Any, RecordedServer]:
    api = ccxt.kraken({"enableRateLimit": False, **config})
    all_routes: dict[str, list[Reply] | Reply] = {
        "/0/public/Assets": Reply("kraken_assets.json"),
        "/0/public/AssetPairs": Reply("kraken_assetpairs.json"),
    }
    all_routes.update(routes)
    return api, RecordedServer(api, all_routes)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture(autouse=True)
def frozen_clock() -> Any:
    with clock.freeze(NOON_JAN_6) as now:
        yield now


# -- parsing, pagination, the open candle -----------------------------------------------


def test_binance_klines_parse_to_candles_checked_by_hand(sleeps: Sleeps) -> None:
    api, server = binance({KLINES: [Reply("binance_klines_btcusdt_1d_page1.json")]})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    candles = client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1), date(2024, 1, 2), page_limit=3)

    # page1 rows 1-2: [openTime, "open", "high", "low", "close", "volume", closeTime, ...]
    assert candles == [
        Candle(date(2024, 1, 1), 42283.58, 44184.10, 42180.77, 44179.55, 27174.29903),
        Candle(date(2024, 1, 2), 44179.55, 45879.63, 44148.34, 44946.91, 65146.40661),
    ]
    # The third row (2024-01-03) passes `until`, so no second page is requested.
    assert server.calls(KLINES) == [
        {"interval": "1d", "limit": "3", "symbol": "BTCUSDT", "startTime": str(JAN_1_MS)}
    ]
    assert sleeps == []


def test_binance_paginates_three_pages_dedupes_and_drops_open_candle(sleeps: Sleeps) -> None:
    pages = [Reply(f"binance_klines_btcusdt_1d_page{i}.json") for i in (1, 2, 3)]
    api, server = binance({KLINES: pages})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    candles = client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1), page_limit=3)

    # 2024-01-04 arrives twice in page2 and is kept once; 2024-01-06 is still open at
    # the frozen 12:00 UTC and is dropped.
    assert [c.day for c in candles] == [date(2024, 1, d) for d in (1, 2, 3, 4, 5)]
    jan = functools.partial(date, 2024, 1)
    assert candles[3] == Candle(jan(4), 42845.23, 44729.58, 42613.77, 44151.10, 48038.06334)
    assert candles[4] == Candle(jan(5), 44151.10, 44357.46, 42450.00, 44145.11, 48075.25327)
    # Each page starts 1 ms after the last candle returned by the previous one.
    assert [c["startTime"] for c in server.calls(KLINES)] == [
        str(JAN_1_MS),
        str(JAN_1_MS + 2 * DAY_MS + 1),
        str(JAN_1_MS + 4 * DAY_MS + 1),
    ]
    assert {c["limit"] for c in server.calls(KLINES)} == {"3"}


def test_stops_when_a_page_brings_nothing_new(sleeps: Sleeps) -> None:
    # A server that ignores startTime and repeats page1: ccxt drops the rows before
    # `since`, the page is empty of news, and the loop ends after the second request.
    api, server = binance({KLINES: Reply("binance_klines_btcusdt_1d_page1.json")})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    candles = client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1), page_limit=3)

    assert [c.day for c in candles] == [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    assert len(server.calls(KLINES)) == 2


def test_stops_on_an_empty_page(sleeps: Sleeps) -> None:
    pages = [Reply("binance_klines_btcusdt_1d_page1.json"), Reply("binance_klines_empty.json")]
    api, server = binance({KLINES: pages})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    candles = client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1), page_limit=3)

    assert len(candles) == 3
    assert len(server.calls(KLINES)) == 2


def test_kraken_ohlc_parses_and_drops_the_open_candle(sleeps: Sleeps) -> None:
    api, server = kraken({OHLC: [Reply("kraken_ohlc_xxbtzusd_1440.json")]})
    client = ExchangeClient("kraken", api=api, sleep=sleeps)

    candles = client.fetch_daily_ohlcv("BTC/USD", date(2024, 1, 1))

    # Rows are [time s, "open", "high", "low", "close", "vwap", "volume", count]; the
    # 2023-12-31 row is before `since`, the 2024-01-06 row is still open.
    assert [c.day for c in candles] == [date(2024, 1, d) for d in (1, 2, 3, 4, 5)]
    jan = functools.partial(date, 2024, 1)
    assert candles[0] == Candle(jan(1), 42288.6, 44200.0, 42191.6, 44183.2, 2098.32487341)
    assert candles[-1] == Candle(jan(5), 44160.0, 44360.2, 42460.0, 44152.6, 3903.20016312)
    # ccxt asks Kraken for one interval before `since` (seconds) in the market's id.
    assert server.calls(OHLC) == [{"pair": "XXBTZUSD", "interval": "1440", "since": "1703980800"}]


def test_kraken_candle_is_kept_once_its_day_has_closed(sleeps: Sleeps) -> None:
    replies = [Reply("kraken_ohlc_xxbtzusd_1440.json"), Reply("kraken_ohlc_xxbtzusd_1440.json")]
    api, server = kraken({OHLC: replies})
    client = ExchangeClient("kraken", api=api, sleep=sleeps)

    with clock.freeze(datetime(2024, 1, 7, 0, 30, tzinfo=UTC)):
        candles = client.fetch_daily_ohlcv("BTC/USD", date(2024, 1, 1))

    assert candles[-1] == Candle(date(2024, 1, 6), 44152.6, 44220.0, 43400.0, 43790.1, 612.40881246)
    # The second page starts after 2024-01-06 and holds nothing new: the loop ends.
    assert [c["since"] for c in server.calls(OHLC)] == ["1703980800", "1704412800"]


def test_nothing_requested_when_no_day_in_range_is_complete(sleeps: Sleeps) -> None:
    api, server = kraken({})
    client = ExchangeClient("kraken", api=api, sleep=sleeps)

    assert client.fetch_daily_ohlcv("BTC/USD", date(2024, 1, 6)) == []
    assert server.calls(OHLC) == []


def test_candle_not_starting_at_midnight_utc_is_refused(sleeps: Sleeps) -> None:
    shifted = [[JAN_1_MS + 3_600_000, "1", "2", "0.5", "1.5", "10", 0, "0", 1, "0", "0", "0"]]
    api, _ = binance({KLINES: [Reply(data=shifted)]})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    with pytest.raises(DataError, match="not 00:00 UTC"):
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1))


def test_argument_errors(sleeps: Sleeps) -> None:
    api, _ = binance({})
    client = ExchangeClient("binance", api=api, sleep=sleeps)
    with pytest.raises(DataError, match="before since"):
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 3), date(2024, 1, 2))
    with pytest.raises(ConfigError, match="page_limit"):
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1), page_limit=0)
    with pytest.raises(ConfigError, match="calendar date"):
        client.fetch_daily_ohlcv("BTC/USDT", datetime(2024, 1, 1, tzinfo=UTC))


# -- prices ------------------------------------------------------------------------------


def test_daily_price_is_the_open_of_the_day_candle(sleeps: Sleeps) -> None:
    pages = [Reply(f"binance_klines_btcusdt_1d_page{i}.json") for i in (1, 2, 3)]
    pages.append(Reply("binance_klines_empty.json"))
    api, _ = binance({KLINES: pages})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    with clock.freeze(datetime(2024, 1, 7, 9, 0, tzinfo=UTC)):
        prices = client.daily_prices("BTC/USDT", "bitcoin", date(2024, 1, 1))

    assert [p.date for p in prices] == [date(2024, 1, d) for d in range(1, 7)]
    assert prices[0] == PricePoint(
        asset_id="bitcoin",
        date=date(2024, 1, 1),
        price_usd=42283.58,  # the 2024-01-01 candle's open, not its close 44179.55
        volume_usd=27174.29903 * 44179.55,
    )
    # 2024-01-06 opened at 44145.12 while 2024-01-05 closed at 44145.11: the price of
    # day D is D's own 00:00 UTC open.
    assert prices[5].price_usd == 44145.12
    assert prices[5].volume_usd == pytest.approx(9107.55214 * 43788.06)


def test_kraken_usd_quote_gives_usd_prices_and_volume(sleeps: Sleeps) -> None:
    api, _ = kraken({OHLC: [Reply("kraken_ohlc_xxbtzusd_1440.json")]})
    client = ExchangeClient("kraken", api=api, sleep=sleeps)

    prices = client.daily_prices("BTC/USD", "bitcoin", date(2024, 1, 2), date(2024, 1, 3))

    assert [(p.date, p.price_usd) for p in prices] == [
        (date(2024, 1, 2), 44183.2),
        (date(2024, 1, 3), 44951.3),
    ]
    assert prices[0].volume_usd == pytest.approx(5624.81752912 * 44951.3)


def test_non_usd_quote_is_refused_for_usd_prices(sleeps: Sleeps) -> None:
    api, server = binance({})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    with pytest.raises(DataError, match=r"ETH/BTC is quoted in 'BTC', not USD"):
        client.daily_prices("ETH/BTC", "ethereum", date(2024, 1, 1))
    assert server.calls(KLINES) == []


# -- markets, construction, unknown names ------------------------------------------------


def test_markets_are_loaded_once_from_the_recorded_responses(sleeps: Sleeps) -> None:
    api, server = kraken({})
    client = ExchangeClient("kraken", api=api, sleep=sleeps)

    first = client.markets()
    second = client.markets()

    assert first is second
    assert set(first) == {"BTC/USD", "ETH/USD", "ETH/BTC"}
    assert first["BTC/USD"]["id"] == "XXBTZUSD"
    assert [url for _, url in server.requests] == [
        "https://api.kraken.com/0/public/Assets",
        "https://api.kraken.com/0/public/AssetPairs",
    ]


def test_client_builds_a_rate_limited_public_ccxt_object() -> None:
    client = ExchangeClient("kraken", timeout_s=7.5)

    assert isinstance(client._api, ccxt.kraken)
    assert client._api.enableRateLimit is True
    assert client._api.timeout == 7500
    assert client.exchange_id == "kraken"
    assert repr(client) == (
        "ExchangeClient(exchange_id='kraken', timeout_s=7.5, credentials=none, "
        "markets_loaded=False)"
    )


def test_unknown_exchange_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        ExchangeClient("binanse")
    message = str(info.value)
    assert "'binanse'" in message
    assert "binance" in message  # close match suggested
    assert "ccxt.exchanges" in message  # how to list the valid ids


def test_non_exchange_ccxt_attribute_is_not_an_exchange_id() -> None:
    with pytest.raises(ConfigError):
        ExchangeClient("Exchange")


def test_injected_api_must_match_the_exchange_id() -> None:
    with pytest.raises(ConfigError, match="'kraken'"):
        ExchangeClient("binance", api=ccxt.kraken())


def test_unknown_symbol_names_symbol_and_exchange(sleeps: Sleeps) -> None:
    api, server = kraken({})
    client = ExchangeClient("kraken", api=api, sleep=sleeps)

    with pytest.raises(DataError) as info:
        client.fetch_daily_ohlcv("DOGE/USD", date(2024, 1, 1))
    assert "kraken" in str(info.value)
    assert "'DOGE/USD'" in str(info.value)
    assert server.calls(OHLC) == []


def test_exchange_without_ohlcv_is_a_source_error(sleeps: Sleeps) -> None:
    api, server = kraken({})
    api.has = {**api.has, "fetchOHLCV": False}
    client = ExchangeClient("kraken", api=api, sleep=sleeps)

    with pytest.raises(SourceError, match="kraken: fetch daily OHLCV is not supported"):
        client.fetch_daily_ohlcv("BTC/USD", date(2024, 1, 1))
    assert server.calls(OHLC) == []


# -- error translation and retries -------------------------------------------------------


def _unreachable() -> ccxt.NetworkError:
    url = "https://api.binance.com/api/v3/klines"
    try:
        try:
            raise requests.ConnectionError(
                "HTTPSConnectionPool(host='api.binance.com', port=443): Max retries exceeded "
                "(Caused by NameResolutionError: Failed to establish a new connection: "
                "[Errno -3] Temporary failure in name resolution)"
            )
        except requests.ConnectionError as cause:
            raise ccxt.NetworkError(f"binance GET {url}") from cause
    except ccxt.NetworkError as exc:
        return exc


KLINES_URL = "https://api.binance.com/api/v3/klines"
ERROR_CASES = [
    # (ccxt error, our class (exact), retried?)
    (ccxt.RateLimitExceeded("binance 429 Too Many Requests"), TemporarySourceError, True),
    (ccxt.DDoSProtection("binance 418 I'm a teapot"), TemporarySourceError, True),
    (ccxt.RequestTimeout(f"binance GET {KLINES_URL}"), TemporarySourceError, True),
    (ccxt.NetworkError(f"binance GET {KLINES_URL}"), TemporarySourceError, True),
    (_unreachable(), SourceUnavailableError, True),
    (ccxt.ExchangeNotAvailable("binance 503 Service Unavailable"), SourceUnavailableError, True),
    (ccxt.OnMaintenance("binance system maintenance"), SourceUnavailableError, True),
    (ccxt.BadSymbol('binance {"code":-1121,"msg":"Invalid symbol."}'), DataError, False),
    (ccxt.AuthenticationError("binance Invalid API-key"), SourceError, False),
    (ccxt.PermissionDenied("binance no permission"), SourceError, False),
    (ccxt.ExchangeError("binance something odd"), SourceError, False),
    (ccxt.BadResponse("binance unparsable body"), SourceError, False),
]


@pytest.mark.parametrize(
    ("error", "expected", "retried"),
    ERROR_CASES,
    ids=[type(e).__name__ + ("-unreachable" if e.__cause__ else "") for e, _, _ in ERROR_CASES],
)
def test_ccxt_errors_are_translated_and_only_temporary_ones_retried(
    error: BaseException, expected: type[Exception], retried: bool, sleeps: Sleeps
) -> None:
    api, server = binance({KLINES: Reply(error=error)})
    client = ExchangeClient("binance", api=api, max_attempts=3, backoff_s=0.5, sleep=sleeps)

    with pytest.raises(expected) as info:
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1))

    assert type(info.value) is expected
    assert info.value.__cause__ is error
    message = str(info.value)
    assert message.startswith(
        "binance: fetch daily OHLCV of BTC/USDT from 2024-01-01T00:00:00+00:00 failed"
    )
    assert "What to do:" in message
    if retried and expected is SourceUnavailableError:
        # unreachable or down: tried twice (core.retry.UNREACHABLE_ATTEMPTS), not three times
        assert len(server.calls(KLINES)) == 2
        assert sleeps == [0.5]
        assert "(attempt 2 of 3)" in message
    elif retried:
        assert len(server.calls(KLINES)) == 3
        assert sleeps == [0.5, 1.0]
        assert "(attempt 3 of 3)" in message
    else:
        assert len(server.calls(KLINES)) == 1
        assert sleeps == []


def test_backoff_is_capped(sleeps: Sleeps) -> None:
    api, server = binance({KLINES: Reply(error=ccxt.RequestTimeout("binance timeout"))})
    client = ExchangeClient(
        "binance", api=api, max_attempts=5, backoff_s=1.0, max_backoff_s=3.0, sleep=sleeps
    )

    with pytest.raises(TemporarySourceError):
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1))
    assert sleeps == [1.0, 2.0, 3.0, 3.0]
    assert len(server.calls(KLINES)) == 5


def test_recorded_kraken_rate_limit_is_retried_then_succeeds(sleeps: Sleeps) -> None:
    replies = [Reply("kraken_error_rate_limit.json"), Reply("kraken_ohlc_xxbtzusd_1440.json")]
    api, server = kraken({OHLC: replies})
    client = ExchangeClient("kraken", api=api, backoff_s=2.0, sleep=sleeps)

    candles = client.fetch_daily_ohlcv("BTC/USD", date(2024, 1, 1))

    assert len(candles) == 5
    assert len(server.calls(OHLC)) == 2
    assert sleeps == [2.0]


def test_recorded_kraken_service_unavailable_becomes_unavailable(sleeps: Sleeps) -> None:
    api, server = kraken({OHLC: Reply("kraken_error_service_unavailable.json")})
    client = ExchangeClient("kraken", api=api, max_attempts=2, sleep=sleeps)

    with pytest.raises(SourceUnavailableError) as info:
        client.fetch_daily_ohlcv("BTC/USD", date(2024, 1, 1))
    assert isinstance(info.value.__cause__, ccxt.ExchangeNotAvailable)
    assert "EService:Unavailable" in str(info.value)
    assert len(server.calls(OHLC)) == 2


def test_recorded_binance_invalid_symbol_becomes_data_error(sleeps: Sleeps) -> None:
    api, server = binance({KLINES: Reply("binance_error_invalid_symbol.json", status=400)})
    client = ExchangeClient("binance", api=api, sleep=sleeps)

    with pytest.raises(DataError) as info:
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1))
    assert isinstance(info.value.__cause__, ccxt.BadSymbol)
    assert "Invalid symbol." in str(info.value)
    assert len(server.calls(KLINES)) == 1


def test_recorded_binance_429_is_retried_then_temporary(sleeps: Sleeps) -> None:
    api, server = binance({KLINES: Reply("binance_error_too_many_requests.json", status=429)})
    client = ExchangeClient("binance", api=api, max_attempts=4, backoff_s=1.0, sleep=sleeps)

    with pytest.raises(TemporarySourceError) as info:
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1))
    assert "rate limiting" in str(info.value)
    assert len(server.calls(KLINES)) == 4
    assert sleeps == [1.0, 2.0, 4.0]


def test_market_loading_errors_are_translated_too(sleeps: Sleeps) -> None:
    api = ccxt.kraken({"enableRateLimit": False})
    RecordedServer(api, {"/0/public/Assets": Reply(error=ccxt.RequestTimeout("kraken GET"))})
    client = ExchangeClient("kraken", api=api, max_attempts=2, sleep=sleeps)

    with pytest.raises(TemporarySourceError, match="kraken: load markets failed"):
        client.markets()
    assert sleeps == [1.0]


# -- secrets ----------------------------------------------------------------------------


def _everything_printed(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


@pytest.mark.parametrize(
    "error_class", [ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.RateLimitExceeded]
)
def test_no_secret_in_repr_or_errors_even_when_ccxt_echoes_it(
    error_class: type[ccxt.BaseError], sleeps: Sleeps
) -> None:
    echoed = error_class(
        f"binance GET https://api.binance.com/api/v3/klines?timestamp=1&signature=abcdef0123 "
        f'headers {{"X-MBX-APIKEY": "{SECRET_KEY}"}} secret {SECRET}'
    )
    api, _ = binance({KLINES: Reply(error=echoed)}, apiKey=SECRET_KEY, secret=SECRET)
    client = ExchangeClient("binance", api=api, max_attempts=2, sleep=sleeps)

    assert SECRET_KEY not in repr(client)
    assert SECRET not in repr(client)
    assert "credentials=set" in repr(client)
    with pytest.raises(SourceError) as info:
        client.fetch_daily_ohlcv("BTC/USDT", date(2024, 1, 1))

    printed = _everything_printed(info.value)
    assert SECRET_KEY not in printed
    assert SECRET not in printed
    assert "abcdef0123" not in printed  # request signatures are scrubbed as well
    assert "binance" in str(info.value)
