"""The scored universe's fields as arrays, for the many small selections a build makes.

An index build filters the scored universe by its eligibility rules, once per sleeve,
ranks what is left and groups it by shared dependency; a level replay does that for
every index at every rebalance date. On a few hundred rows a data-frame query costs far
more in setting up than in work, so the fields the rules read are taken out once per
date as numpy arrays and the selections are boolean masks over them, giving positions
in the scored universe (the rows of its table).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from realyield.indices.composition import Constituent
from realyield.indices.methodology import Eligibility
from realyield.indices.weights import CapGroup
from realyield.reference import split_symbol, token_facts
from realyield.scoring.record_facts import number
from realyield.scoring.score import ScoredUniverse

Rows = NDArray[np.intp]


def underlying_assets(underlying: Sequence[str], symbol: str) -> tuple[str, ...]:
    """Asset ids behind a position: its ``underlying`` when they are asset ids (not
    contract addresses), else the symbol's tokens mapped through the token table."""
    ids = tuple(u for u in underlying if not u.startswith("0x") and len(u) < 60)
    if ids:
        return ids
    out = []
    for token in split_symbol(symbol):
        facts = token_facts(token)
        if facts is not None and facts.asset_id:
            out.append(facts.asset_id)
    return tuple(dict.fromkeys(out))


def _zero_nan(x: float) -> float:
    return 0.0 if math.isnan(x) else x


@dataclass(frozen=True)
class CandidateColumns:
    """Per scored opportunity: what eligibility, ranking, caps and holdings read.

    A missing number (NaN) fails every threshold rule.
    """

    scored: ScoredUniverse
    kind: NDArray[np.str_]
    chain: NDArray[np.str_]  # lower case
    stablecoin: NDArray[np.bool_]
    excluded: NDArray[np.bool_]
    apy: NDArray[np.float64]
    tvl_usd: NDArray[np.float64]
    sustainability: NDArray[np.float64]
    risk: NDArray[np.float64]
    apy_sustainable: NDArray[np.float64]  # unknown as 0
    lockup_days: NDArray[np.float64]  # the record's, else the network's unbonding period
    forecast_apy_30d: NDArray[np.float64] | None  # NaN: no forecast; None without a model
    dependencies: list[tuple[str, ...]]
    underlying: list[tuple[str, ...]]

    @classmethod
    def of(cls, scored: ScoredUniverse) -> CandidateColumns:
        x = scored.inputs
        opps = x.opportunities
        forecast = None
        if scored.forecast is not None:
            f = scored.forecast
            by_id = dict(zip(f["id"].to_list(), f["forecast_apy_30d"].to_list(), strict=True))
            forecast = np.array([number(by_id.get(o.id)) for o in opps], dtype=np.float64)
        return cls(
            scored=scored,
            kind=np.asarray([o.kind for o in opps], dtype=np.str_),
            chain=np.asarray([o.chain.lower() for o in opps], dtype=np.str_),
            stablecoin=np.asarray([bool(o.stablecoin) for o in opps], dtype=bool),
            excluded=np.asarray([bool(r) for r in scored.reasons], dtype=bool),
            apy=np.asarray(x.apy, dtype=np.float64),
            tvl_usd=np.asarray(x.tvl_usd, dtype=np.float64),
            sustainability=np.asarray(scored.sustainability_total, dtype=np.float64),
            risk=np.asarray(scored.risk_total, dtype=np.float64),
            apy_sustainable=np.nan_to_num(scored.sustainable, nan=0.0),
            lockup_days=np.asarray(x.lockup_days, dtype=np.float64),
            forecast_apy_30d=forecast,
            dependencies=[d.keys() for d in x.dependencies],
            underlying=[underlying_assets(o.underlying, o.symbol) for o in opps],
        )

    def constituent(
        self,
        i: int,
        weight: float,
        sleeve: str | None,
        *,
        underlying: tuple[str, ...] | None = None,
    ) -> Constituent:
        """Candidate ``i`` held at ``weight``; unknown yields count as 0, and a holding
        with no known base/reward split has its whole APY counted as emissions."""
        o = self.scored.inputs.opportunities[i]
        apy = _zero_nan(float(self.apy[i]))
        return Constituent(
            id=o.id,
            label=f"{o.protocol} {o.symbol}",
            kind=o.kind,
            chain=o.chain,
            weight=weight,
            apy=apy,
            apy_real=_zero_nan(float(self.scored.real_base[i])),
            apy_emission=(
                o.apy_reward if o.apy_reward is not None else max(0.0, apy - (o.apy_base or 0.0))
            ),
            apy_sustainable=float(self.apy_sustainable[i]),
            risk=float(self.risk[i]),
            underlying=self.underlying[i] or (underlying or ()),
            dependencies=self.dependencies[i],
            sleeve=sleeve,
        )

    def __len__(self) -> int:
        return int(self.kind.size)

    def eligible(self, rules: Eligibility, among: Rows | None = None) -> Rows:
        """Positions (ascending) of the rows, of all or of ``among``, that meet ``rules``."""
        keep = np.ones(len(self), dtype=bool)
        if rules.kinds:
            keep &= np.isin(self.kind, list(rules.kinds))
        if rules.chains:
            keep &= np.isin(self.chain, [c.lower() for c in rules.chains])
        if rules.stablecoin_only:
            keep &= self.stablecoin
        with np.errstate(invalid="ignore"):  # NaN compares False: a missing value fails
            if rules.max_apy is not None:
                keep &= self.apy <= rules.max_apy
            if rules.min_tvl_usd is not None:
                keep &= self.tvl_usd >= rules.min_tvl_usd
            if rules.min_sustainability is not None:
                keep &= self.sustainability >= rules.min_sustainability
            if rules.max_risk is not None:
                keep &= self.risk <= rules.max_risk
        if rules.require_screens:
            keep &= ~self.excluded
        if among is not None:
            within = np.zeros(len(self), dtype=bool)
            within[among] = True
            keep &= within
        return np.flatnonzero(keep)


def dependency_groups(
    keys: Sequence[Sequence[str]],
    caps: Mapping[str, float],
    *,
    shared_only: bool = False,
    single_cap: float = 1.0,
) -> list[CapGroup]:
    """One cap group per dependency key whose kind (the part before ``:``, as in
    ``protocol:aave``) has a cap, over the positions of ``keys`` that hold it; with
    ``shared_only``, only keys held by more than one position.

    A group whose members, each at ``single_cap``, cannot reach its cap can never bind
    and is left out (the weighting would drop it anyway; most dependency keys of a
    large universe are held by one or two pools)."""
    members: dict[str, list[int]] = {}
    for i, row in enumerate(keys):
        for key in row:
            if key.split(":", 1)[0] in caps:
                members.setdefault(key, []).append(i)
    groups = []
    for key, held in members.items():
        cap = caps[key.split(":", 1)[0]]
        # the members' reach summed as the weighting sums it, so both agree on the edge
        reach = min(sum([single_cap] * len(held)), 1.0)
        if (len(held) > 1 or not shared_only) and cap < reach:
            groups.append(CapGroup(key, np.asarray(held, dtype=np.intp), cap))
    return groups
