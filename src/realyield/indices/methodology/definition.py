"""The complete rules of one index, cross-checked as a whole.

``IndexDefinition`` gathers the parts of ``records`` and checks what no single part can:
that the index has one coherent shape (opportunities, basket, staking or composite) and
the sections its family needs, that sleeve and component shares sum to 1, that sleeves
only narrow the index's eligibility, and that the caps leave a fully invested index
possible. Checks involving other indices are in ``check_references``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from realyield.indices.methodology import rules as r
from realyield.indices.methodology.records import (
    Basket,
    Caps,
    Component,
    Eligibility,
    Rebalance,
    RegimeFilter,
    Sleeve,
    StakingRoutes,
    Weighting,
    set_field,
)
from realyield.indices.methodology.rules import RuleError

_SECTIONS = ("components", "basket", "staking")


@dataclass(frozen=True, slots=True)
class IndexDefinition:
    """One index's complete rules. Cross-checks its parts on construction.

    Exactly one shape: an opportunity index (optionally in ``sleeves``), a ``basket``
    of assets (optionally with a ``regime`` filter), ``staking`` networks, or a
    composite of ``components``. References to other indices are checked by
    ``check_references`` once the other definitions are known.
    """

    name: str
    title: str
    family: str
    description: str
    version: str
    caps: Caps
    rebalance: Rebalance
    eligibility: Eligibility = field(default_factory=Eligibility)
    weighting: Weighting = field(default_factory=Weighting)
    sleeves: tuple[Sleeve, ...] = ()
    components: tuple[Component, ...] = ()
    basket: Basket | None = None
    staking: StakingRoutes | None = None
    regime: RegimeFilter | None = None

    def __post_init__(self) -> None:
        r.slug("name", self.name)
        r.text("title", self.title)
        r.choice("family", self.family, r.FAMILIES)
        r.text("description", self.description)
        r.version("version", self.version)
        for name, kind in (
            ("caps", Caps),
            ("rebalance", Rebalance),
            ("eligibility", Eligibility),
            ("weighting", Weighting),
        ):
            if not isinstance(getattr(self, name), kind):
                raise RuleError(name, getattr(self, name), f"must be a {kind.__name__} table")
        set_field(self, "sleeves", tuple(self.sleeves))
        set_field(self, "components", tuple(self.components))
        self._check_shape()
        self._check_weights()

    @property
    def shape(self) -> str:
        """``composite``, ``basket``, ``staking`` or ``opportunities``."""
        if self.components:
            return "composite"
        return "basket" if self.basket else "staking" if self.staking else "opportunities"

    @property
    def references(self) -> tuple[str, ...]:
        """Names of the other indices this one holds or falls back to."""
        names = [c.index for c in self.components if c.index is not None]
        return (*names, self.regime.fallback) if self.regime else tuple(names)

    def _check_shape(self) -> None:
        present = [s for s in _SECTIONS if getattr(self, s)]
        if len(present) > 1:
            raise RuleError(present[1], r.TABLE, f"cannot be combined with {present[0]}")
        needs = {"large-cap-staking": "staking", "balanced": "components", "growth": "basket"}
        if self.family in needs and needs[self.family] not in present:
            raise RuleError(needs[self.family], r.MISSING, f"family {self.family} requires it")
        if self.family == "growth" and self.regime is None:
            raise RuleError("regime", r.MISSING, "family growth requires a regime filter")
        if self.family == "stablecoin-income" and not self.eligibility.stablecoin_only:
            raise RuleError("eligibility.stablecoin_only", False, "must be true for this family")
        if self.regime is not None and self.basket is None:
            raise RuleError("regime", r.TABLE, "a regime filter applies to a basket index only")
        if self.sleeves and present:
            raise RuleError(
                "sleeves", r.TABLE, f"sleeves apply to opportunity indices, not {present[0]}"
            )
        if self.staking and self.eligibility.min_market_cap_usd is not None:
            raise RuleError(
                "eligibility.min_market_cap_usd",
                self.eligibility.min_market_cap_usd,
                "a staking index takes its floor from staking.min_market_cap_usd",
            )
        # a composite sets only its minimum weight: the rest comes from its components
        own_rules = (
            ("weighting", dataclasses.replace(self.weighting, min_weight=0.0), Weighting()),
            ("eligibility", self.eligibility, Eligibility()),
        )
        for name, value, default in own_rules:
            if self.components and value != default:
                extra = " (bar weighting.min_weight)" if name == "weighting" else ""
                raise RuleError(
                    name,
                    r.TABLE,
                    f"a composite takes its {name} from its components{extra}; leave it out",
                )
        if (self.basket or self.staking) and self.weighting.method != "market_cap":
            raise RuleError(
                "weighting.method",
                self.weighting.method,
                f"a {self.shape} index is weighted by market_cap",
            )
        for i, comp in enumerate(self.components):
            if comp.index == self.name:
                raise RuleError(f"components[{i}].index", comp.index, "an index cannot hold itself")
        if self.regime is not None and self.regime.fallback == self.name:
            raise RuleError("regime.fallback", self.regime.fallback, "cannot be the index itself")

    def _check_weights(self) -> None:
        caps = self.caps
        for attr in ("sleeves", "components"):
            parts: tuple[Sleeve | Component, ...] = getattr(self, attr)
            if parts:
                names = [p.name for p in parts]
                if len(set(names)) != len(names):
                    raise RuleError(attr, names, "names must be distinct")
                r.sums_to_one(attr, [p.weight for p in parts])
        for i, sleeve in enumerate(self.sleeves):
            problem = sleeve.eligibility.narrowing_problem(self.eligibility)
            if problem is not None:
                raise RuleError(
                    f"sleeves[{i}].eligibility.{problem[0]}",
                    problem[1],
                    "a sleeve may narrow the index's eligibility, not widen it",
                )
        for i, comp in enumerate(self.components):
            if comp.assets and comp.weight * comp.max_single > caps.single + r.SUM_TOLERANCE:
                raise RuleError(
                    f"components[{i}].single_cap",
                    comp.single_cap,
                    f"weight {comp.weight:g} x cap exceeds caps.single {caps.single:g}",
                )
        if self.basket is not None:
            n = len(self.basket.assets)
            too_many = caps.max_constituents is not None and n > caps.max_constituents
            if too_many or n < caps.min_constituents or n * caps.single < 1.0 - r.SUM_TOLERANCE:
                raise RuleError(
                    "basket.assets",
                    list(self.basket.assets),
                    f"{n} assets do not fit caps.min_constituents {caps.min_constituents}, "
                    f"caps.max_constituents {caps.max_constituents} and caps.single "
                    f"{caps.single:g}",
                )
        fixed = self.weighting.fixed
        if fixed:
            worst = max(fixed.values())
            if (
                len(fixed) < caps.min_constituents
                or worst > caps.single + r.SUM_TOLERANCE
                or (caps.max_constituents is not None and len(fixed) > caps.max_constituents)
            ):
                raise RuleError(
                    "weighting.fixed",
                    dict(fixed),
                    "breaks caps.single or the constituent count limits",
                )
        if self.weighting.min_weight * caps.min_constituents > 1.0:
            raise RuleError(
                "weighting.min_weight",
                self.weighting.min_weight,
                f"x caps.min_constituents {caps.min_constituents} exceeds 1",
            )
