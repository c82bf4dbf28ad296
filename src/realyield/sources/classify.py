"""Which kind of opportunity a DeFiLlama pool is, from its project slug and exposure.

DeFiLlama's ``/pools`` does not say whether a pool is lending, liquidity or a vault, yet
every later stage (risk, indices) depends on it. Known project families are listed
below by slug prefix; anything else falls back on exposure (``multi`` = an AMM pair,
``single`` = a single-asset vault). ``kind_basis`` records which rule decided, so scores
can be less confident about fallback guesses.
"""

from __future__ import annotations

from typing import Final

_LIQUID_STAKING: Final = (
    "lido", "rocket-pool", "coinbase-wrapped-staked-eth", "binance-staked-eth", "frax-ether",
    "stader", "ether.fi-stake", "kelp", "renzo", "meth-protocol", "mantle-staked-eth",
    "stakewise", "ankr", "benqi-staked-avax", "stride", "jito", "marinade", "sanctum",
    "bedrock", "swell", "liquid-collective", "origin-ether", "dinero", "meta-pool",
    "stafi", "persistence", "pstake", "bifrost-liquid-staking", "blazestake", "jpool",
    "binance-staked-sol", "lista-liquid-staking", "stakestone", "puffer", "eigenpie",
    "nodedao", "tranchess-ether", "liquid-staked-",
)
_LENDING: Final = (
    "aave", "compound", "spark", "sparklend", "morpho", "euler", "fluid-lending",
    "fluid-lite", "radiant", "venus", "benqi-lending", "kamino-lend", "justlend", "maple",
    "moonwell", "silo", "fraxlend", "curve-llamalend", "dolomite", "ionic", "seamless",
    "sky-lending", "makerdao", "sky-", "liquity", "cream", "iron-bank", "geist", "granary",
    "lodestar", "tender", "notional", "marginfi", "solend", "save", "strike",
    "benddao", "paraspace", "clearpool", "goldfinch", "centrifuge", "truefi", "dforce",
    "flux-finance", "inverse-finance", "gearbox", "zerolend", "hyperlend", "kinza",
    "lista-lending", "abracadabra", "crvusd", "folks-finance", "scallop", "navi",
    "suilend", "echelon", "aries", "vesu", "nostra", "zklend", "extra-finance-xlend",
    "tectonic", "agave", "hundred", "mendi", "lendle", "init-capital", "avalon",
)
_VAULT: Final = (
    "yearn", "beefy", "convex", "aura", "harvest", "sommelier", "pendle", "idle",
    "stakedao", "stake-dao", "concentrator", "origin-dollar", "ethena", "sky-savings",
    "yield-yak", "autofarm", "reaper", "vaultka", "jones-dao", "gmd-protocol",
    "ipor", "enzyme", "set-protocol", "index-coop", "gamma", "arrakis", "steer",
    "ichi", "kamino-liquidity", "tulip", "francium", "alpaca", "extra-finance",
    "cian", "mellow", "veda", "lagoon", "upshift", "summer.fi", "contango", "dhedge",
    "toros", "tokemak", "autofinance", "spectra", "napier", "yieldnest", "falcon-finance",
    "resolv", "usual", "infinifi", "cove", "mover", "origami", "maxapy", "amphor",
    "harmonix", "bracket", "ether.fi-liquid",
)
_LIQUIDITY: Final = (
    "uniswap", "curve-dex", "curve", "sushiswap", "balancer", "pancakeswap", "aerodrome",
    "velodrome", "camelot", "trader-joe", "joe-", "raydium", "orca", "meteora", "quickswap",
    "thena", "maverick", "fluid-dex", "kyberswap", "solidly", "ramses", "chronos",
    "equalizer", "spookyswap", "spiritswap", "beethoven", "wombat", "platypus", "dodo",
    "bancor", "osmosis", "astroport", "minswap", "sundaeswap", "wingriders", "ref-finance",
    "sunswap", "biswap", "apeswap", "honeyswap", "lifinity", "cetus", "turbos", "hyperion",
    "ekubo", "jediswap", "syncswap", "izumi", "mdex", "hermes", "alien-base", "baseswap",
    "swapbased", "shadow", "pharaoh", "lynex", "nile", "zyberswap", "clipper", "loopring",
    "mim-swap", "integral", "elk", "woofi", "saucerswap", "stellaswap", "beamswap",
)
_STAKING: Final = ("native-staking", "solana-staking", "ethereum-staking", "cosmos-staking")

_TABLE: Final = (
    ("liquid_staking", _LIQUID_STAKING),
    ("staking", _STAKING),
    ("lending", _LENDING),
    ("vault", _VAULT),
    ("liquidity", _LIQUIDITY),
)


def classify_project(project: str, exposure: str | None, symbol: str) -> tuple[str, str]:
    """Return ``(kind, basis)``: basis is ``"project"`` or ``"exposure-fallback"``.

    Matching is by slug prefix, longest first, so ``"aave-v3"`` is lending and
    ``"curve-llamalend"`` is lending although ``"curve"`` alone is liquidity.
    """
    slug = project.strip().lower()
    best: tuple[int, str] | None = None
    for kind, prefixes in _TABLE:
        for prefix in prefixes:
            if slug.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), kind)
    if best is not None:
        return best[1], "project"
    multi = exposure == "multi" or (exposure is None and "-" in symbol.strip("-"))
    return ("liquidity" if multi else "vault"), "exposure-fallback"
