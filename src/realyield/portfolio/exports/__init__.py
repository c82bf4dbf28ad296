"""Exports of the ledger: one module per format, each a pure function to CSV/HTML text.

Event exports (``generic``, ``koinly``, ``cointracker``) take events; report exports
(``form8949``, ``income``, ``html``) take the tax-year reports. ``service.export``
picks the right inputs for a format name.
"""

# the submodules (``from realyield.portfolio.exports import *`` imports them)
__all__ = [
    "csvtext",
    "events",
    "tax",
]
