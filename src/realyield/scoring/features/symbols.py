"""Guessing pool attributes from a pool symbol: stablecoin or not, single or multi asset.

Imports such as DeFiLlama's pool lists give a symbol (``USDC-USDT``) but no attribute
columns; these heuristics fill ``stablecoin`` and ``exposure`` for the model. They never
raise: an empty or missing symbol gives ``None``.
"""

from __future__ import annotations

from typing import Final

#: Symbols treated as USD (or EUR) stablecoins when guessing ``stablecoin`` from a symbol.
STABLE_SYMBOLS: Final = frozenset(
    {
        "USDC",
        "USDT",
        "DAI",
        "USDS",
        "SUSDS",
        "SDAI",
        "GHO",
        "FRAX",
        "LUSD",
        "USDP",
        "TUSD",
        "BUSD",
        "SUSD",
        "GUSD",
        "PYUSD",
        "USDE",
        "SUSDE",
        "CRVUSD",
        "USDC.E",
        "USDBC",
        "USDT0",
        "USD0",
        "USD1",
        "FDUSD",
        "RLUSD",
        "DOLA",
        "MIM",
        "EURC",
        "EURS",
        "AGEUR",
        "EURA",
        "USDD",
        "USDB",
        "AUSDC",
        "AUSDT",
        "ADAI",
        "CUSDC",
        "CDAI",
        "CUSDT",
        "USDM",
        "DEUSD",
        "USDX",
        "FXUSD",
        "BOLD",
        "SCUSD",
        "USR",
        "USDA",
        "USDZ",
        "LISUSD",
        "HAY",
        "AXLUSDC",
    }
)


def stablecoin_from_symbol(symbol: str | None) -> bool | None:
    """True when every token of ``symbol`` (split on ``-``, ``/``, ``+``, ``_``) is a
    known stablecoin, False when any is not, None when the symbol is empty."""
    if symbol is None or not symbol.strip():
        return None
    parts = [
        p.strip().upper()
        for p in symbol.replace("/", "-").replace("+", "-").replace("_", "-").split("-")
    ]
    parts = [p for p in parts if p]
    if not parts:
        return None
    return all(p in STABLE_SYMBOLS for p in parts)


def exposure_from_symbol(symbol: str | None) -> str | None:
    """``"multi"`` for a pair/basket symbol (``A-B``), ``"single"`` otherwise."""
    if symbol is None or not symbol.strip():
        return None
    parts = [p for p in symbol.replace("/", "-").split("-") if p.strip()]
    return "multi" if len(parts) > 1 else "single"
