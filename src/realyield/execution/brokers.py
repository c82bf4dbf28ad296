"""Building a broker from a name (``paper`` or ``ccxt:EXCHANGE``): what the CLI and the
API call, so both apply the same safety checks.

``open_broker`` returns the broker and whether it may send orders at all: a ccxt broker
without ``live`` or ``sandbox`` only plans. Live trading additionally needs the caller's
confirmation (the CLI's prompt, an API's explicit flag); that decision stays with the
interface, which knows whether a person is there to confirm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Engine

from realyield.core.errors import ConfigError
from realyield.exchange.permissions import KeyPermissions
from realyield.execution.broker import Broker


@dataclass(frozen=True)
class OpenedBroker:
    broker: Broker
    may_send: bool  # False: plan only (a ccxt broker without --live or --sandbox)
    permissions: KeyPermissions | None = None  # ccxt: what the exchange says the key may do


def open_broker(
    spec: str,
    engine: Engine,
    *,
    bases: Sequence[str],
    quote: str = "USDT",
    live: bool = False,
    sandbox: bool = False,
    account: str = "default",
    fee_bps: Decimal = Decimal(10),
) -> OpenedBroker:
    """The broker named by ``spec``.

    Paper: simple ``BASE/QUOTE`` markets priced from the store's newest prices. ccxt:
    credentials from the environment or keyring, the exchange's testnet with
    ``sandbox``, and a key that can withdraw refused before anything else.

    Raises:
        ConfigError: an unknown spec, contradictory flags, missing credentials, or an
            ``UnsafeKeyError`` (a key with withdrawal permission).
        DataError: no stored price for a paper market.
    """
    if spec == "paper":
        if live or sandbox:
            raise ConfigError(
                "--live and --sandbox are for --broker ccxt:EXCHANGE; paper never trades"
            )
        from realyield.execution.paper import PaperBroker, paper_markets, stored_prices

        paper = PaperBroker(
            engine,
            rules=paper_markets(bases, quote, fee_bps=fee_bps),
            price_of=stored_prices(engine, bases, quote),
            account=account,
            fee_bps=fee_bps,
        )
        return OpenedBroker(paper, True)
    kind, _, exchange = spec.partition(":")
    if kind != "ccxt" or not exchange:
        raise ConfigError(f"--broker {spec!r}: use paper or ccxt:EXCHANGE (e.g. ccxt:binance)")
    if live and sandbox:
        raise ConfigError("--live and --sandbox exclude each other")
    from realyield.exchange.credentials import load_credentials
    from realyield.exchange.trading import TradingClient
    from realyield.execution.live import CcxtBroker

    client = TradingClient(exchange, credentials=load_credentials(exchange), sandbox=sandbox)
    permissions = client.require_safe_key()
    return OpenedBroker(CcxtBroker(client, engine), live or sandbox, permissions)
