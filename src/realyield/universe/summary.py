"""Summaries of a universe: what the demo and ``data status`` show.

Kept in the library (not the CLI) so the API and dashboard can show the same figures.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from realyield.core.model import OPPORTUNITY_KINDS, Opportunity


@dataclass
class KindSummary:
    kind: str
    count: int = 0
    tvl_usd: float = 0.0
    base_share: float | None = None  # TVL-weighted share of APY paid as fees/interest
    median_apy: float | None = None


@dataclass
class UniverseSummary:
    """Counts, TVL and the real-vs-emission split of a set of opportunities."""

    count: int
    chains: dict[str, int]
    protocols: int
    tvl_usd: float
    kinds: list[KindSummary] = field(default_factory=list)
    tvl_weighted_apy: float | None = None
    tvl_weighted_base_apy: float | None = None
    above_100pct_apy: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "chains": self.chains,
            "protocols": self.protocols,
            "tvl_usd": self.tvl_usd,
            "tvl_weighted_apy": self.tvl_weighted_apy,
            "tvl_weighted_base_apy": self.tvl_weighted_base_apy,
            "above_100pct_apy": self.above_100pct_apy,
            "kinds": [vars(k) for k in self.kinds],
        }


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def summarize(opps: Sequence[Opportunity]) -> UniverseSummary:
    """Summarize opportunities; TVL-weighted figures use only rows with TVL and a split."""
    chains = Counter(o.chain for o in opps)
    by_kind: dict[str, list[Opportunity]] = defaultdict(list)
    for o in opps:
        by_kind[o.kind].append(o)
    kinds: list[KindSummary] = []
    for kind in OPPORTUNITY_KINDS:
        group = by_kind.get(kind, [])
        if not group:
            continue
        split = [o for o in group if o.tvl_usd and o.apy and o.reward_share is not None]
        weight = sum(o.tvl_usd or 0.0 for o in split)
        base_share = (
            sum((o.tvl_usd or 0.0) * (1 - (o.reward_share or 0.0)) for o in split) / weight
            if weight
            else None
        )
        kinds.append(
            KindSummary(
                kind,
                len(group),
                sum(o.tvl_usd or 0.0 for o in group),
                base_share,
                _median([o.apy for o in group if o.apy is not None]),
            )
        )
    weighted = [o for o in opps if o.tvl_usd and o.apy is not None]
    total_w = sum(o.tvl_usd or 0.0 for o in weighted)
    base_rows = [o for o in weighted if o.apy_base is not None or o.apy_reward is not None]
    base_w = sum(o.tvl_usd or 0.0 for o in base_rows)
    return UniverseSummary(
        count=len(opps),
        chains=dict(chains.most_common()),
        protocols=len({o.protocol for o in opps}),
        tvl_usd=sum(o.tvl_usd or 0.0 for o in opps),
        kinds=kinds,
        tvl_weighted_apy=(
            sum((o.tvl_usd or 0.0) * (o.apy or 0.0) for o in weighted) / total_w
            if total_w
            else None
        ),
        tvl_weighted_base_apy=(
            sum((o.tvl_usd or 0.0) * (o.apy_base or 0.0) for o in base_rows) / base_w
            if base_w
            else None
        ),
        above_100pct_apy=sum(1 for o in opps if o.apy is not None and o.apy > 100),
    )
