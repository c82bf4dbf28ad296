"""The API's routes, one module per domain. Routes parse, call and answer; the figures
come from library functions (through ``presentation.views`` and ``presentation.data``)."""

# the submodules (``from realyield.api.routers import *`` imports them)
__all__ = [
    "alerts",
    "indices",
    "jobs",
    "ledger",
    "meta",
    "opportunities",
    "stream",
]
