"""Exchange trades and ledger through ccxt, paged to the end, into the ledger idempotently.

A real ``ccxt.kraken`` object signs and builds every request; only its HTTP ``fetch``
answers from the recorded responses in tests/contract/exchange/ (Kraken's wire schema),
so ccxt's own parsers produce the unified trade and ledger structures we read.
"""

from __future__ import annotations

import base64
from decimal import Decimal as D
from typing import Any
from urllib.parse import parse_qs

import ccxt
import pytest
from sqlalchemy import Engine
from tests.exchange.test_client import RecordedServer, Reply, kraken

from realyield.core.errors import ConfigError, SourceError
from realyield.exchange import ExchangeClient
from realyield.portfolio import ledger, service
from realyield.portfolio.imports.exchange import asset_code, sync_exchange

SECRET = base64.b64encode(b"s" * 64).decode()
KEY = "KRAKENKEY-abcdef0123456789"


class BodyRecorder(RecordedServer):
    """Also keeps the POST bodies (Kraken's private parameters travel there)."""

    def __init__(self, api: Any, routes: Any) -> None:
        super().__init__(api, routes)
        self.bodies: list[tuple[str, dict[str, str]]] = []

    def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        if body:
            self.bodies.append(
                (url.rsplit("/", 1)[-1], {k: v[0] for k, v in parse_qs(body).items()})
            )
        return super().fetch(url, method, headers, body)


def recorded_kraken() -> tuple[ExchangeClient, BodyRecorder]:
    api, _ = kraken({}, apiKey=KEY, secret=SECRET)
    server = BodyRecorder(
        api,
        {
            "/0/public/Assets": Reply("kraken_assets.json"),
            "/0/public/AssetPairs": Reply("kraken_assetpairs.json"),
            "/0/private/TradesHistory": [
                Reply(f"kraken_tradeshistory_page{n}.json") for n in (1, 2, 3)
            ],
            "/0/private/Ledgers": [Reply(f"kraken_ledgers_page{n}.json") for n in (1, 2, 3)],
        },
    )
    return ExchangeClient("kraken", api=api, sleep=lambda s: None), server


def test_pages_by_offset_and_parses_the_unified_structures() -> None:
    client, server = recorded_kraken()
    trades = client.fetch_my_trades()
    assert [(t.side, t.symbol, t.amount, t.cost) for t in trades] == [
        ("buy", "BTC/USD", D("0.05"), D("2300")),
        ("buy", "ETH/USD", D("1.2"), D("3360")),
        ("sell", "BTC/USD", D("0.02"), D("1300")),
        ("sell", "ETH/USD", D("0.5"), D("1650")),
        ("buy", "BTC/USD", D("0.01"), D("635")),
    ]
    assert trades[0].fee is not None and (trades[0].fee.cost, trades[0].fee.currency) == (
        D("5.98"),
        "USD",
    )
    entries = client.fetch_ledger()
    assert len(entries) == 7 and [e.raw_type for e in entries][:2] == ["deposit", "trade"]
    offsets = [(path, body.get("ofs")) for path, body in server.bodies]
    assert offsets == [
        ("TradesHistory", "0"),
        ("TradesHistory", "3"),
        ("TradesHistory", "5"),
        ("Ledgers", "0"),
        ("Ledgers", "4"),
        ("Ledgers", "7"),
    ]
    assert "KRAKENKEY" not in repr(client) and "credentials=set" in repr(client)


def test_sync_stores_trades_and_ledger_once(db: Engine) -> None:
    client, _ = recorded_kraken()
    report, skipped = sync_exchange(db, client)
    # 5 trades; from the ledger: the deposit, two staking rewards, the withdrawal
    # (the two trade legs are the trades again; the staking transfer is internal).
    assert (report.inserted, report.duplicates) == (9, 0)
    assert skipped == {"trade": 2, "transfer": 1}
    events = service.list_events(db)
    rewards = [e for e in events if e.kind == "staking_reward"]
    assert [(e.asset, e.amount, e.key) for e in rewards] == [
        ("DOT", D("0.05123"), "ledger:LU6EF7-GH8IJ-KL9MN0"),
        ("DOT", D("0.04987"), "ledger:LV7FG8-HI9JK-LM0NO1"),
    ]
    sell = next(e for e in events if e.key == "trade:TS1XGK-9LVQ5-KL7MNO")
    assert (sell.asset, sell.amount, sell.counter_asset, sell.counter_amount) == (
        "USD",
        D("1300"),
        "BTC",
        D("0.02"),
    )
    assert sell.value == D("1300") and sell.fee_value == D("3.38")
    withdrawal = next(e for e in events if e.kind == "withdrawal")
    assert (withdrawal.asset, withdrawal.amount, withdrawal.fee_amount) == (
        "ETH",
        D("0.3"),
        D("0.0035"),
    )
    assert {e.account for e in events} == {"kraken"} and {e.source for e in events} == {
        "ccxt:kraken"
    }

    again, _ = sync_exchange(db, recorded_kraken()[0])
    assert (again.inserted, again.duplicates) == (0, 9)
    assert ledger.event_count(db) == 9
    # BTC: bought 0.05 for 2,300 + 5.98 fee, sold 0.02 for 1,300 - 3.38 fee (FIFO):
    # basis 2,305.98 x 0.4 = 922.392, gain 1,296.62 - 922.392 = 374.228
    gains = service.gains(db, 2024)
    btc = [d for d in gains.disposals if d.asset == "BTC"]
    assert [(d.proceeds, d.basis) for d in btc] == [(D("1296.62"), D("922.392"))]


def test_private_history_needs_keys_and_errors_are_ours() -> None:
    with pytest.raises(ConfigError, match="REALYIELD_KRAKEN_API_KEY"):
        ExchangeClient.with_credentials("kraken", api_key="", secret="")
    api, _ = kraken(
        {"/0/private/TradesHistory": Reply(data={"error": ["EAPI:Invalid key"], "result": {}})},
        apiKey=KEY,
        secret=SECRET,
    )
    client = ExchangeClient("kraken", api=api, sleep=lambda s: None)
    with pytest.raises(SourceError) as caught:
        client.fetch_my_trades()
    assert "credentials" in str(caught.value) and KEY not in str(caught.value)
    assert isinstance(caught.value.__cause__, ccxt.AuthenticationError)


def test_staked_codes_are_the_asset() -> None:
    assert [asset_code(c) for c in ("DOT.S", "ETH2.S", "eth2", "XBT", "USDC")] == [
        "DOT",
        "ETH",
        "ETH",
        "BTC",
        "USDC",
    ]
