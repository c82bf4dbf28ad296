"""Choose the mix of indices that best meets the goal within a risk budget.

The probability of meeting a goal is not convex in the weights, so the optimizer works
in two steps. (1) On scenario returns of each index over twelve months (price return
from a block bootstrap of their joint monthly history, plus today's real yield, less
tail-risk jumps), a linear program (HiGHS, through scipy) solves the convex surrogate:
minimise the expected shortfall of the portfolio's return below the return the goal
needs, subject to the risk budget as a CVaR constraint (Rockafellar-Uryasev: the mean
loss in the worst 5% of scenarios at most the budget), the profile's per-index ceilings
and a full allocation. It solves this for a few shortfall targets (the need, and the
need plus margins), rounded to a grid and cached (``Frontier``) so a batch of plans
solves each once. (2) The Monte Carlo then scores every candidate, the profile's
default mix and any mix the user gave, on the same random paths (``planner``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.optimize import linprog

from realyield.core.errors import ConfigError, InsufficientDataError
from realyield.planning.returns import MonthlyReturns
from realyield.planning.samplers import recentre
from realyield.planning.tailrisk import JumpSources, annual_jump_losses

ALPHA = 0.05
MARGINS = (0.0, 0.015, 0.03)


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
    ub = np.array([max_share.get(name, 0.0) for name in names])
    # variables: w (n), tau (1), u (k: loss beyond tau), s (k: shortfall below target)
    eye = sp.identity(k, format="csr")
    zero = sp.csr_matrix((k, k))
    big = sp.csr_matrix(-scen)
    a_ub = sp.vstack(
        [
            sp.hstack([big, sp.csr_matrix((k, 1)), zero, -eye]),  # target - port <= s
            sp.hstack([big, -np.ones((k, 1)), -eye, zero]),  # -port - tau <= u
            sp.hstack(
                [
                    sp.csr_matrix((1, n)),
                    np.ones((1, 1)),
                    np.full((1, k), 1.0 / (ALPHA * k)),
                    sp.csr_matrix((1, k)),
                ]
            ),
        ],
        format="csr",
    )
    b_ub = np.concatenate([np.full(k, -target), np.zeros(k), [budget]])
    a_eq = sp.hstack([np.ones((1, n)), sp.csr_matrix((1, 1 + 2 * k))], format="csr")
    cost = np.concatenate([np.zeros(n + 1 + k), np.full(k, 1.0 / k)])
    bounds = [(0.0, float(u)) for u in ub] + [(None, None)] + [(0.0, None)] * (2 * k)
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0], bounds=bounds, method="highs")
    if res.status != 0 or res.x is None:
        return None
    w_value = res.x[:n]
    x = np.clip(np.asarray(w_value, dtype=np.float64), 0.0, None)
    x[x < 1e-4] = 0.0
    x = np.minimum(x / x.sum(), ub)
    x /= x.sum()
    return {name: float(v) for name, v in zip(names, x, strict=True) if v > 0}


@dataclass(frozen=True)
class Candidate:
    label: str
    weights: dict[str, float]
    success: float  # on the screening paths
    cvar: float  # CVaR 95% of 12-month returns, a loss counted positive
    within_budget: bool
    real_yield: float = 0.0
    need: float = 0.0


@dataclass(frozen=True)
class Optimized:
    best: Candidate
    candidates: list[Candidate] = field(default_factory=list)
    note: str = ""
    budget: float = 0.0
    screening_paths: int = 0

    def as_dict(self) -> dict[str, Any]:
        def c(x: Candidate) -> dict[str, Any]:
            return {
                "label": x.label,
                "weights": x.weights,
                "success_probability": x.success,
                "cvar_12m_loss": x.cvar,
                "within_budget": x.within_budget,
                "real_yield": x.real_yield,
                "need": x.need,
            }

        return {
            "best": c(self.best),
            "candidates": [c(x) for x in self.candidates],
            "cvar_budget": self.budget,
            "cvar_convention": "mean loss of the worst 5% of 12-month returns, a loss "
            "counted positive (negative: even the worst 5% gain)",
            "screening_paths": self.screening_paths,
            "note": self.note,
        }


#: the grid the optimizer's targets are rounded to, so plans share solved mixes
TARGET_STEP = 0.005
SCENARIO_SEED = 0


class Frontier:
    """The optimizer's surrogate mixes over targets, solved once per profile and target
    and cached: every plan on the same indices (a batch's clients) shares them.

    The scenario set (twelve-month returns of each index: bootstrapped prices recentred
    to a flat median, as the Monte Carlo's default, plus today's real yield, less jump
    losses) is drawn once with a fixed seed: it is part of the data a batch shares, not
    of one plan's luck.
    """

    def __init__(
        self,
        history: MonthlyReturns,
        real_yield: Mapping[str, float],
        jumps: JumpSources | None = None,
    ) -> None:
        self.names = history.names
        rng = np.random.default_rng(SCENARIO_SEED)
        flat = np.column_stack(
            [recentre(col, 0.0) if np.ptp(col) > 0 else col for col in history.matrix.T]
        )
        level = replace(history, matrix=flat)
        scen = annual_scenarios(level, real_yield, seed=SCENARIO_SEED)
        if jumps is not None and jumps.total_intensity > 0:
            cols = [jumps.index_names.index(n) for n in self.names]
            scen = scen - annual_jump_losses(jumps, scen.shape[0], rng)[:, cols]
        self.scenarios = scen
        self._mixes: dict[tuple[Any, ...], dict[str, float] | None] = {}

    def cvar_of(self, weights: Mapping[str, float]) -> float:
        return cvar(self.scenarios @ np.array([weights.get(n, 0.0) for n in self.names]))

    @property
    def solved(self) -> int:
        return len(self._mixes)

    def top_target(self, max_share: Mapping[str, float]) -> float:
        """Above the best allowed index's mean 12-month return no target changes the
        mix much, so targets are capped there (a batch then solves a bounded grid)."""
        cols = [k for k, n in enumerate(self.names) if max_share.get(n, 0.0) > 0]
        if not cols:
            return 0.0
        return float(self.scenarios[:, cols].mean(axis=0).max()) + max(MARGINS)

    def warm(self, max_share: Mapping[str, float], budget: float) -> int:
        """Solve the whole grid of targets for one profile (a batch does it once, before
        its tasks are sent out); returns the number of targets."""
        steps = int(self.top_target(max_share) / TARGET_STEP) + 1
        for step in range(steps + 1):
            self.mix(max_share, budget, step * TARGET_STEP)
        return steps + 1

    def mix(
        self, max_share: Mapping[str, float], budget: float, target: float
    ) -> dict[str, float] | None:
        """The surrogate's mix for ``target`` (rounded to ``TARGET_STEP``), cached."""
        step = round(target / TARGET_STEP)
        key = (tuple(sorted(max_share.items())), budget, step)
        if key not in self._mixes:
            names = [n for n in self.names if max_share.get(n, 0.0) > 0]
            if not names:
                raise InsufficientDataError("the profile allows none of the indices built today")
            cols = [self.names.index(n) for n in names]
            self._mixes[key] = surrogate_mix(
                self.scenarios[:, cols], names, max_share, target=step * TARGET_STEP, budget=budget
            )
        return self._mixes[key]

    def candidates(
        self, max_share: Mapping[str, float], budget: float, need: float
    ) -> dict[str, dict[str, float]]:
        """Distinct surrogate mixes for the need and the need plus ``MARGINS``.

        Raises:
            ConfigError: a budget outside (0, 1].
            InsufficientDataError: the profile allows none of the indices.
        """
        if not 0 < budget <= 1:
            raise ConfigError(f"the CVaR budget must be in (0, 1], got {budget!r}")
        out: dict[str, dict[str, float]] = {}
        top = self.top_target(max_share)
        for margin in MARGINS:
            mix = self.mix(max_share, budget, min(need + margin, top))
            if mix is not None and not any(_same(mix, m) for m in out.values()):
                out[f"optimized (target {need + margin:.1%})"] = mix
        return out


def _same(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    keys = set(a) | set(b)
    return all(abs(a.get(k, 0.0) - b.get(k, 0.0)) < 1e-3 for k in keys)
