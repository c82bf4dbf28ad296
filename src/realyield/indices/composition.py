"""What an index holds at a date, and the figures an investor reads off it.

Kept apart from construction so that levels, rebalancing, the CLI and the API share
one record: constituents with fractional weights, the expected yield split into real
and emission parts, the weighted risk, and the effective number of independent bets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from realyield.indices.bets import effective_bets, effective_bets_by
from realyield.scoring.factors import risk_grade

ALLOCATION_DIMENSIONS = ("chain", "protocol", "kind")
HELD_DIRECTLY = "held directly"


@dataclass(frozen=True, slots=True)
class Constituent:
    """One holding of an index (an opportunity, or a plain asset in a growth basket)."""

    id: str
    label: str
    kind: str  # an opportunity kind, or "asset"
    chain: str | None
    weight: float  # fraction of the index
    apy: float  # headline, percent
    apy_real: float  # real part: fees, interest, staking net of inflation, percent
    apy_emission: float  # emissions part of the headline, percent
    apy_sustainable: float
    risk: float  # 0-100
    underlying: tuple[str, ...]  # asset ids whose prices drive the price return
    dependencies: tuple[str, ...] = ()
    sleeve: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "kind": self.kind,
            "chain": self.chain,
            "weight": self.weight,
            "apy": self.apy,
            "apy_real": self.apy_real,
            "apy_emission": self.apy_emission,
            "apy_sustainable": self.apy_sustainable,
            "risk": self.risk,
            "sleeve": self.sleeve,
            "underlying": list(self.underlying),
            "dependencies": list(self.dependencies),
        }


@dataclass
class IndexComposition:
    """An index at one date: its holdings and the figures derived from them."""

    name: str
    title: str
    as_of: date
    constituents: list[Constituent]
    notes: list[str] = field(default_factory=list)
    # a composite's parts: (component name, share, its expected APY in percent, holdings)
    components: list[tuple[str, float, float, int]] = field(default_factory=list)

    def _weighted(self, attr: str) -> float:
        return float(sum(c.weight * getattr(c, attr) for c in self.constituents))

    @property
    def expected_apy(self) -> float:
        return self._weighted("apy")

    @property
    def expected_real_apy(self) -> float:
        return self._weighted("apy_real")

    @property
    def expected_emission_apy(self) -> float:
        return self._weighted("apy_emission")

    @property
    def expected_sustainable_apy(self) -> float:
        return self._weighted("apy_sustainable")

    @property
    def risk(self) -> float:
        return self._weighted("risk")

    @property
    def risk_grade(self) -> str:
        return risk_grade(self.risk)

    @property
    def independent_bets(self) -> float:
        """Strict: constituents linked by any shared protocol, issuer or bridge are one
        bet (transitively); inverse Herfindahl of those clusters."""
        if not self.constituents:
            return 0.0
        return float(
            effective_bets(
                [c.weight for c in self.constituents], [c.dependencies for c in self.constituents]
            )
        )

    def bets_by(self) -> dict[str, float]:
        """Inverse Herfindahl of the weights by protocol, issuer and chain."""
        w = [c.weight for c in self.constituents]
        keys = [c.dependencies for c in self.constituents]
        return {
            p: float(effective_bets_by(w, keys, f"{p}:")) if w else 0.0
            for p in ("protocol", "issuer", "chain")
        }

    @property
    def effective_bets(self) -> float:
        """The headline: the fewer of the protocol and issuer bets (the most concentrated
        of the two dimensions the dependency caps control)."""
        by = self.bets_by()
        return min(by["protocol"], by["issuer"]) if self.constituents else 0.0

    def allocation(self, by: str) -> dict[str, float]:
        """Weights summed by ``chain``, ``protocol`` or ``kind``, largest first (what an
        allocation donut shows). Plain assets have no chain or protocol: they are grouped
        as "held directly".

        Raises:
            ValueError: ``by`` is not one of ``ALLOCATION_DIMENSIONS``.
        """
        if by not in ALLOCATION_DIMENSIONS:
            raise ValueError(f"allocation by {by!r}; use one of {ALLOCATION_DIMENSIONS}")
        totals: dict[str, float] = {}
        for c in self.constituents:
            if by == "kind":
                label = c.kind
            elif c.kind == "asset":
                label = HELD_DIRECTLY
            elif by == "chain":
                label = c.chain or "unknown"
            else:
                label = next(
                    (d.split(":", 1)[1] for d in c.dependencies if d.startswith("protocol:")),
                    "unknown",
                )
            totals[label] = totals.get(label, 0.0) + c.weight
        return dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))

    def sleeves(self) -> list[tuple[str, float, float, int]]:
        """Per sleeve (or, for a composite, per component): name, weight, expected APY
        of that part (percent) and its number of holdings, in the order met. A
        composite's components may share holdings (a staked asset in two of them)."""
        if self.components:
            return list(self.components)
        parts: dict[str, list[Constituent]] = {}
        for c in self.constituents:
            parts.setdefault(c.sleeve or "-", []).append(c)
        out = []
        for name, held in parts.items():
            weight = sum(c.weight for c in held)
            apy = sum(c.weight * c.apy for c in held) / weight if weight > 0 else 0.0
            out.append((name, weight, apy, len(held)))
        return out

    def weights(self) -> dict[str, float]:
        return {c.id: c.weight for c in self.constituents}

    def top(self, n: int = 5) -> list[Constituent]:
        return sorted(self.constituents, key=lambda c: c.weight, reverse=True)[:n]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "as_of": self.as_of.isoformat(),
            "expected_apy": self.expected_apy,
            "expected_real_apy": self.expected_real_apy,
            "expected_emission_apy": self.expected_emission_apy,
            "expected_sustainable_apy": self.expected_sustainable_apy,
            "risk": self.risk,
            "risk_grade": self.risk_grade,
            "n_constituents": len(self.constituents),
            "effective_bets": self.effective_bets,
            "independent_bets": self.independent_bets,
            "bets_by": self.bets_by(),
            "notes": self.notes,
            "components": [
                {"name": n, "weight": w, "expected_apy": a, "n_constituents": k}
                for n, w, a, k in self.components
            ],
            "constituents": [
                c.as_dict() for c in sorted(self.constituents, key=lambda c: -c.weight)
            ],
        }


def merge(
    parts: Sequence[tuple[float, IndexComposition]],
    *,
    name: str,
    title: str,
    as_of: date,
    names: Sequence[str] | None = None,
) -> IndexComposition:
    """Combine compositions at fixed weights (a composite index); same ids add up.

    A holding's sleeve becomes the name of the part it first came from (``names``, else
    the part's own name), and the composition records each part's share and expected
    APY (``components``)."""
    merged: dict[str, Constituent] = {}
    notes: list[str] = []
    labels = list(names) if names is not None else [comp.name for _, comp in parts]
    for (share, comp), label in zip(parts, labels, strict=True):
        notes += [f"{comp.name}: {n}" for n in comp.notes]
        for c in comp.constituents:
            w = share * c.weight
            if c.id in merged:
                merged[c.id] = _with_weight(merged[c.id], merged[c.id].weight + w)
            else:
                merged[c.id] = _with_weight(c, w, sleeve=label)
    components = [
        (label, share, comp.expected_apy, len(comp.constituents))
        for (share, comp), label in zip(parts, labels, strict=True)
    ]
    return IndexComposition(name, title, as_of, list(merged.values()), notes, components)


def _with_weight(c: Constituent, weight: float, *, sleeve: str | None = None) -> Constituent:
    return replace(c, weight=weight, sleeve=sleeve if sleeve is not None else c.sleeve)
