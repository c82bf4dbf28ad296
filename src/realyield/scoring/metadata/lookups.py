"""Lookups over the packaged tables: facts by protocol slug, chain or token, and symbols.

Callers hold names as DeFiLlama spells them (``aave-v3-prime``, ``NEAR``, ``axlUSDC``,
``PT-SUSDE-25SEP2025``); these functions map such names onto table rows, caching the
answers because they are called for tens of thousands of opportunities. Unknown names
give ``None`` (or ``()``) rather than an error.

Raises:
    DataError: (every lookup but ``split_symbol``) the packaged table is missing or
        malformed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from realyield.scoring.metadata.loading import (
    _packaged_chains,
    _packaged_protocols,
    _packaged_tokens,
)
from realyield.scoring.metadata.records import ChainFacts, ProtocolFacts, TokenFacts

#: Suffixes that mark a bridged copy of a token (``USDC.e`` on Avalanche/Arbitrum...).
BRIDGED_SUFFIXES: Final = (".E", ".WH", ".AXL")
#: Prefixes that mark a bridged or cross-consensus copy (``axlUSDC``, ``xcDOT``, ``m.USDC``).
BRIDGED_PREFIXES: Final = ("AXL", "XC", "M.")
#: Wrapper prefixes ``split_symbol`` drops (Pendle principal/yield/standardised tokens, LP).
WRAPPER_PREFIXES: Final = frozenset({"PT", "YT", "SY", "LP"})


@functools.lru_cache(maxsize=16384)
def protocol_facts(slug: str) -> ProtocolFacts | None:
    """Facts for a DeFiLlama project slug, or ``None`` when nothing matches.

    The exact slug (case-insensitive) wins; otherwise the longest known slug that
    prefixes it at a ``-`` boundary (``aave-v3-prime`` -> ``aave-v3``,
    ``pancakeswap-amm-v3`` stays itself, ``uniswap-v9`` -> nothing unless ``uniswap`` is
    known), so new sub-products inherit their parent's facts but ``compound`` never
    matches ``compounder``.

    Raises:
        DataError: when the packaged table is missing or malformed.
    """
    table = _packaged_protocols()
    key = slug.strip().lower()
    while key:
        found = table.get(key)
        if found is not None:
            return found
        cut = key.rfind("-")
        if cut <= 0:
            return None
        key = key[:cut]
    return None


@functools.lru_cache(maxsize=1)
def _families() -> Mapping[str, tuple[ProtocolFacts, ...]]:
    groups: dict[str, list[ProtocolFacts]] = {}
    for facts in _packaged_protocols().values():
        groups.setdefault(facts.family, []).append(facts)
    return MappingProxyType(
        {k: tuple(sorted(v, key=lambda p: (p.launched, p.protocol))) for k, v in groups.items()}
    )


def family_members(family: str) -> tuple[ProtocolFacts, ...]:
    """Every packaged protocol version of a family (``"aave"``), oldest first.

    Useful when a slug is unknown but its family is (a new version inherits the
    family's exploit history as a prior). An unknown family gives ``()``.

    Raises:
        DataError: when the packaged table is missing or malformed.
    """
    return _families().get(family.strip().lower(), ())


def chain_facts(name: str) -> ChainFacts | None:
    """Facts for a chain by name, case-insensitive (``"NEAR"`` finds ``Near``), or None.

    Raises:
        DataError: when the packaged table is missing or malformed.
    """
    return _packaged_chains().get(name.strip().lower())


@functools.lru_cache(maxsize=16384)
def token_facts(symbol: str) -> TokenFacts | None:
    """Facts for a token symbol, case-insensitive, or ``None`` when unknown.

    An exact row wins (``USDC.E`` has its own); otherwise a bridged marker is removed
    and the canonical token looked up: suffixes ``BRIDGED_SUFFIXES`` (``WETH.e`` ->
    WETH) and prefixes ``BRIDGED_PREFIXES`` (``axlUSDC``, ``xcDOT``, ``m.USDC``). The
    bridge itself is a chain-level dependency (``ChainFacts.bridge_dependency``).

    Raises:
        DataError: when the packaged table is missing or malformed.
    """
    table = _packaged_tokens()
    key = symbol.strip().upper()
    found = table.get(key)
    if found is not None:
        return found
    for suffix in BRIDGED_SUFFIXES:
        if key.endswith(suffix) and len(key) > len(suffix):
            found = table.get(key[: -len(suffix)])
            if found is not None:
                return found
    for prefix in BRIDGED_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            found = table.get(key[len(prefix) :])
            if found is not None:
                return found
    return None


_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SEPARATOR = re.compile(r"[-/\s]+")
_MATURITY = re.compile(r"^\d{1,2}[A-Z]{3}\d{2,4}$")
_NUMBER = re.compile(r"^[\d.]+$")


@functools.lru_cache(maxsize=65536)
def split_symbol(symbol: str) -> tuple[str, ...]:
    """Split a pool symbol into its token symbols, upper case, in order, without repeats.

    ``"WETH-USDC"`` -> ``("WETH", "USDC")``; ``"USDC/USDT"`` -> ``("USDC", "USDT")``;
    ``"crvUSD-USDC"`` -> ``("CRVUSD", "USDC")``; ``"PT-SUSDE-25SEP2025"`` -> ``("SUSDE",)``.

    What is removed, and why: a leading wrapper prefix (``PT``, ``YT``, ``SY``, ``LP``)
    because the wrapper's risk is the protocol's (Pendle's), while the token it wraps
    carries the issuer and peg risk; maturity dates (``25SEP2025``, ``2025-09-25``) and
    bare numbers, which are not tokens; bracketed annotations (``USDC[HTS]``,
    ``(TRICRYPTO)``). Separators are ``-``, ``/`` and whitespace; ``+`` is part of
    a name (``USD+``) and so is a dot (``USDC.E`` stays bridged). An empty symbol gives
    ``()``. Never raises.
    """
    text = _ANNOTATION.sub(" ", symbol.upper())
    text = _ISO_DATE.sub(" ", text)
    parts = [
        p
        for p in _SEPARATOR.split(text)
        if p and not _MATURITY.match(p) and not _NUMBER.match(p) and p != "∞"
    ]
    if len(parts) > 1 and parts[0] in WRAPPER_PREFIXES:
        parts = parts[1:]
    return tuple(dict.fromkeys(parts))
