"""Sources: fetch, import and bundle data; each source produces the same core records."""

# the submodules (``from realyield.sources import *`` imports them)
__all__ = [
    "classify",
    "coingecko",
    "defillama",
    "file_records",
    "files",
    "http",
    "sanitize",
    "snapshot",
    "staking",
    "tabular",
]
