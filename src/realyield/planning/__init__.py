"""Planning: turn an income goal into a required yield, a verdict on its sustainability,
an allocation across the indices, a Monte Carlo of income and capital, and a cash-flow
schedule. Builds on the indices (what they yield today, how their holdings moved)."""

# the submodules (``from realyield.planning import *`` imports them)
__all__ = [
    "cashflow",
    "context",
    "goal",
    "montecarlo",
    "optimize",
    "outcomes",
    "parse",
    "paths",
    "plan",
    "planner",
    "profiles",
    "report",
    "returns",
    "samplers",
    "service",
    "tailrisk",
]
