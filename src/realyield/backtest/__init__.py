"""Backtests: indices and weight files replayed point in time, with costs, stress and
reports."""

# the submodules (``from realyield.backtest import *`` imports them)
__all__ = [
    "engine",
    "impermanent_loss",
    "instruments",
    "kernels",
    "levels",
    "metrics",
    "report",
    "schedule",
    "screens",
    "service",
    "stress",
]
