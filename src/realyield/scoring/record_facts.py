"""What the scores read from an opportunity's own record and the fact tables: its
exposure, staking terms, depeg exposure, protocol and chain facts, dependencies.

None of it changes with the date, only with the record, so a replay that scores the
same pools at every rebalance date looks it up once per pool through a ``FactsCache``
(the APY, TVL, history statistics and reward-token prices that do change are read each
time by ``scoring.inputs``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from realyield.core.model import Opportunity
from realyield.reference import TokenFacts, chain_facts, protocol_facts, split_symbol, token_facts
from realyield.reference.defunct import DefunctToken, defunct_tokens_in
from realyield.reference.staking import StakingParams
from realyield.scoring.dependencies import Dependencies, dependencies_of

NAN = math.nan
#: Issuers whose stablecoins are backed by derivatives or strategies, not cash.
SYNTHETIC_ISSUERS = frozenset(
    {"ethena", "usual", "resolv", "falcon-finance", "elixir", "level", "f(x)", "angle", "reserve"}
)
_DEPEG_POINTS = {"lst": 5.0, "lrt": 8.0, "wrapped": 5.0}
#: The last day a date can be: the defunct-token rows found for a record are filtered by
#: their ``since`` date when the record is scored.
_ANY_DAY = date.max


class PairToken(NamedTuple):
    """One token of a pool, as the impermanent-loss estimate needs it: its symbol, its
    asset id when the token table knows it (else ``None``: matched on symbol later) and
    the category whose fallback volatility stands in when no price history is stored."""

    symbol: str
    asset_id: str | None
    category: str
    peg_asset_id: str | None = None  # the pegged asset's id (WETH -> ethereum), if known


def _category(t: TokenFacts | None) -> str:
    if t is None:
        return "unknown"
    if t.kind == "stablecoin":
        return "stablecoin"
    if t.peg in ("btc", "eth"):
        return t.peg
    return "l1" if t.kind in ("native", "lst", "lrt") else "unknown"


def _peg_asset(t: TokenFacts | None) -> str | None:
    """The asset a token is pegged to, for its price history (WETH trades as ETH)."""
    if t is None or not t.peg:
        return None
    peg = token_facts(t.peg.upper())
    return peg.asset_id if peg is not None and peg.asset_id != t.asset_id else None


def number(value: object) -> float:
    """A finite float, else NaN (None, booleans, text and infinities are unknown)."""
    if value is None or isinstance(value, bool):
        return NAN
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return NAN
    return result if math.isfinite(result) else NAN


class RecordFacts(NamedTuple):
    """The date-independent scoring inputs of one opportunity (NaN = unknown).

    A named tuple: one is made per opportunity scored, and a tuple is built several
    times faster than a frozen dataclass."""

    exposure_multi: float
    correlated: float
    il_7d: float
    source_outlier: float
    is_staking: bool
    is_lst: bool
    staking_inflation: float
    slashing: float
    lockup_days: float
    depeg_points: float
    depeg_tokens: tuple[str, ...]
    launched: date | None
    audits: float
    exploits: float
    last_exploit: date | None
    layers: float
    collateral: str
    custodial: bool
    chain_launched: date | None
    chain_bridge: float
    chain_incidents: float
    chain_kind: str
    dependencies: Dependencies
    pair_tokens: tuple[PairToken, ...]
    defunct: tuple[tuple[str, DefunctToken], ...]


def record_facts(
    o: Opportunity,
    stake_by_asset: Mapping[str, StakingParams],
    stake_by_peg: Mapping[str, StakingParams],
) -> RecordFacts:
    """Look up everything date-independent the scores need about ``o``."""
    meta = o.meta
    tokens = split_symbol(o.symbol)
    by_symbol = {s: token_facts(s) for s in tokens}
    facts = [t for t in by_symbol.values() if t is not None]
    outlier = meta.get("outlier")
    exposure_multi = NAN
    if o.exposure is not None:
        exposure_multi = 1.0 if o.exposure == "multi" else 0.0
    elif len(tokens) > 1:
        exposure_multi = 1.0
    correlated = NAN
    all_known = len(tokens) > 1 and len(facts) == len(tokens)
    if all_known and len({t.peg for t in facts}) == 1:
        # the token table knows every token and they share one peg (USDC-crvUSD):
        # a stable pair, whatever the source's blanket ilRisk flag says
        correlated = 1.0
    elif o.il_risk is not None and exposure_multi == 1.0:
        correlated = 0.0 if o.il_risk else 1.0
    elif all_known:
        correlated = 0.0
    # staking: inflation of the network behind the stake, slashing
    is_staking, is_lst = o.kind == "staking", o.kind == "liquid_staking"
    inflation = slashing = NAN
    lockup = number(o.lockup_days)
    if is_staking or is_lst:
        params = next((stake_by_asset[a] for a in o.underlying if a in stake_by_asset), None)
        if params is None:
            peg = next((t.peg for t in facts if t.peg in stake_by_peg), None)
            params = stake_by_peg.get(peg or o.symbol.lower())
        if params is not None:
            inflation = params.supply_inflation_pct / 100.0
            slashing = 1.0 if params.slashing else 0.0
            if is_staking and math.isnan(lockup):
                lockup = params.unbonding_days
    # depeg exposure: the riskiest pegged token held
    points, exposed = 0.0, []
    for t in facts:
        p = (
            (8.0 if t.issuer in SYNTHETIC_ISSUERS else 4.0)
            if t.kind == "stablecoin"
            else _DEPEG_POINTS.get(t.kind, 0.0)
        )
        if p:
            exposed.append(t.symbol)
            points = max(points, p)
    if len({t.issuer for t in facts if t.kind != "native"}) > 1:
        points += 2.0  # two issuers: either can break the position
    # protocol and chain facts; the record's own launch date and audits win
    pf = protocol_facts(o.protocol)
    cf = chain_facts(o.chain)
    return RecordFacts(
        exposure_multi=exposure_multi,
        correlated=correlated,
        il_7d=number(meta.get("il_7d")),
        source_outlier=(1.0 if outlier else 0.0) if isinstance(outlier, bool) else NAN,
        is_staking=is_staking,
        is_lst=is_lst,
        staking_inflation=inflation,
        slashing=slashing,
        lockup_days=lockup,
        depeg_points=min(points, 12.0),
        depeg_tokens=tuple(exposed),
        launched=o.launched or (pf.launched if pf else None),
        audits=float(o.audits) if o.audits is not None else (float(pf.audits) if pf else NAN),
        exploits=float(pf.exploits) if pf else NAN,
        last_exploit=pf.last_exploit if pf else None,
        layers=float(pf.layers) if pf else (1.0 if o.kind == "vault" else NAN),
        collateral=((pf.collateral if pf else "unknown") if o.kind == "lending" else "not_lending"),
        custodial=pf is not None and pf.custody == "custodial",
        chain_launched=cf.launched if cf else None,
        chain_bridge=(1.0 if cf.bridge_dependency else 0.0) if cf else NAN,
        chain_incidents=float(cf.major_incidents) if cf else NAN,
        chain_kind=cf.kind if cf else "unknown",
        dependencies=dependencies_of(o, tokens, facts, pf, cf),
        pair_tokens=tuple(
            PairToken(s, t.asset_id if t else None, _category(t), _peg_asset(t))
            for s, t in by_symbol.items()
        ),
        defunct=tuple(defunct_tokens_in(tokens, o.underlying, o.chain, as_of=_ANY_DAY)),
    )


def _fingerprint(o: Opportunity) -> tuple[Any, ...]:
    """The record fields the facts are drawn from (``meta`` by identity)."""
    return (
        o.kind,
        o.chain,
        o.protocol,
        o.symbol,
        o.underlying,
        o.reward_tokens,
        o.exposure,
        o.il_risk,
        o.lockup_days,
        o.audits,
        o.launched,
        id(o.meta),
    )


@dataclass
class FactsCache:
    """Record facts by opportunity id, for scoring the same pools on many dates.

    An entry is reused only while the record's fields it came from are unchanged and the
    staking table is the same one (:meth:`using` starts afresh when it is not).
    """

    _entries: dict[str, tuple[tuple[Any, ...], RecordFacts]] = field(default_factory=dict)
    _staking: list[StakingParams] | None = None

    def using(self, staking: Sequence[StakingParams]) -> FactsCache:
        """This cache, emptied first if it was filled with another staking table."""
        if self._staking != list(staking):
            self._entries.clear()
            self._staking = list(staking)
        return self

    def facts(
        self,
        o: Opportunity,
        stake_by_asset: Mapping[str, StakingParams],
        stake_by_peg: Mapping[str, StakingParams],
    ) -> RecordFacts:
        key = _fingerprint(o)
        hit = self._entries.get(o.id)
        if hit is not None and hit[0] == key:
            return hit[1]
        found = record_facts(o, stake_by_asset, stake_by_peg)
        self._entries[o.id] = (key, found)
        return found
