"""Scoring: real yield, screens, sustainability and risk scores, and the forward-yield forecast."""

# the submodules (``from realyield.scoring import *`` imports them)
__all__ = [
    "dependencies",
    "explain",
    "factors",
    "features",
    "forecast",
    "history_stats",
    "impermanent_loss",
    "inputs",
    "labels",
    "pair_risk",
    "realyield",
    "record_facts",
    "risk",
    "score",
    "screener",
    "screens",
    "service",
    "signals",
    "sustainability",
]
