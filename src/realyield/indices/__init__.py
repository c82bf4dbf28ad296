"""Income indices: rules as data, construction with caps on shared risk, rebalancing, levels."""

# the submodules (``from realyield.indices import *`` imports them)
__all__ = [
    "bets",
    "candidates",
    "composition",
    "construct",
    "families",
    "levels",
    "lp",
    "membership",
    "methodology",
    "rebalance",
    "service",
    "weights",
]
