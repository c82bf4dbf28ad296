"""Ground floor shared by every stage: records, errors, clock, settings, money."""

# the submodules (``from realyield.core import *`` imports them)
__all__ = [
    "clock",
    "errors",
    "events",
    "model",
    "money",
    "parsing",
    "retry",
    "secrets",
    "settings",
]
