"""Facts behind the risk score and the dependency caps: protocols, chains and tokens.

Why tables: a risk score that says "this pool is riskier" must be able to say *why*
(the protocol is eight months old, was exploited last year, is a vault on a vault; the
chain is a young rollup whose assets came over a bridge; the stablecoin is a synthetic
dollar whose collateral sits at exchanges). Those facts change slowly and are public,
so they ship as dated, sourced package data that anyone can read, check and correct:

* ``realyield/data/protocols.csv``: one row per DeFiLlama project slug (``aave-v3``,
  ``curve-dex``...). ``family`` groups versions (aave-v2, aave-v3 -> aave).
  ``launched`` is the first mainnet date of that version; ``audits`` the number of
  public audit reports known to us (approximate; 0 means none known, not "unaudited");
  ``exploits`` the count of known exploits or hacks with user losses up to ``as_of``,
  with the date of the last one and a rough total loss in USD (empty when unknown).
  ``collateral`` says whether a lender is covered by on-chain collateral that is
  liquidated automatically (``overcollateralized``), by a borrower's credit or by
  off-chain assets (``undercollateralized``), or is not lending (``not_lending``).
  ``layers`` counts contract layers above the base protocol (0 a base protocol, 1 a
  vault or booster on another protocol, 2 a vault on a booster on a DEX). ``custody``
  is ``custodial`` when the assets earning the yield leave on-chain control (an
  exchange, a custodian, an off-chain borrower).
* ``realyield/data/chains.csv``: one row per chain, named as DeFiLlama spells it, with
  its kind (``l1``, ``rollup``, ``sidechain``, ``appchain``), the chain it settles to,
  whether users' assets there mostly arrived over a bridge, and a count of major
  incidents (halts, consensus failures, bridge hacks).
* ``realyield/data/tokens.csv``: one row per token symbol as it appears in pool symbols
  (upper case), with its kind (``stablecoin``, ``lst``, ``lrt``, ``wrapped``,
  ``native``), the issuer a holder depends on, the peg asset and the chain of origin.
  Trustless wrappers of a chain's own coin (WETH, WBNB, WAVAX...) are ``native``: there
  is no issuer to fail. ``wrapped`` is for custodial or bridge-backed representations
  (WBTC, cbBTC, BTC.b). Yield-bearing dollars (sDAI, sUSDe) are ``stablecoin``s whose
  value grows against their peg.

Every figure is an approximation as of the row's ``as_of`` date (2025-06-30 for the
packaged tables): events after it are deliberately absent, so that anything scored as
of that date sees no later data. ``notes`` say what is approximate.

Lookups (``protocol_facts``, ``chain_facts``, ``token_facts``, ``split_symbol``) read the
packaged tables once and answer from dictionaries, fast enough to call for tens of
thousands of opportunities; they return ``None`` for unknown names rather than raising.
"""

from realyield.scoring.metadata.loading import load_chains, load_protocols, load_tokens
from realyield.scoring.metadata.lookups import (
    BRIDGED_PREFIXES,
    BRIDGED_SUFFIXES,
    WRAPPER_PREFIXES,
    chain_facts,
    family_members,
    protocol_facts,
    split_symbol,
    token_facts,
)
from realyield.scoring.metadata.parsing import (
    CHAIN_COLUMNS,
    CHAINS_FILE,
    PROTOCOL_COLUMNS,
    PROTOCOLS_FILE,
    TOKEN_COLUMNS,
    TOKENS_FILE,
    parse_chains,
    parse_protocols,
    parse_tokens,
)
from realyield.scoring.metadata.records import (
    CHAIN_KINDS,
    COLLATERAL_KINDS,
    CUSTODY_KINDS,
    MAX_LAYERS,
    PEGS,
    PROTOCOL_CATEGORIES,
    TOKEN_KINDS,
    ChainFacts,
    ProtocolFacts,
    TokenFacts,
)

__all__ = [
    "BRIDGED_PREFIXES",
    "BRIDGED_SUFFIXES",
    "CHAINS_FILE",
    "CHAIN_COLUMNS",
    "CHAIN_KINDS",
    "COLLATERAL_KINDS",
    "CUSTODY_KINDS",
    "MAX_LAYERS",
    "PEGS",
    "PROTOCOLS_FILE",
    "PROTOCOL_CATEGORIES",
    "PROTOCOL_COLUMNS",
    "TOKENS_FILE",
    "TOKEN_COLUMNS",
    "TOKEN_KINDS",
    "WRAPPER_PREFIXES",
    "ChainFacts",
    "ProtocolFacts",
    "TokenFacts",
    "chain_facts",
    "family_members",
    "load_chains",
    "load_protocols",
    "load_tokens",
    "parse_chains",
    "parse_protocols",
    "parse_tokens",
    "protocol_facts",
    "split_symbol",
    "token_facts",
]
