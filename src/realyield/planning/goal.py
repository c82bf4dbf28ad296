"""The yield a plan needs, and the verdict on the allocation that is simulated.

One plan, one mix, one verdict: the verdict judges the allocation the Monte Carlo runs
and the plan prints, with two tests. (1) The real yield test: the mix's real yield
(fees, interest, staking net of token inflation; never the emission-inflated headline)
covers the yield the plan needs, which follows the plan: income over the capital at
the start of the drawing phase (after the years of reinvesting, prices flat), plus
inflation when withdrawals are indexed (judged in real terms), grossed up for income
tax. (2) The simulation test: the Monte Carlo success probability reaches the risk
profile's threshold. Both pass: *sustainable*. No index pays the need from real yield,
or the plan fails on more paths than it succeeds: *unsustainable*. Otherwise
*stretch*. Every verdict short of sustainable lists remedies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from realyield.core.errors import ConfigError
from realyield.indices.composition import IndexComposition
from realyield.planning.montecarlo import PlanConfig

#: below this success probability a plan is unsustainable whatever its yield
FAILS_MORE_THAN_SUCCEEDS = 0.5


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
    """Income over capital, as a fraction (``$50k`` from ``$1M`` -> 0.05): the headline
    figure; ``plan_need`` is what the verdict tests.

    Raises:
        ConfigError: capital or income not finite and above zero.
    """
    for what, value in (("capital", capital), ("income", income_per_year)):
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{what} must be a finite amount above zero, got {value!r}")
    return income_per_year / capital


@dataclass(frozen=True, slots=True)
class Need:
    """The yield a plan needs from a mix paying ``real`` a year (prices flat)."""

    required: float  # pre-tax real yield the plan needs, fraction a year
    withdrawal_rate: float  # first income year's withdrawal over capital then
    capital_at_start: float  # nominal, at the start of the drawing phase
    capital_at_start_today: float  # the same in today's dollars
    indexed: bool  # the need includes inflation (withdrawals indexed)
    net_of_tax: float  # what the yield must pay after income tax


def plan_need(config: PlanConfig, real: float) -> Need:
    """The yield ``config`` needs when its mix pays ``real`` (fraction a year).

    Capital at the start of drawing: ``C (1 + m (1 - tax) r)^months`` with ``m`` the
    monthly rate of ``real`` and ``r`` the reinvested share (the Monte Carlo's
    accumulation rule, prices flat). Withdrawal rate ``w``: the first income year's
    withdrawal (indexed from today for the indexed rules) over that capital; for the
    percent rule the rate itself. Net need: ``w``, or ``(1 + w)(1 + inflation) - 1``
    for inflation-indexed and guardrail withdrawals (the capital must keep its
    purchasing power). Required: net / (1 - income tax).
    """
    m = (1.0 + real) ** (1.0 / 12.0) - 1.0
    grow = (1.0 + m * (1.0 - config.tax_income) * min(config.reinvest, 1.0)) ** config.start_month
    start_capital = config.capital * grow
    years_to_start = config.start_month / 12.0
    today = start_capital / (1.0 + config.inflation) ** years_to_start
    if config.withdrawal == "percent":
        w = config.percent_rate or config.income_per_year / config.capital
    else:
        first = config.goal_by_month()[config.start_month :][:12].sum()
        w = first / start_capital
    indexed = config.indexed_goal
    net = (1.0 + w) * (1.0 + config.inflation) - 1.0 if indexed else w
    return Need(
        float(net / (1.0 - config.tax_income)),
        float(w),
        float(start_capital),
        float(today),
        indexed,
        float(net),
    )


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


@dataclass(frozen=True)
class MixResult:
    """A mix with its real yield, what the plan needs with it, and its simulated
    success probability (on ``paths`` paths)."""

    weights: dict[str, float]
    real_yield: float
    need: float
    success_probability: float
    paths: int
    label: str = ""

    def passes(self, threshold: float) -> bool:
        return self.real_yield >= self.need - 1e-12 and self.success_probability >= threshold

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verdict:
    """The verdict on the simulated allocation: its two tests, why, and remedies."""

    level: str  # sustainable | stretch | unsustainable
    required_yield: float  # income / capital, the headline figure
    need: float  # pre-tax real yield the plan needs (rule, phases, tax)
    real_yield: float  # the simulated allocation's real yield
    yield_covers: bool
    success_probability: float
    success_threshold: float
    success_passes: bool
    best_index: str
    best_index_yield: float
    reasons: list[str] = field(default_factory=list)
    remedies: dict[str, Any] = field(default_factory=dict)
    recommended: MixResult | None = None  # the optimizer's mix, shown beside the plan's

    @property
    def sustainable(self) -> bool:
        return self.level == "sustainable"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["remedies"] = {
            k: (None if isinstance(v, float) and math.isinf(v) else v)
            for k, v in self.remedies.items()
        }
        out["sentence"] = verdict_sentence(self)
        return out


def judge(
    config: PlanConfig,
    simulated: MixResult,
    index_real: Mapping[str, float],
    threshold: float,
    *,
    profile: str,
    passing: MixResult | None = None,
    recommended: MixResult | None = None,
    income_for_threshold: float | None = None,
    screen_paths: int = 0,
) -> Verdict:
    """The verdict on ``simulated`` (the plan's mix, as run).

    ``index_real``: each index's real yield (fraction); ``passing``: a mix within the
    profile that passes both tests, if the optimizer found one; ``recommended``: the
    optimizer's choice, shown beside a mix the user or a preset named;
    ``income_for_threshold``: the income at which this mix's simulation reaches the
    threshold (found on ``screen_paths`` paths), when the caller searched for it.

    Raises:
        ConfigError: a threshold outside (0, 1].
    """
    if not 0.0 < threshold <= 1.0:
        raise ConfigError(f"the success threshold must be in (0, 1], got {threshold!r}")
    need, real, p = simulated.need, simulated.real_yield, simulated.success_probability
    covers = bool(real >= need - 1e-12)
    succeeds = bool(p >= threshold)
    best = max(index_real, key=lambda n: index_real[n])
    if covers and succeeds:
        level = "sustainable"
    elif need > index_real[best] + 1e-12 or p < FAILS_MORE_THAN_SUCCEEDS:
        level = "unsustainable"
    else:
        level = "stretch"
    ny = plan_need(config, real)
    what = _need_words(config, ny)
    reasons = [
        f"real yield test {'passed' if covers else 'failed'}: the mix pays {real:.2%} in real "
        f"yield; the plan needs {need:.2%} ({what})",
        f"simulation test {'passed' if succeeds else 'failed'}: success in {p:.1%} of "
        f"{simulated.paths:,} paths; the {profile} profile asks for {threshold:.0%}",
    ]
    if need > index_real[best] + 1e-12:
        reasons.append(
            f"no index pays {need:.2%} from real yield (the best, {best}, pays "
            f"{index_real[best]:.2%})"
        )
    remedies: dict[str, Any] = {}
    if level != "sustainable":
        remedies = _remedies(config, simulated, passing)
        if income_for_threshold is not None:
            remedies["income_for_success_threshold"] = income_for_threshold
            remedies["capital_for_success_threshold"] = (
                config.capital * config.income_per_year / income_for_threshold
                if income_for_threshold > 0
                else math.inf
            )
            remedies["success_search_paths"] = screen_paths
        reasons.append("to make it work: " + _remedy_words(remedies, config))
    return Verdict(
        level,
        config.income_per_year / config.capital,
        need,
        real,
        covers,
        p,
        threshold,
        succeeds,
        best,
        index_real[best],
        reasons,
        remedies,
        recommended,
    )


def _need_words(config: PlanConfig, n: Need) -> str:
    parts = [f"{n.withdrawal_rate:.2%} withdrawal"]
    if config.start_month:
        parts.append(
            f"from ${n.capital_at_start:,.0f} after {config.start_month / 12:g} years of "
            f"reinvesting {config.reinvest:.0%} of income"
        )
    if n.indexed:
        parts.append(f"plus {config.inflation:.1%} inflation (indexed, in real terms)")
    if config.tax_income:
        parts.append(f"grossed up for {config.tax_income:.0%} income tax")
    return ", ".join(parts)


def _remedies(config: PlanConfig, sim: MixResult, passing: MixResult | None) -> dict[str, Any]:
    """What would make the plan pass, each alone, prices flat: a mix that passes, the
    capital or income that makes the mix's real yield cover the need, the years of
    reinvesting first, and how long principal lasts if drawn."""
    out: dict[str, Any] = {}
    if passing is not None:
        out["mix_that_passes"] = passing.as_dict()
    real, tax, infl = sim.real_yield, config.tax_income, config.inflation
    n = plan_need(config, real)
    net = real * (1.0 - tax)
    # the withdrawal rate the mix sustains: net = w, or (1 + w)(1 + inflation) - 1
    w_ok = (1.0 + net) / (1.0 + infl) - 1.0 if n.indexed else net
    if config.withdrawal != "percent" and w_ok > 0 and n.withdrawal_rate > w_ok:
        scale = n.withdrawal_rate / w_ok  # capital needed / capital, income / income ok
        out["capital_needed"] = config.capital * scale
        out["income_sustainable_per_year"] = config.income_per_year / scale
        growth = (1.0 + net) / (1.0 + infl) if n.indexed else 1.0 + net
        if scale > 1.0 and growth > 1.0:
            out["years_reinvesting_first"] = math.log(scale) / math.log(growth)
    if config.withdrawal != "percent" and n.withdrawal_rate > w_ok:
        # drawn on principal: the first income year's amount, kept (prices flat)
        out["years_principal_lasts"] = years_to_exhaustion(
            n.capital_at_start, n.withdrawal_rate * n.capital_at_start, net
        )
    if w_ok <= 0:
        out["mix_real_yield_below_inflation"] = True
    return out


def _remedy_words(r: Mapping[str, Any], config: PlanConfig) -> str:
    words = []
    mix = r.get("mix_that_passes")
    if mix:
        words.append(
            f"the mix {mix_words(mix['weights'])} passes both tests ({mix['real_yield']:.2%} "
            f"real, success {mix['success_probability']:.1%} of {mix['paths']:,} paths)"
        )
    else:
        words.append("no mix the optimizer tried within the profile passes both tests")
    if r.get("mix_real_yield_below_inflation"):
        words.append(
            f"this mix's real yield after tax does not keep up with {config.inflation:.1%} "
            "inflation: no capital makes it cover indexed withdrawals; choose a mix that "
            "pays more"
        )
    if r.get("income_for_success_threshold") == 0:
        words.append(
            "no income this mix could pay passes the simulation test (even "
            f"1/128 of the goal fails on {r['success_search_paths']:,} paths)"
        )
    elif "income_for_success_threshold" in r:
        words.append(
            f"the simulation passes with ${r['income_for_success_threshold']:,.0f} a year of "
            f"income, or ${r['capital_for_success_threshold']:,.0f} of capital (searched on "
            f"{r['success_search_paths']:,} paths)"
        )
    if "capital_needed" in r:
        words.append(
            f"${r['capital_needed']:,.0f} of capital or ${r['income_sustainable_per_year']:,.0f} "
            "a year of income makes this mix's real yield cover the need"
        )
    if "years_reinvesting_first" in r:
        words.append(f"or reinvest {r['years_reinvesting_first']:.1f} years first")
    if "years_principal_lasts" in r:
        lasts = r["years_principal_lasts"]
        words.append(
            "drawn on principal, capital lasts "
            + ("indefinitely" if math.isinf(lasts) else f"about {lasts:.1f} years")
            + " (prices flat)"
        )
    return "; ".join(words)


def mix_words(mix: Mapping[str, float]) -> str:
    """``{"a": 0.6, "b": 0.4}`` -> ``60% a, 40% b`` (largest first; shares under 0.5%
    left out)."""
    return ", ".join(
        f"{w:.0%} {n}" for n, w in sorted(mix.items(), key=lambda kv: -kv[1]) if w >= 0.005
    )


def verdict_sentence(v: Verdict) -> str:
    """The verdict in one sentence: what the CLI prints and the dashboard shows."""
    head = {"sustainable": "sustainable", "stretch": "a stretch", "unsustainable": "unsustainable"}[
        v.level
    ]
    both = "both tests pass" if v.sustainable else (
        "the real yield test "
        + ("passes" if v.yield_covers else "fails")
        + " and the simulation test "
        + ("passes" if v.success_passes else "fails")
    )  # fmt: skip
    text = (
        f"Income of {v.required_yield:.2%} of capital is {head} with this mix: {both} "
        f"(real yield {v.real_yield:.2%} against {v.need:.2%} needed; success "
        f"{v.success_probability:.1%} against the {v.success_threshold:.0%} threshold)."
    )
    rec = v.recommended
    if rec is not None:
        text += (
            f" The optimizer recommends {mix_words(rec.weights)} ({rec.real_yield:.2%} real, "
            f"success {rec.success_probability:.1%})."
        )
    return text
