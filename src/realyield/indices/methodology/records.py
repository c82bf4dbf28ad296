"""The parts of the index rules, as frozen records that validate themselves.

Units: APY thresholds in percent; weights, caps and shares as fractions in (0, 1];
drift triggers and bands in percentage points of weight; costs in basis points of
traded value and gas in USD. ``docs/methodology.md`` states what each rule means.
Every check raises ``RuleError`` (a ``ConfigError``) naming the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from realyield.indices.methodology import rules as r
from realyield.indices.methodology.rules import RuleError


def set_field(obj: object, name: str, value: Any) -> None:
    """Store a normalised value (a tuple for a list, a float for an int) on a frozen record."""
    object.__setattr__(obj, name, value)


def _map_key(mapping: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted(mapping.items()))


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Which opportunities (or assets) may enter. ``None`` switches a threshold off.

    ``kinds`` empty = every kind; ``chains`` None = every chain; ``asset_categories``
    empty = every category. ``max_apy`` applies to the headline APY and never exceeds
    100%. With ``require_screens`` nothing excluded by the scoring screens may enter.
    """

    kinds: tuple[str, ...] = ()
    chains: tuple[str, ...] | None = None
    stablecoin_only: bool = False
    max_apy: float = r.APY_CEILING
    min_tvl_usd: float | None = None
    min_sustainability: float | None = None
    max_risk: float | None = None
    require_screens: bool = True
    asset_categories: tuple[str, ...] = ()
    min_market_cap_usd: float | None = None

    def __post_init__(self) -> None:
        set_field(self, "kinds", r.texts("kinds", self.kinds, r.OPPORTUNITY_KINDS))
        if self.chains is not None:
            set_field(self, "chains", r.texts("chains", self.chains, nonempty=True))
        r.flag("stablecoin_only", self.stablecoin_only)
        r.flag("require_screens", self.require_screens)
        set_field(
            self, "max_apy", r.number("max_apy", self.max_apy, 0.0, r.APY_CEILING, low_open=True)
        )
        for name, high in (
            ("min_tvl_usd", None),
            ("min_sustainability", 100.0),
            ("max_risk", 100.0),
            ("min_market_cap_usd", None),
        ):
            set_field(self, name, r.optional_number(name, getattr(self, name), 0.0, high))
        set_field(
            self,
            "asset_categories",
            r.texts("asset_categories", self.asset_categories, r.ASSET_CATEGORIES),
        )

    def narrowing_problem(self, outer: Eligibility) -> tuple[str, object] | None:
        """The first rule by which ``self`` admits more than ``outer`` (a sleeve must not)."""
        if outer.kinds and not set(self.kinds or r.OPPORTUNITY_KINDS) <= set(outer.kinds):
            return "kinds", self.kinds
        if outer.chains is not None and not set(self.chains or ("*",)) <= set(outer.chains):
            return "chains", self.chains
        if outer.stablecoin_only and not self.stablecoin_only:
            return "stablecoin_only", self.stablecoin_only
        if outer.require_screens and not self.require_screens:
            return "require_screens", self.require_screens
        if self.max_apy > outer.max_apy:
            return "max_apy", self.max_apy
        for name, sign in (("min_tvl_usd", 1), ("min_sustainability", 1), ("max_risk", -1)):
            mine, theirs = getattr(self, name), getattr(outer, name)
            if theirs is not None and (mine is None or sign * (mine - theirs) < 0):
                return name, mine
        return None


@dataclass(frozen=True, slots=True)
class Caps:
    """Concentration limits, as fractions of the index.

    ``single`` caps every holding; ``dependency`` caps the summed weight of all holdings
    sharing a dependency key, by key prefix (``{"protocol": 0.2}`` caps each of
    ``protocol:aave``, ``protocol:lido``...). ``single * max_constituents >= 1`` must
    hold, or no fully invested index exists.
    """

    single: float
    min_constituents: int
    dependency: Mapping[str, float] = field(default_factory=dict)
    max_constituents: int | None = None

    def __post_init__(self) -> None:
        set_field(self, "single", r.fraction("single", self.single))
        r.integer("min_constituents", self.min_constituents, 1)
        deps = r.number_map(
            "dependency", self.dependency, keys=r.DEPENDENCY_PREFIXES, high=1.0, low_open=True
        )
        set_field(self, "dependency", deps)
        if self.max_constituents is not None:
            r.integer("max_constituents", self.max_constituents, self.min_constituents)
            if self.single * self.max_constituents < 1.0 - r.SUM_TOLERANCE:
                raise RuleError(
                    "max_constituents",
                    self.max_constituents,
                    f"with single = {self.single:g} at least {math.ceil(1 / self.single)} "
                    "holdings are needed to invest the whole index",
                )

    def __hash__(self) -> int:
        return hash(
            (self.single, self.min_constituents, _map_key(self.dependency), self.max_constituents)
        )

    def cap_for(self, key: str) -> float | None:
        """The cap on a dependency key such as ``issuer:circle`` (None = uncapped)."""
        return self.dependency.get(key.split(":", 1)[0])

    @property
    def effective_min_constituents(self) -> int:
        """The fewest holdings that can satisfy the single cap and the minimum."""
        return max(self.min_constituents, math.ceil(1.0 / self.single - r.SUM_TOLERANCE))


@dataclass(frozen=True, slots=True)
class Weighting:
    """How target weights are set before caps.

    ``risk_adjusted_yield`` weights by ``yield * (1 - risk_aversion * risk / 100)``;
    the yield is ``yield_field``, with ``apy_sustainable`` where no forecast exists.
    Holdings under ``min_weight`` are dropped. ``fixed`` maps ids to weights (method
    ``fixed`` only).
    """

    method: str = "equal"
    yield_field: str = "apy_sustainable"
    risk_aversion: float = 0.5
    min_weight: float = 0.0
    fixed: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r.choice("method", self.method, r.WEIGHTING_METHODS)
        r.choice("yield_field", self.yield_field, r.YIELD_FIELDS)
        set_field(self, "risk_aversion", r.number("risk_aversion", self.risk_aversion, 0.0, 1.0))
        set_field(
            self, "min_weight", r.number("min_weight", self.min_weight, 0.0, 1.0, high_open=True)
        )
        set_field(self, "fixed", r.number_map("fixed", self.fixed, high=1.0, low_open=True))
        if (self.method == "fixed") != bool(self.fixed):
            raise RuleError(
                "fixed", dict(self.fixed), "is required with method 'fixed' and only with it"
            )
        if self.fixed:
            r.sums_to_one("fixed", list(self.fixed.values()))

    def __hash__(self) -> int:
        return hash(
            (
                self.method,
                self.yield_field,
                self.risk_aversion,
                self.min_weight,
                _map_key(self.fixed),
            )
        )


@dataclass(frozen=True, slots=True)
class Sleeve:
    """A fixed share of an opportunity index filled from its own eligible set."""

    name: str
    weight: float
    eligibility: Eligibility = field(default_factory=Eligibility)

    def __post_init__(self) -> None:
        r.slug("name", self.name)
        set_field(self, "weight", r.fraction("weight", self.weight))
        if not isinstance(self.eligibility, Eligibility):
            raise RuleError("eligibility", self.eligibility, "must be an Eligibility table")


@dataclass(frozen=True, slots=True)
class Basket:
    """The listed assets of a growth index (ids as in the asset table, e.g. ``bitcoin``)."""

    assets: tuple[str, ...]

    def __post_init__(self) -> None:
        set_field(self, "assets", r.texts("assets", self.assets, nonempty=True))


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite: another index by name, or a basket of assets.

    ``staking_routes`` names an index with ``[staking]`` rules (``large-cap-staking``):
    a basket asset that is a proof-of-stake network is then held through the staking
    route those rules choose, not as the bare token (assets without a route, such as
    Bitcoin, stay held as they are).
    """

    name: str
    weight: float
    index: str | None = None
    assets: tuple[str, ...] = ()
    weighting: str = "market_cap"
    single_cap: float | None = None
    staking_routes: str | None = None

    def __post_init__(self) -> None:
        r.slug("name", self.name)
        set_field(self, "weight", r.fraction("weight", self.weight))
        set_field(self, "assets", r.texts("assets", self.assets))
        r.choice("weighting", self.weighting, r.BASKET_WEIGHTINGS)
        if (self.index is None) == (not self.assets):
            raise RuleError("index", self.index, "give either an index name or assets, not both")
        if self.index is not None:
            r.slug("index", self.index)
            if self.single_cap is not None:
                raise RuleError("single_cap", self.single_cap, "applies to asset baskets only")
            if self.staking_routes is not None:
                raise RuleError(
                    "staking_routes", self.staking_routes, "applies to asset baskets only"
                )
        if self.staking_routes is not None:
            r.slug("staking_routes", self.staking_routes)
        if self.single_cap is not None:
            set_field(self, "single_cap", r.fraction("single_cap", self.single_cap))
            if self.single_cap * len(self.assets) < 1.0 - r.SUM_TOLERANCE:
                raise RuleError(
                    "single_cap",
                    self.single_cap,
                    f"too low for {len(self.assets)} assets (cap x count must reach 1)",
                )

    @property
    def max_single(self) -> float:
        """The largest share of the component one basket asset can take."""
        return 1.0 if self.single_cap is None else self.single_cap


@dataclass(frozen=True, slots=True)
class StakingRoutes:
    """Large-Cap Staking: which networks, and how each is staked.

    Networks of the staking table with a market cap of at least ``min_market_cap_usd``;
    the chosen route maximises ``net APY - lockup_penalty_pp_per_30d * unbonding_days
    / 30 - risk_penalty * risk / 100`` (percentage points).
    """

    min_market_cap_usd: float
    routes: tuple[str, ...] = r.STAKING_ROUTES
    lockup_penalty_pp_per_30d: float = 0.25
    risk_penalty: float = 2.0

    def __post_init__(self) -> None:
        set_field(
            self, "min_market_cap_usd", r.number("min_market_cap_usd", self.min_market_cap_usd, 0)
        )
        set_field(self, "routes", r.texts("routes", self.routes, r.STAKING_ROUTES, nonempty=True))
        for name in ("lockup_penalty_pp_per_30d", "risk_penalty"):
            set_field(self, name, r.number(name, getattr(self, name), 0.0, 100.0))


@dataclass(frozen=True, slots=True)
class RegimeFilter:
    """Trend filter: risk-on while the basket is at or above its moving average."""

    fallback: str
    signal: str = "sma"
    window_days: int = 200

    def __post_init__(self) -> None:
        r.slug("fallback", self.fallback)
        r.choice("signal", self.signal, r.REGIME_SIGNALS)
        r.integer("window_days", self.window_days, 2, 1000)


@dataclass(frozen=True, slots=True)
class Costs:
    """Estimated trading costs of a rebalance.

    Per trade: ``fee_bps + slippage_bps + slippage_bps_per_1pct_of_tvl * (trade / TVL
    in percent)`` of the traded value, plus the chain's gas (``gas_usd``, else
    ``default_gas_usd``) divided by ``notional_usd``, the index size costs are quoted for.
    """

    fee_bps: float = 10.0
    slippage_bps: float = 5.0
    slippage_bps_per_1pct_of_tvl: float = 0.0
    gas_usd: Mapping[str, float] = field(default_factory=dict)
    default_gas_usd: float = 1.0
    notional_usd: float = 100_000.0

    def __post_init__(self) -> None:
        for name in ("fee_bps", "slippage_bps", "slippage_bps_per_1pct_of_tvl"):
            set_field(self, name, r.number(name, getattr(self, name), 0.0, 1000.0))
        set_field(self, "gas_usd", r.number_map("gas_usd", self.gas_usd, high=10_000.0))
        set_field(
            self, "default_gas_usd", r.number("default_gas_usd", self.default_gas_usd, 0, 1e4)
        )
        set_field(
            self, "notional_usd", r.number("notional_usd", self.notional_usd, 0.0, low_open=True)
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.fee_bps,
                self.slippage_bps,
                self.slippage_bps_per_1pct_of_tvl,
                _map_key(self.gas_usd),
                self.default_gas_usd,
                self.notional_usd,
            )
        )

    def gas(self, chain: str | None) -> float:
        """Gas in USD for one trade on ``chain`` (case-insensitive; default otherwise)."""
        wanted = (chain or "").lower()
        for name, usd in self.gas_usd.items():
            if name.lower() == wanted:
                return usd
        return self.default_gas_usd


@dataclass(frozen=True, slots=True)
class Rebalance:
    """When the index trades: on schedule, or when a weight drifts past the trigger."""

    schedule: str = "monthly"
    drift_trigger_pp: float = 5.0
    no_trade_band_pp: float = 1.0
    costs: Costs = field(default_factory=Costs)

    def __post_init__(self) -> None:
        r.choice("schedule", self.schedule, r.SCHEDULES)
        set_field(
            self,
            "drift_trigger_pp",
            r.number("drift_trigger_pp", self.drift_trigger_pp, 0.0, 100.0, low_open=True),
        )
        band = r.number(
            "no_trade_band_pp", self.no_trade_band_pp, 0.0, self.drift_trigger_pp, high_open=True
        )
        set_field(self, "no_trade_band_pp", band)
        if not isinstance(self.costs, Costs):
            raise RuleError("costs", self.costs, "must be a Costs table")

    @property
    def drift_trigger(self) -> float:
        """The drift trigger as a fraction of weight."""
        return self.drift_trigger_pp / 100.0

    @property
    def no_trade_band(self) -> float:
        """The no-trade band as a fraction of weight."""
        return self.no_trade_band_pp / 100.0


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a rule record (the keys its TOML table may hold)."""
    return tuple(f.name for f in fields(cls))
