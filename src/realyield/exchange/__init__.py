"""The exchange boundary: the only code in realyield that imports ccxt.

Why one place: ccxt is a large, fast-moving dependency with its own exception tree,
its own idea of symbols and timestamps (milliseconds) and objects that hold API keys.
Keeping every ``import ccxt`` here means

* ccxt errors become ``realyield.core.errors`` exceptions in exactly one spot, so
  callers (sources, execution) only ever catch ``RealyieldError`` subclasses;
* rate limiting, timeouts and retries of temporary failures are decided once;
* credentials live on one object whose ``repr`` and error messages are scrubbed;
* upgrading or replacing ccxt touches one package.

For now it serves public market data (markets, daily OHLCV, daily prices); execution
will trade through the same client later.
"""

from __future__ import annotations

from realyield.exchange.candles import USD_QUOTES, Candle
from realyield.exchange.client import ExchangeClient

__all__ = ["USD_QUOTES", "Candle", "ExchangeClient"]
