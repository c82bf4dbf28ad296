"""The universe: normalized opportunities and histories, as of a date."""

# the submodules (``from realyield.universe import *`` imports them)
__all__ = [
    "batch_import",
    "build",
    "import_changes",
    "point_in_time",
    "provenance",
    "repository",
    "summary",
]
