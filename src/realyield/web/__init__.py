"""The web dashboard served by the API app (templates and static files, no build step)."""

# the submodules (``from realyield.web import *`` imports them)
__all__ = [
    "pages",
]
