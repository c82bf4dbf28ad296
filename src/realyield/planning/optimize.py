"""Choose the mix of indices that best meets the goal within a risk budget.

The probability of meeting a goal is not convex in the weights, so the optimizer works
in two steps. (1) On scenario returns of each index over twelve months (price return
from a block bootstrap of their joint monthly history, plus today's real yield), cvxpy
solves the convex surrogate: minimise the expected shortfall of the portfolio's return
below the return the goal needs, subject to the risk budget as a CVaR constraint
(Rockafellar-Uryasev: the mean loss in the worst 5% of scenarios at most the budget),
the profile's per-index ceilings and a full allocation. It solves this for a few
shortfall targets (the need, and the need plus margins). (2) The full Monte Carlo then
scores every candidate, the profile's default mix and any mix the user gave, and the
highest success probability that stays within the budget wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
from numpy.typing import NDArray

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.planning.returns import MonthlyReturns

ALPHA = 0.05
MARGINS = (0.0, 0.01, 0.02, 0.04)


def annual_scenarios(
    history: MonthlyReturns,
    real_yield: Mapping[str, float],
    *,
    scenarios: int = 4000,
    block_months: int = 6,
    seed: int = 0,
) -> NDArray[np.float64]:
    """Scenarios x indices of twelve-month total returns (fractions): price return of a
    circular block bootstrap of the joint monthly history, plus the real yield."""
    m = history.matrix
    t = m.shape[0]
    if t < block_months:
        raise InsufficientDataError(f"{t} months of history is shorter than one block")
    rng = np.random.default_rng(seed)
    blocks = -(-12 // block_months)
    starts = rng.integers(0, t, size=(scenarios, blocks))
    idx = (starts[:, :, None] + np.arange(block_months)[None, None, :]) % t
    idx = idx.reshape(scenarios, -1)[:, :12]
    price = np.prod(1.0 + m[idx], axis=1) - 1.0
    y = np.array([real_yield.get(name, 0.0) for name in history.names])
    return np.asarray(price + y[None, :], dtype=np.float64)


def cvar(returns: NDArray[np.float64], alpha: float = ALPHA) -> float:
    """The mean loss (positive number) in the worst ``alpha`` share of scenarios."""
    losses = np.sort(-np.asarray(returns))[::-1]
    k = max(1, int(np.ceil(alpha * losses.size)))
    return float(losses[:k].mean())


def surrogate_mix(
    scen: NDArray[np.float64],
    names: Sequence[str],
    max_share: Mapping[str, float],
    *,
    target: float,
    budget: float,
) -> dict[str, float] | None:
    """The mix minimising the expected shortfall below ``target`` with CVaR at most
    ``budget``; ``None`` when the budget cannot be met or the solver fails."""
    k, n = scen.shape
    w = cp.Variable(n, nonneg=True)
    tau = cp.Variable()
    port = scen @ w
    ub = np.array([max_share.get(name, 0.0) for name in names])
    constraints = [
        cp.sum(w) == 1,
        w <= ub,
        tau + cp.sum(cp.pos(-port - tau)) / (ALPHA * k) <= budget,
    ]
    problem = cp.Problem(cp.Minimize(cp.sum(cp.pos(target - port)) / k), constraints)
    try:
        problem.solve(solver=cp.CLARABEL)
    except cp.SolverError:
        return None
    if problem.status not in ("optimal", "optimal_inaccurate") or w.value is None:
        return None
    x = np.clip(np.asarray(w.value, dtype=np.float64), 0.0, None)
    x[x < 1e-4] = 0.0
    x = np.minimum(x / x.sum(), ub)
    x /= x.sum()
    return {name: float(v) for name, v in zip(names, x, strict=True) if v > 0}


@dataclass(frozen=True)
class Candidate:
    label: str
    weights: dict[str, float]
    success: float
    cvar: float
    within_budget: bool


@dataclass(frozen=True)
class Optimized:
    best: Candidate
    candidates: list[Candidate] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        def c(x: Candidate) -> dict[str, Any]:
            return {
                "label": x.label,
                "weights": x.weights,
                "success_probability": x.success,
                "cvar_12m": x.cvar,
                "within_budget": x.within_budget,
            }

        return {
            "best": c(self.best),
            "candidates": [c(x) for x in self.candidates],
            "note": self.note,
        }


def optimize_mix(
    history: MonthlyReturns,
    real_yield: Mapping[str, float],
    max_share: Mapping[str, float],
    *,
    need: float,
    budget: float,
    success_of: Callable[[Mapping[str, float]], float],
    seeds: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 0,
) -> Optimized:
    """The candidate mix with the highest simulated success within the CVaR budget.

    ``need`` is the twelve-month return the goal needs (the withdrawal rate, plus
    inflation when withdrawals are indexed); ``success_of`` runs the Monte Carlo for a
    mix; ``seeds`` are mixes to consider as they are (the profile's, the user's).

    Raises:
        ConfigError: a budget outside (0, 1].
        InsufficientDataError: no index has a ceiling above zero in this profile.
    """
    if not 0 < budget <= 1:
        raise ConfigError(f"the CVaR budget must be in (0, 1], got {budget!r}")
    names = [n for n in history.names if max_share.get(n, 0.0) > 0]
    if not names:
        raise InsufficientDataError("the profile allows none of the indices built today")
    cols = [history.names.index(n) for n in names]
    scen = annual_scenarios(history, real_yield, seed=seed)[:, cols]
    mixes: dict[str, dict[str, float]] = {k: dict(v) for k, v in (seeds or {}).items()}
    for margin in MARGINS:
        mix = surrogate_mix(scen, names, max_share, target=need + margin, budget=budget)
        if mix is not None and not any(_same(mix, m) for m in mixes.values()):
            mixes[f"optimized (target {need + margin:.1%})"] = mix
    note = ""
    if not any(label.startswith("optimized") for label in mixes):
        note = (
            f"no mix of the indices keeps the 12-month CVaR within {budget:.0%} on this "
            "history; candidates shown as they are"
        )
    out = []
    for label, mix in mixes.items():
        port = scen @ np.array([mix.get(n, 0.0) for n in names])
        risk = cvar(port)
        out.append(Candidate(label, mix, success_of(mix), risk, risk <= budget + 1e-6))
    pool = [c for c in out if c.within_budget] or out
    best = max(pool, key=lambda c: (c.success, -c.cvar))
    return Optimized(best, out, note)


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    keys = set(a) | set(b)
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) < 1e-3 for k in keys)
