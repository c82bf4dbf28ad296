"""The exchange boundary: the only code in realyield that imports ccxt.

Why one place: ccxt is a large, fast-moving dependency with its own exception tree,
its own idea of symbols and timestamps (milliseconds) and objects that hold API keys.
Keeping every ``import ccxt`` here means

* ccxt errors become ``realyield.core.errors`` exceptions in exactly one spot, so
  callers (sources, execution) only ever catch ``RealyieldError`` subclasses;
* rate limiting, timeouts and retries of temporary failures are decided once;
* credentials live on one object whose ``repr`` and error messages are scrubbed;
* upgrading or replacing ccxt touches one package.

It serves public market data (markets, daily OHLCV, daily prices) and, with read-only
keys, the account's own history (``fetch_my_trades``, ``fetch_ledger``, paged to the
end) for the portfolio ledger; execution will trade through the same client later.
"""

from __future__ import annotations

from realyield.exchange.candles import USD_QUOTES, Candle
from realyield.exchange.client import ExchangeClient
from realyield.exchange.history import AccountTrade, LedgerEntry

__all__ = ["USD_QUOTES", "AccountTrade", "Candle", "ExchangeClient", "LedgerEntry"]
