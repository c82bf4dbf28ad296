"""CoinGecko markets and market_chart parsers on recorded responses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
import respx

from realyield.core.errors import DataError
from realyield.sources.coingecko import CoinGeckoClient, parse_market_chart, parse_markets
from realyield.sources.http import HttpSource
from realyield.sources.sanitize import IngestReport
from tests.conftest import contract

AS_OF = datetime(2025, 7, 1, tzinfo=UTC)


def test_markets_parse_price_cap_supply_and_category() -> None:
    report = IngestReport("coingecko")
    assets = {
        a.id: a
        for a in parse_markets(contract("coingecko/markets.json"), as_of=AS_OF, report=report)
    }
    btc = assets["bitcoin"]
    assert (btc.symbol, btc.category, btc.price_usd) == ("BTC", "btc", 107135)
    assert btc.market_cap_usd == 2130313466911 and btc.circulating_supply == 19885340.0
    assert btc.as_of == datetime(2025, 6, 30, 23, 59, 47, 322000, tzinfo=UTC)
    assert assets["ethereum"].price_usd == 2486.41  # sent as a string
    assert assets["usd-coin"].category == "stablecoin"
    assert assets["staked-ether"].category == "lst"
    assert "dead-coin" not in assets
    assert report.rejected == {"non_positive_price": 1}


def test_market_chart_daily_points_are_midnight_utc_prices() -> None:
    report = IngestReport("coingecko")
    points = parse_market_chart(contract("coingecko/market_chart.json"), "bitcoin", report=report)
    assert [p.date for p in points] == [
        date(2024, 6, 30),
        date(2024, 7, 1),
        date(2024, 7, 2),
        date(2024, 7, 3),
        date(2024, 7, 4),
    ]
    # 2024-07-04 has the 00:00 point and a 09:30 intraday one: the midnight price wins
    assert points[-1].price_usd == 60199.4011
    assert points[-1].market_cap_usd == 1187210543822.2
    assert points[0].volume_usd == 11871624510.2
    assert report.duplicates == 1


def test_market_chart_without_prices_is_a_clear_error() -> None:
    with pytest.raises(DataError, match="no 'prices' list"):
        parse_market_chart({"error": "coin not found"}, "nope", report=IngestReport("x"))


@respx.mock
def test_client_sends_documented_parameters() -> None:
    base = "https://api.coingecko.com/api/v3"
    markets = respx.get(f"{base}/coins/markets").mock(
        return_value=httpx.Response(200, json=contract("coingecko/markets.json"))
    )
    chart = respx.get(f"{base}/coins/bitcoin/market_chart").mock(
        return_value=httpx.Response(200, json=contract("coingecko/market_chart.json"))
    )
    client = CoinGeckoClient(HttpSource("coingecko", base, client=httpx.Client()))
    report = IngestReport("coingecko")
    assert len(client.fetch_markets(["bitcoin", "ethereum"], as_of=AS_OF, report=report)) == 4
    assert len(client.fetch_daily_history("bitcoin", days=5, report=report)) == 5
    sent = markets.calls.last.request.url.params
    assert sent["vs_currency"] == "usd" and sent["ids"] == "bitcoin,ethereum"
    assert chart.calls.last.request.url.params["interval"] == "daily"
    assert chart.calls.last.request.url.params["days"] == "5"
