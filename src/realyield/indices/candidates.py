"""The candidate table's fields as arrays, for the many small selections a build makes.

An index build filters the scored universe by its eligibility rules, once per sleeve,
ranks what is left and groups it by shared dependency; a level replay does that for
every index at every rebalance date. On tables of a few hundred rows a data-frame query
costs far more in setting up than in work, so the fields the rules read are taken out
once per date as numpy arrays and the selections are boolean masks over them, giving
row positions into the candidate table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from realyield.indices.methodology import Eligibility
from realyield.indices.weights import CapGroup

Rows = NDArray[np.intp]


def _numbers(frame: pl.DataFrame, name: str, fill: float | None = None) -> NDArray[np.float64]:
    """A numeric column as float64, null as NaN (or as ``fill``)."""
    col = frame[name].cast(pl.Float64)
    if fill is not None:
        col = col.fill_null(fill)
    return col.to_numpy().astype(np.float64, copy=False)


@dataclass(frozen=True)
class CandidateColumns:
    """Per row of the candidate table: what eligibility, ranking and caps read.

    A missing number (null) fails every threshold rule, as it does in the table.
    """

    kind: NDArray[np.str_]
    chain: NDArray[np.str_]  # lower case
    stablecoin: NDArray[np.bool_]
    excluded: NDArray[np.bool_]
    apy: NDArray[np.float64]
    tvl_usd: NDArray[np.float64]
    sustainability: NDArray[np.float64]
    risk: NDArray[np.float64]
    apy_sustainable: NDArray[np.float64]  # null as 0
    forecast_apy_30d: NDArray[np.float64] | None  # null as NaN; None without a forecast
    dependencies: list[tuple[str, ...]]

    @classmethod
    def of(cls, frame: pl.DataFrame) -> CandidateColumns:
        """From a candidate table (the scored table with ``stablecoin`` and the list
        column ``dependencies``)."""
        return cls(
            kind=np.asarray(frame["kind"].to_list(), dtype=np.str_),
            chain=np.asarray(frame["chain"].str.to_lowercase().to_list(), dtype=np.str_),
            stablecoin=frame["stablecoin"].fill_null(False).to_numpy().astype(bool),
            excluded=frame["excluded"].fill_null(True).to_numpy().astype(bool),
            apy=_numbers(frame, "apy"),
            tvl_usd=_numbers(frame, "tvl_usd"),
            sustainability=_numbers(frame, "sustainability"),
            risk=_numbers(frame, "risk"),
            apy_sustainable=_numbers(frame, "apy_sustainable", fill=0.0),
            forecast_apy_30d=(
                _numbers(frame, "forecast_apy_30d") if "forecast_apy_30d" in frame.columns else None
            ),
            dependencies=[tuple(d or ()) for d in frame["dependencies"].to_list()],
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
