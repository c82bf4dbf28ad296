"""Portfolio: a ledger of every yield event, cost-basis lots, tax reports, projections.

Layout: ``events`` (the validated record), ``ledger`` (append-only storage),
``pricing`` (fair-market values from stored prices), ``lots`` (FIFO/LIFO/HIFO/average
cost), ``reports`` (gains and income per tax year), ``imports/`` and ``exports/`` (one
module per file format), ``backup`` (portable ledger backups), ``projection``
(expected income of a portfolio on the indices), ``holdings`` (what is held, valued,
with income and drift, derived from the ledger), ``transfers`` (withdrawals and
deposits between own accounts that keep basis and holding period) and ``service``
(the functions the CLI and the API call).
"""

# the submodules (``from realyield.portfolio import *`` imports them)
__all__ = [
    "backup",
    "events",
    "exports",
    "holdings",
    "imports",
    "ledger",
    "lots",
    "pricing",
    "projection",
    "reports",
    "runs",
    "service",
    "transfers",
]
