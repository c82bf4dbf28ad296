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

from __future__ import annotations

import csv
import functools
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar

from realyield.core.errors import DataError, RecordError

PROTOCOLS_FILE: Final = "protocols.csv"
CHAINS_FILE: Final = "chains.csv"
TOKENS_FILE: Final = "tokens.csv"

PROTOCOL_COLUMNS: Final = (
    "protocol",
    "family",
    "launched",
    "audits",
    "exploits",
    "last_exploit",
    "exploit_loss_usd",
    "collateral",
    "layers",
    "custody",
    "category",
    "as_of",
    "source_url",
    "notes",
)
CHAIN_COLUMNS: Final = (
    "chain",
    "launched",
    "kind",
    "settlement",
    "bridge_dependency",
    "major_incidents",
    "as_of",
    "source_url",
    "notes",
)
TOKEN_COLUMNS: Final = (
    "symbol",
    "asset_id",
    "kind",
    "issuer",
    "peg",
    "chain_of_origin",
    "as_of",
    "notes",
)

COLLATERAL_KINDS: Final = ("overcollateralized", "undercollateralized", "not_lending")
CUSTODY_KINDS: Final = ("non_custodial", "custodial")
PROTOCOL_CATEGORIES: Final = (
    "lending",
    "cdp",
    "dex",
    "liquid_staking",
    "liquid_restaking",
    "restaking",
    "staking",
    "yield_aggregator",
    "liquidity_manager",
    "leveraged_farming",
    "yield",
    "savings",
    "basis_trading",
    "derivatives",
    "options",
    "rwa",
    "bridge",
    "stablecoin",
    "insurance",
    "incentives",
    "nft",
    "other",
)
CHAIN_KINDS: Final = ("l1", "rollup", "sidechain", "appchain")
TOKEN_KINDS: Final = ("stablecoin", "lst", "lrt", "wrapped", "native")
#: Assets a token may be pegged to (fiat currencies, gold, and chains' native coins).
PEGS: Final = frozenset(
    {
        "usd", "eur", "gbp", "chf", "jpy", "sgd", "xau",
        "eth", "btc", "sol", "avax", "atom", "dot", "ksm", "bnb", "pol", "ftm", "s",
        "near", "trx", "ada", "osmo", "kava", "cro", "glmr", "celo", "hbar", "egld",
        "xtz", "apt", "sui", "metis", "mnt", "ton", "inj", "sei", "hype", "bera", "one",
        "neo", "dfi", "fil", "ltc", "doge", "xrp",
    }
)  # fmt: skip
#: More layers than this above a base protocol is a data error, not a product.
MAX_LAYERS: Final = 4
#: Suffixes that mark a bridged copy of a token (``USDC.e`` on Avalanche/Arbitrum...).
BRIDGED_SUFFIXES: Final = (".E", ".WH", ".AXL")
#: Prefixes that mark a bridged or cross-consensus copy (``axlUSDC``, ``xcDOT``, ``m.USDC``).
BRIDGED_PREFIXES: Final = ("AXL", "XC", "M.")
#: Wrapper prefixes ``split_symbol`` drops (Pendle principal/yield/standardised tokens, LP).
WRAPPER_PREFIXES: Final = frozenset({"PT", "YT", "SY", "LP"})

_SLUG = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_ISSUER = re.compile(r"^[a-z0-9][a-z0-9.\-()]*$")
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})

_T = TypeVar("_T")


# --- field checks shared by the records -------------------------------------------------


def _check_text(rec: str, name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RecordError(rec, name, value, "must be a non-empty string")


def _check_choice(rec: str, name: str, value: object, choices: Iterable[str]) -> None:
    allowed = tuple(sorted(choices)) if isinstance(choices, frozenset) else tuple(choices)
    if value not in allowed:
        raise RecordError(rec, name, value, f"unknown value; use one of {allowed}")


def _check_count(rec: str, name: str, value: object, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(rec, name, value, "must be a whole number")
    if value < 0:
        raise RecordError(rec, name, value, "must be >= 0 (negative counts are refused)")
    if high is not None and value > high:
        raise RecordError(rec, name, value, f"must be <= {high}")


def _check_date(rec: str, name: str, value: object, *, as_of: date | None) -> None:
    if not isinstance(value, date):
        raise RecordError(rec, name, value, "must be a date")
    if as_of is not None and value > as_of:
        raise RecordError(rec, name, value, f"is after the row's as_of date {as_of}")


def _check_url(rec: str, value: object) -> None:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise RecordError(rec, "source_url", value, "must be an http(s) URL")


# --- records ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProtocolFacts:
    """What is publicly known about one protocol version (a DeFiLlama project slug).

    Raises:
        RecordError: on a slug or family that is not lower-case ``[a-z0-9.-]``, an
            unknown collateral/custody/category, a negative or non-integer count, more
            than ``MAX_LAYERS`` layers, a negative or non-finite loss, dates after
            ``as_of``, exploits without a last-exploit date (or a date or loss without
            exploits), a last exploit before the launch, or a non-http(s) source URL.
    """

    protocol: str
    family: str
    launched: date
    audits: int
    exploits: int
    last_exploit: date | None
    exploit_loss_usd: float | None
    collateral: str
    layers: int
    custody: str
    category: str
    as_of: date
    source_url: str
    notes: str = ""

    def __post_init__(self) -> None:
        rec = f"ProtocolFacts[{self.protocol!r}]"
        for name in ("protocol", "family"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _SLUG.match(value):
                raise RecordError(rec, name, value, "must be a lower-case slug [a-z0-9.-]")
        _check_date(rec, "as_of", self.as_of, as_of=None)
        _check_date(rec, "launched", self.launched, as_of=self.as_of)
        _check_count(rec, "audits", self.audits)
        _check_count(rec, "exploits", self.exploits)
        _check_count(rec, "layers", self.layers, MAX_LAYERS)
        _check_choice(rec, "collateral", self.collateral, COLLATERAL_KINDS)
        _check_choice(rec, "custody", self.custody, CUSTODY_KINDS)
        _check_choice(rec, "category", self.category, PROTOCOL_CATEGORIES)
        _check_url(rec, self.source_url)
        loss = self.exploit_loss_usd
        if loss is not None and (
            isinstance(loss, bool)
            or not isinstance(loss, (int, float))
            or not math.isfinite(loss)
            or loss < 0
        ):
            raise RecordError(rec, "exploit_loss_usd", loss, "must be a finite number >= 0")
        if self.exploits == 0:
            if self.last_exploit is not None:
                raise RecordError(rec, "last_exploit", self.last_exploit, "given but exploits is 0")
            if loss:
                raise RecordError(rec, "exploit_loss_usd", loss, "is not 0 but exploits is 0")
        else:
            if self.last_exploit is None:
                raise RecordError(
                    rec, "last_exploit", None, f"missing although exploits is {self.exploits}"
                )
            _check_date(rec, "last_exploit", self.last_exploit, as_of=self.as_of)
            if self.last_exploit < self.launched:
                raise RecordError(
                    rec, "last_exploit", self.last_exploit, f"is before launched {self.launched}"
                )

    @property
    def lending(self) -> bool:
        """True for lending markets and CDPs (a lender or minter faces a borrower)."""
        return self.collateral != "not_lending"


@dataclass(frozen=True, slots=True)
class ChainFacts:
    """What is publicly known about one chain, named as DeFiLlama spells it.

    Raises:
        RecordError: on an empty name or settlement, an unknown kind, an L1 that settles
            elsewhere or a rollup that settles on itself, a negative or non-integer
            incident count, a non-boolean bridge flag, dates after ``as_of``, or a
            non-http(s) source URL.
    """

    chain: str
    launched: date
    kind: str
    settlement: str
    bridge_dependency: bool
    major_incidents: int
    as_of: date
    source_url: str
    notes: str = ""

    def __post_init__(self) -> None:
        rec = f"ChainFacts[{self.chain!r}]"
        _check_text(rec, "chain", self.chain)
        _check_text(rec, "settlement", self.settlement)
        _check_choice(rec, "kind", self.kind, CHAIN_KINDS)
        _check_date(rec, "as_of", self.as_of, as_of=None)
        _check_date(rec, "launched", self.launched, as_of=self.as_of)
        if not isinstance(self.bridge_dependency, bool):
            raise RecordError(
                rec, "bridge_dependency", self.bridge_dependency, "must be true/false"
            )
        _check_count(rec, "major_incidents", self.major_incidents)
        _check_url(rec, self.source_url)
        own = self.settlement.lower() == self.chain.lower()
        if self.kind == "l1" and not own:
            raise RecordError(rec, "settlement", self.settlement, "an l1 settles on itself")
        if self.kind == "rollup" and own:
            raise RecordError(rec, "settlement", self.settlement, "a rollup settles elsewhere")

    @property
    def settles_elsewhere(self) -> bool:
        """True when finality depends on another chain (rollups, parachains...)."""
        return self.settlement.lower() != self.chain.lower()


@dataclass(frozen=True, slots=True)
class TokenFacts:
    """What a token symbol stands for: its kind, issuer, peg and chain of origin.

    Raises:
        RecordError: on a symbol that is not upper case, an unknown kind or peg, an
            issuer that is not a lower-case slug, an empty chain of origin or a
            non-date ``as_of``.
    """

    symbol: str
    asset_id: str | None
    kind: str
    issuer: str
    peg: str
    chain_of_origin: str
    as_of: date
    notes: str = ""

    def __post_init__(self) -> None:
        rec = f"TokenFacts[{self.symbol!r}]"
        _check_text(rec, "symbol", self.symbol)
        if self.symbol != self.symbol.upper() or self.symbol != self.symbol.strip():
            raise RecordError(rec, "symbol", self.symbol, "must be upper case without spaces")
        if self.asset_id is not None:
            _check_text(rec, "asset_id", self.asset_id)
        _check_choice(rec, "kind", self.kind, TOKEN_KINDS)
        if not isinstance(self.issuer, str) or not _ISSUER.match(self.issuer):
            raise RecordError(rec, "issuer", self.issuer, "must be a lower-case slug")
        _check_choice(rec, "peg", self.peg, PEGS)
        _check_text(rec, "chain_of_origin", self.chain_of_origin)
        _check_date(rec, "as_of", self.as_of, as_of=None)

    @property
    def pegged(self) -> bool:
        """True when holding the token adds an issuer's peg on top of the asset."""
        return self.kind != "native"


# --- parsing ----------------------------------------------------------------------------


class _Row:
    """One CSV row with typed accessors that raise ``RecordError`` naming the field."""

    __slots__ = ("_row", "where")

    def __init__(self, where: str, row: Mapping[str, str]) -> None:
        self.where = where
        self._row = row

    def text(self, name: str) -> str:
        return self._row[name].strip()

    def required(self, name: str) -> str:
        value = self.text(name)
        if not value:
            raise RecordError(self.where, name, self._row[name], "is empty; a value is required")
        return value

    def optional(self, name: str) -> str | None:
        return self.text(name) or None

    def count(self, name: str) -> int:
        raw = self.required(name)
        try:
            return int(raw)
        except ValueError:
            raise RecordError(self.where, name, raw, "is not a whole number") from None

    def number(self, name: str) -> float | None:
        raw = self.text(name)
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            raise RecordError(self.where, name, raw, "is not a number") from None

    def day(self, name: str) -> date:
        raw = self.required(name)
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise RecordError(self.where, name, raw, "must be an ISO date (YYYY-MM-DD)") from None

    def optional_day(self, name: str) -> date | None:
        return self.day(name) if self.text(name) else None

    def flag(self, name: str) -> bool:
        raw = self.text(name).lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise RecordError(self.where, name, self._row[name], "must be true or false")


def _protocol_row(row: _Row) -> ProtocolFacts:
    return ProtocolFacts(
        protocol=row.required("protocol"),
        family=row.required("family"),
        launched=row.day("launched"),
        audits=row.count("audits"),
        exploits=row.count("exploits"),
        last_exploit=row.optional_day("last_exploit"),
        exploit_loss_usd=row.number("exploit_loss_usd"),
        collateral=row.required("collateral"),
        layers=row.count("layers"),
        custody=row.required("custody"),
        category=row.required("category"),
        as_of=row.day("as_of"),
        source_url=row.required("source_url"),
        notes=row.text("notes"),
    )


def _chain_row(row: _Row) -> ChainFacts:
    return ChainFacts(
        chain=row.required("chain"),
        launched=row.day("launched"),
        kind=row.required("kind"),
        settlement=row.required("settlement"),
        bridge_dependency=row.flag("bridge_dependency"),
        major_incidents=row.count("major_incidents"),
        as_of=row.day("as_of"),
        source_url=row.required("source_url"),
        notes=row.text("notes"),
    )


def _token_row(row: _Row) -> TokenFacts:
    return TokenFacts(
        symbol=row.required("symbol"),
        asset_id=row.optional("asset_id"),
        kind=row.required("kind"),
        issuer=row.required("issuer"),
        peg=row.required("peg"),
        chain_of_origin=row.required("chain_of_origin"),
        as_of=row.day("as_of"),
        notes=row.text("notes"),
    )


def _parse(
    lines: Iterable[str],
    *,
    name: str,
    columns: tuple[str, ...],
    build: Callable[[_Row], _T],
    key: Callable[[_T], str],
) -> tuple[dict[str, _T], dict[str, int]]:
    """Parse a facts table; return records by case-folded key and their row numbers."""
    reader = csv.DictReader(lines)
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    reader.fieldnames = list(header)
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{name}: header lacks column(s) {missing}; expected {list(columns)}")
    out: dict[str, _T] = {}
    rows: dict[str, int] = {}
    for row_number, raw in enumerate(reader, start=2):
        where = f"{name} row {row_number}"
        if any(raw.get(c) is None for c in columns):
            raise DataError(f"{where}: too few values ({len(raw)} for {len(header)} columns)")
        if None in raw:
            raise DataError(f"{where}: more values than columns (an unquoted comma?)")
        try:
            record = build(_Row(where, raw))
        except RecordError as exc:
            if exc.record == where:
                raise
            raise RecordError(where, exc.field, exc.value, exc.problem) from exc
        k = key(record).lower()
        if k in out:
            raise DataError(f"{where}: duplicates row {rows[k]} ({key(record)!r})")
        out[k] = record
        rows[k] = row_number
    if not out:
        raise DataError(f"{name}: no rows")
    return out, rows


def parse_protocols(
    lines: Iterable[str], *, name: str = PROTOCOLS_FILE
) -> dict[str, ProtocolFacts]:
    """Parse the protocols table from CSV lines, keyed by slug; ``name`` labels errors.

    Rows are numbered as in a spreadsheet: the header is row 1.

    Raises:
        DataError: on a missing column, a row with too few or too many values, a
            duplicate slug or an empty table.
        RecordError: (a DataError) naming the file, the row and the field, for a value
            that does not parse or breaks a rule of ``ProtocolFacts``.
    """
    out, _ = _parse(
        lines, name=name, columns=PROTOCOL_COLUMNS, build=_protocol_row, key=lambda p: p.protocol
    )
    return out


def parse_chains(lines: Iterable[str], *, name: str = CHAINS_FILE) -> dict[str, ChainFacts]:
    """Parse the chains table from CSV lines, keyed by lower-case chain name.

    Raises:
        DataError: on a missing column, a malformed row, a duplicate chain (names are
            compared case-insensitively) or an empty table.
        RecordError: naming the file, the row and the field, for a bad value, including
            a ``settlement`` that names no chain in the table.
    """
    out, rows = _parse(
        lines, name=name, columns=CHAIN_COLUMNS, build=_chain_row, key=lambda c: c.chain
    )
    for k, facts in out.items():
        if facts.settlement.lower() not in out:
            raise RecordError(
                f"{name} row {rows[k]}", "settlement", facts.settlement, "names no chain here"
            )
    return out


def parse_tokens(lines: Iterable[str], *, name: str = TOKENS_FILE) -> dict[str, TokenFacts]:
    """Parse the tokens table from CSV lines, keyed by upper-case symbol.

    Raises:
        DataError: on a missing column, a malformed row, a duplicate symbol or an empty
            table.
        RecordError: naming the file, the row and the field, for a bad value.
    """
    out, _ = _parse(
        lines, name=name, columns=TOKEN_COLUMNS, build=_token_row, key=lambda t: t.symbol
    )
    return {k.upper(): v for k, v in out.items()}


# --- loading ----------------------------------------------------------------------------


def _read(path: Path | None, packaged: str) -> tuple[io.StringIO, str]:
    if path is None:
        resource = resources.files("realyield").joinpath("data", packaged)
        try:
            text = resource.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"packaged {packaged} is missing ({exc}); reinstall realyield") from exc
        return io.StringIO(text, newline=""), packaged
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the facts table ({exc})") from exc
    return io.StringIO(text, newline=""), path.name


@functools.lru_cache(maxsize=1)
def _packaged_protocols() -> Mapping[str, ProtocolFacts]:
    lines, name = _read(None, PROTOCOLS_FILE)
    return MappingProxyType(parse_protocols(lines, name=name))


@functools.lru_cache(maxsize=1)
def _packaged_chains() -> Mapping[str, ChainFacts]:
    lines, name = _read(None, CHAINS_FILE)
    return MappingProxyType(parse_chains(lines, name=name))


@functools.lru_cache(maxsize=1)
def _packaged_tokens() -> Mapping[str, TokenFacts]:
    lines, name = _read(None, TOKENS_FILE)
    return MappingProxyType(parse_tokens(lines, name=name))


def load_protocols(path: Path | None = None) -> Mapping[str, ProtocolFacts]:
    """The protocols table keyed by slug: ``path``, or the packaged table (parsed once).

    Raises:
        DataError: when the file is missing or unreadable, or any row is malformed
            (``RecordError`` names the file, the row and the field).
    """
    if path is None:
        return _packaged_protocols()
    lines, name = _read(path, PROTOCOLS_FILE)
    return MappingProxyType(parse_protocols(lines, name=name))


def load_chains(path: Path | None = None) -> Mapping[str, ChainFacts]:
    """The chains table keyed by lower-case name: ``path``, or the packaged table.

    Raises:
        DataError: when the file is missing or unreadable, or any row is malformed.
    """
    if path is None:
        return _packaged_chains()
    lines, name = _read(path, CHAINS_FILE)
    return MappingProxyType(parse_chains(lines, name=name))


def load_tokens(path: Path | None = None) -> Mapping[str, TokenFacts]:
    """The tokens table keyed by upper-case symbol: ``path``, or the packaged table.

    Raises:
        DataError: when the file is missing or unreadable, or any row is malformed.
    """
    if path is None:
        return _packaged_tokens()
    lines, name = _read(path, TOKENS_FILE)
    return MappingProxyType(parse_tokens(lines, name=name))


# --- lookups over the packaged tables ---------------------------------------------------


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
