"""Which assets have a peg to watch: stablecoins (to 1 USD) and liquid staking tokens (to
their chain's coin), recognised by CoinGecko id or by symbol.

Why from the tokens table: ``realyield/data/tokens.csv`` already says, per symbol, the
asset id, the kind (stablecoin, lst) and the peg asset, with sources and dates; the
monitor's peg rules and the execution stage's index-to-coin mapping read the same facts
the risk score does instead of keeping a second list.
A price file imported under a symbol-like name (``busd.csv`` -> asset ``busd``) is still
recognised through the symbol.

Two kinds of peg:

* **par**: the token is redeemable one for one (USD stablecoins, rebasing LSTs such as
  stETH). Its deviation is measured against 1 (stablecoin) or against the underlying
  coin's price (LST).
* **accruing**: the token's value grows against the peg asset (wstETH, rETH, sDAI...).
  Without the on-chain redemption rate its fair value is approximated by the highest
  price ratio of the previous ``reference_days``; the rate only ever rises, so a ratio
  below that is a market discount (or a slashing, which deserves the alert too).
  Accruing stablecoins are not depeg-checked: their price is not meant to be 1.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from realyield.scoring.metadata import load_tokens, token_facts
from realyield.scoring.metadata.records import TokenFacts

#: CoinGecko id of the coin each LST peg stands for.
PEG_ASSET_IDS: Final[Mapping[str, str]] = {
    "eth": "ethereum",
    "btc": "bitcoin",
    "sol": "solana",
    "avax": "avalanche-2",
    "atom": "cosmos",
    "dot": "polkadot",
    "ksm": "kusama",
    "bnb": "binancecoin",
    "pol": "matic-network",
    "ftm": "fantom",
    "near": "near",
    "trx": "tron",
    "ada": "cardano",
    "osmo": "osmosis",
    "hbar": "hedera-hashgraph",
    "sui": "sui",
    "apt": "aptos",
    "inj": "injective-protocol",
    "sei": "sei-network",
    "ton": "the-open-network",
    "mnt": "mantle",
}

#: LSTs that rebase (one token redeems for one coin): stETH and the like. Every other
#: LST accrues value against its coin.
REBASING_LST_IDS: Final = frozenset({"staked-ether", "frax-ether", "origin-ether", "seth2"})

#: The phrase tokens.csv uses for yield-bearing tokens whose value grows against the peg.
_ACCRUING_NOTE: Final = "grows against the peg"


@dataclass(frozen=True, slots=True)
class PegInfo:
    """What an asset is pegged to and how to measure its deviation."""

    asset_id: str
    symbol: str
    kind: str  # stablecoin | lst
    peg: str  # usd, eth, sol, ...
    reference_id: str | None  # the peg coin's asset id (LSTs); None: 1 USD
    par: bool  # one-for-one redeemable (True) or value accruing (False)


def _info(asset_id: str, facts: TokenFacts) -> PegInfo | None:
    if facts.kind == "stablecoin":
        if facts.peg != "usd" or _ACCRUING_NOTE in facts.notes:
            return None  # a euro coin needs an FX rate; a savings dollar is not at par
        return PegInfo(asset_id, facts.symbol, "stablecoin", "usd", None, True)
    if facts.kind == "lst":
        reference = PEG_ASSET_IDS.get(facts.peg)
        if reference is None:
            return None
        par = (facts.asset_id or asset_id) in REBASING_LST_IDS
        return PegInfo(asset_id, facts.symbol, "lst", facts.peg, reference, par)
    return None


@functools.lru_cache(maxsize=1)
def _by_asset_id() -> Mapping[str, TokenFacts]:
    """The tokens table keyed by asset id; a canonical row (symbol without a bridge
    marker) wins over its bridged variants."""
    out: dict[str, TokenFacts] = {}
    for facts in load_tokens().values():
        if facts.asset_id is None or facts.kind not in ("stablecoin", "lst"):
            continue
        current = out.get(facts.asset_id)
        if current is None or len(facts.symbol) < len(current.symbol):
            out[facts.asset_id] = facts
    return out


@functools.lru_cache(maxsize=4096)
def recognise(asset_id: str, symbol: str | None = None) -> PegInfo | None:
    """The peg of ``asset_id`` (a CoinGecko id), or of ``symbol`` / the id read as a
    symbol, when it is a USD stablecoin or an LST with a known coin; else ``None``."""
    facts = _by_asset_id().get(asset_id)
    if facts is None:
        for candidate in (symbol, asset_id):
            if candidate:
                found = token_facts(candidate)
                if found is not None and found.kind in ("stablecoin", "lst"):
                    facts = found
                    break
    return _info(asset_id, facts) if facts is not None else None


def pegged_assets(
    asset_ids: list[str], symbols: Mapping[str, str] | None = None
) -> dict[str, PegInfo]:
    """The recognised subset of ``asset_ids`` (``symbols`` maps ids to known symbols)."""
    symbols = symbols or {}
    out: dict[str, PegInfo] = {}
    for asset_id in asset_ids:
        info = recognise(asset_id, symbols.get(asset_id))
        if info is not None:
            out[asset_id] = info
    return out
