"""A fake Binance spot API behind a real ccxt.binance object (no network).

Only ccxt's lowest HTTP method, ``fetch(url, method, headers, body)``, is replaced; ccxt
builds and signs every request, and parses every answer (and maps every error) with its
own code, so the tests exercise the real request/response contract. Answers come from
the recorded files in tests/contract/exchange/ (see its README).

The fake is stateful where idempotency needs it: an order it accepted is kept by client
id, so ``GET /api/v3/order?origClientOrderId=..`` finds it, and a second POST with the
same id is accepted again (as Binance does once the first is filled): a client that
resubmitted blindly would show two accepted orders.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import ccxt

CONTRACT = Path(__file__).resolve().parents[1] / "contract" / "exchange"
API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
API_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
LAST = {"BTCUSDT": "44000.00", "ETHUSDT": "2250.00", "SOLUSDT": "98.50"}

# What the fake does with the next POST /api/v3/order:
FILL = "fill"  # accept and answer with the filled order
TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"  # accept, but the answer is lost
TIMEOUT_BEFORE_ACCEPT = "timeout_before_accept"  # the request never arrives
INSUFFICIENT = "insufficient"  # 400 -2010 insufficient balance
LOT_SIZE = "lot_size"  # 400 -1013 Filter failure: LOT_SIZE
RATE_LIMITED = "rate_limited"  # 429 -1003, the request was not processed
ACK_THEN_FILL = "ack_then_fill"  # accepted as NEW; the fill shows on the next lookup


def load(name: str) -> str:
    return (CONTRACT / name).read_text(encoding="utf-8")


@dataclass
class FakeBinance:
    api: Any
    post_script: list[str] = field(default_factory=list)
    lookup_script: list[str] = field(default_factory=list)  # "timeout" | "normal"
    restrictions: str = "binance_api_restrictions_trade_only.json"
    accepted: list[dict[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    orders: dict[str, dict[str, str]] = field(default_factory=dict)

    def calls(self, method: str, path: str) -> list[dict[str, str]]:
        return [p for m, u, p in self.requests if m == method and u == path]

    def _answer(self, status: int, text: str, url: str, method: str, body: Any) -> Any:
        data = json.loads(text)
        reason = {200: "OK", 400: "Bad Request", 429: "Too Many Requests"}.get(status, "")
        self.api.handle_errors(status, reason, url, method, {}, text, data, None, body)
        if status >= 400:
            self.api.handle_http_status_code(status, reason, url, method, text)
            raise ccxt.ExchangeError(f"binance {method} {url}")
        return data

    def _order_text(self, template: str, order: dict[str, str]) -> str:
        qty = Decimal(order["quantity"])
        price = Decimal(LAST[order["symbol"]])
        base = order["symbol"].removesuffix("USDT")
        commission_asset = base if order["side"] == "BUY" else "USDT"
        commission = (
            qty * Decimal("0.001") if order["side"] == "BUY" else qty * price * Decimal("0.001")
        )
        values = {
            "clientOrderId": order["newClientOrderId"],
            "quantity": f"{qty:.8f}",
            "quote_qty": f"{qty * price:.8f}",
            "side": order["side"],
            "symbol": order["symbol"],
            "fill_price": f"{price:.8f}",
            "commission": f"{commission:.8f}",
            "commission_asset": commission_asset,
        }
        text = load(template)
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query if method == "GET" else (body or "")))
        self.requests.append((method, parts.path, params))
        path = parts.path
        if path == "/api/v3/exchangeInfo":
            return self._answer(200, load("binance_exchangeinfo_trading.json"), url, method, body)
        if path == "/api/v3/account":
            return self._answer(200, load("binance_account.json"), url, method, body)
        if path == "/api/v3/ticker/24hr":
            name = f"binance_ticker_24hr_{params['symbol'].lower()}.json"
            return self._answer(200, load(name), url, method, body)
        if path == "/sapi/v1/account/apiRestrictions":
            return self._answer(200, load(self.restrictions), url, method, body)
        if path == "/api/v3/openOrders":
            return self._answer(200, load("binance_open_orders_empty.json"), url, method, body)
        if path == "/api/v3/order" and method == "POST":
            action = self.post_script.pop(0) if self.post_script else FILL
            if action == TIMEOUT_BEFORE_ACCEPT:
                raise ccxt.RequestTimeout(f"binance POST {url} request timeout (10000 ms)")
            if action == INSUFFICIENT:
                return self._answer(
                    400, load("binance_error_insufficient_balance.json"), url, method, body
                )
            if action == LOT_SIZE:
                return self._answer(400, load("binance_error_lot_size.json"), url, method, body)
            if action == RATE_LIMITED:
                return self._answer(
                    429, load("binance_error_too_many_requests.json"), url, method, body
                )
            self.accepted.append(params)
            self.orders[params["newClientOrderId"]] = params
            if action == TIMEOUT_AFTER_ACCEPT:
                raise ccxt.RequestTimeout(f"binance POST {url} request timeout (10000 ms)")
            if action == ACK_THEN_FILL:
                text = self._order_text("binance_order_market_new.json", params)
                return self._answer(200, text, url, method, body)
            return self._answer(
                200, self._order_text("binance_order_market_filled.json", params), url, method, body
            )
        if path == "/api/v3/order" and method == "GET":
            behaviour = self.lookup_script.pop(0) if self.lookup_script else "normal"
            if behaviour == "timeout":
                raise ccxt.RequestTimeout(f"binance GET {url} request timeout (10000 ms)")
            order = self.orders.get(params.get("origClientOrderId", ""))
            if order is None:
                return self._answer(
                    400, load("binance_error_order_not_found.json"), url, method, body
                )
            return self._answer(
                200, self._order_text("binance_query_order_filled.json", order), url, method, body
            )
        raise AssertionError(f"unexpected request {method} {url}")


def binance_api() -> Any:
    """A real ccxt.binance object for spot, without the private calls (currencies,
    margin pairs) that load_markets adds when keys are set."""
    options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
    return ccxt.binance({"enableRateLimit": False, "options": options})


def fake_binance(**kwargs: Any) -> FakeBinance:
    api = binance_api()
    fake = FakeBinance(api, **kwargs)
    api.fetch = fake.fetch
    return fake


def recorder() -> tuple[list[float], Callable[[float], None]]:
    waits: list[float] = []
    return waits, waits.append
