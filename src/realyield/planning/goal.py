"""The required yield of an income goal and a plain verdict on whether it is sustainable.

Required yield = income / capital. The verdict compares it with what the indices
deliver *sustainably today*: their real yield (fees, interest, staking net of token
inflation), not the headline APY that emissions inflate. A profile caps how much of
each index it may hold, so "what this profile can yield" is the best mix under those
caps. When the goal is out of reach the verdict says what would make it work: more
capital, a lower target, a longer horizon of reinvesting first, or drawing on principal
(and for how long that lasts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.indices.composition import IndexComposition
from realyield.planning.profiles import RiskProfile


@dataclass(frozen=True, slots=True)
class IndexYield:
    """What one index yields today, percent a year (the planner's view of an index)."""

    name: str
    apy: float  # headline
    apy_real: float  # fees, interest, staking net of inflation
    apy_emission: float  # paid in reward tokens
    apy_sustainable: float  # real plus what emissions are likely to keep paying
    risk_grade: str

    @classmethod
    def of(cls, comp: IndexComposition) -> IndexYield:
        return cls(
            comp.name,
            comp.expected_apy,
            comp.expected_real_apy,
            comp.expected_emission_apy,
            comp.expected_sustainable_apy,
            comp.risk_grade,
        )


def required_yield(capital: float, income_per_year: float) -> float:
    """Income over capital, as a fraction (``$50k`` from ``$1M`` -> 0.05).

    Raises:
        ConfigError: capital or income not finite and above zero.
    """
    for what, value in (("capital", capital), ("income", income_per_year)):
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{what} must be a finite amount above zero, got {value!r}")
    return income_per_year / capital


def best_mix_yield(
    yields: Mapping[str, float], max_share: Mapping[str, float]
) -> tuple[float, dict[str, float]]:
    """The highest blended yield (same unit as ``yields``) a mix under ``max_share`` can
    reach, and that mix: fill the best-yielding index to its cap, then the next (exact
    for per-index ceilings and a full allocation).

    Raises:
        InsufficientDataError: the indices available cannot make up a full allocation.
    """
    mix: dict[str, float] = {}
    left = 1.0
    for name in sorted(yields, key=lambda n: -yields[n]):
        share = min(max_share.get(name, 0.0), left)
        if share > 0:
            mix[name] = share
            left -= share
        if left <= 1e-12:
            break
    if left > 1e-9:
        raise InsufficientDataError(
            f"the indices built today ({sorted(yields)}) cannot fill a full allocation "
            f"under this profile's ceilings {dict(max_share)}"
        )
    return sum(mix[n] * yields[n] for n in mix), mix


def years_to_exhaustion(capital: float, income_per_year: float, yield_rate: float) -> float:
    """How long capital lasts paying ``income_per_year`` monthly while it earns
    ``yield_rate`` (fraction a year, compounded monthly, prices flat): the annuity
    formula ``n = -ln(1 - r C / W) / ln(1 + r)`` in months; ``inf`` when the yield covers
    the income."""
    w = income_per_year / 12.0
    r = (1.0 + yield_rate) ** (1.0 / 12.0) - 1.0
    if r * capital >= w - 1e-12:
        return math.inf
    if r <= 0:
        return capital / w / 12.0
    return -math.log(1.0 - r * capital / w) / math.log(1.0 + r) / 12.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a goal is sustainable, why, and what would make it work."""

    level: str  # sustainable | stretch | unsustainable
    required_yield: float  # fraction
    profile_capacity: float  # real yield the profile's best mix reaches, fraction
    best_index: str
    best_index_yield: float  # the single best real yield among the indices, fraction
    capacity_mix: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    remedies: dict[str, float] = field(default_factory=dict)

    @property
    def sustainable(self) -> bool:
        return self.level == "sustainable"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["remedies"] = {k: (None if math.isinf(v) else v) for k, v in self.remedies.items()}
        return out


def verdict(
    capital: float,
    income_per_year: float,
    index_yields: Mapping[str, IndexYield],
    profile: RiskProfile,
    *,
    tax_income: float = 0.0,
) -> Verdict:
    """Judge ``income_per_year`` from ``capital`` against today's real index yields.

    ``sustainable``: the profile's best mix pays it from real yield. ``stretch``: some
    index pays it, but only with more of it than the profile allows. ``unsustainable``:
    no index pays it from real yield; only emissions or principal could.

    Raises:
        ConfigError: non-positive capital or income.
        InsufficientDataError: no index could be built today.
    """
    required = required_yield(capital, income_per_year)
    if not 0.0 <= tax_income < 1.0:
        raise ConfigError(f"income tax must be a fraction in [0, 1), got {tax_income!r}")
    need = required / (1.0 - tax_income)  # the pre-tax yield that nets the income
    if not index_yields:
        raise InsufficientDataError("no index could be built; run `realyield data refresh`")
    real = {n: y.apy_real / 100.0 for n, y in index_yields.items()}
    capacity, mix = best_mix_yield(real, profile.max_share)
    best = max(real, key=lambda n: real[n])
    taxed = f" ({required:.2%} after {tax_income:.0%} income tax)" if tax_income else ""
    reasons = [
        f"the goal needs {need:.2%} a year{taxed}; the {profile.name} profile's best mix "
        f"of the indices pays {capacity:.2%} in real yield today"
    ]
    if need <= capacity + 1e-12:
        level = "sustainable"
        reasons.append(f"achievable from real yield with {_mix_words(mix)}")
    elif need <= real[best] + 1e-12:
        level = "stretch"
        reasons.append(
            f"only the {best} index pays that much ({real[best]:.2%} real), more of it than "
            f"the {profile.name} profile allows: more risk, or draw on principal"
        )
    else:
        level = "unsustainable"
        headline = max(y.apy for y in index_yields.values()) / 100.0
        reasons.append(
            f"no index pays {need:.2%} from real yield (the best, {best}, pays "
            f"{real[best]:.2%}); "
            + (
                f"headline yields up to {headline:.2%} rely on token emissions that fade"
                if headline >= need
                else "not even headline yields reach it"
            )
        )
    remedies: dict[str, float] = {}
    if level != "sustainable" and capacity > 0:
        net_capacity = capacity * (1.0 - tax_income)
        target_capital = income_per_year / net_capacity
        remedies["capital_needed"] = target_capital
        remedies["income_sustainable_per_year"] = capital * net_capacity
        remedies["years_reinvesting_first"] = math.log(target_capital / capital) / math.log(
            1.0 + net_capacity
        )
        remedies["years_principal_lasts"] = years_to_exhaustion(
            capital, income_per_year, net_capacity
        )
        reasons.append(
            f"to make it work: ${target_capital:,.0f} of capital, or "
            f"${capital * net_capacity:,.0f} "
            f"a year, or reinvest {remedies['years_reinvesting_first']:.1f} years first, or "
            f"draw on principal, which then lasts about "
            f"{remedies['years_principal_lasts']:.1f} years (prices flat)"
        )
    return Verdict(level, required, capacity, best, real[best], mix, reasons, remedies)


def _mix_words(mix: Mapping[str, float]) -> str:
    return ", ".join(f"{w:.0%} {n}" for n, w in sorted(mix.items(), key=lambda kv: -kv[1]))
