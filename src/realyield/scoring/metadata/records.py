"""The three facts records (protocol, chain, token) and the rules every row must obey.

Records validate themselves on construction, so a table that loads is a table whose
every row is plausible: no negative counts, no dates after the row's ``as_of``, no
unknown categories. That is what lets the risk score trust them without re-checking.

Raises:
    RecordError: (a DataError) from each record's constructor, naming the record, the
        field, the value and the rule it breaks.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final

from realyield.core.errors import RecordError

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

_SLUG = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_ISSUER = re.compile(r"^[a-z0-9][a-z0-9.\-()]*$")


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
