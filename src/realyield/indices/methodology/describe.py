"""An index's rules in a few plain lines: what ``realyield index NAME`` prints above the
holdings, and what the API and dashboard can show beside them.

One line per section of the definition (``docs/methodology.md`` explains each rule),
each a (section, text) pair; sections the index does not use are left out. The text
is built from the definition itself, so it always states the rules the index was
built with, including a user's own TOML.
"""

from __future__ import annotations

from collections.abc import Mapping

from realyield.indices.methodology.definition import IndexDefinition
from realyield.indices.methodology.records import Component, Eligibility


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def _usd(x: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= size:
            return f"${x / size:g}{unit}"
    return f"${x:g}"


def _eligibility(e: Eligibility) -> str:
    parts = [", ".join(e.kinds) if e.kinds else "every kind"]
    if e.chains:
        parts.append("on " + ", ".join(e.chains))
    if e.stablecoin_only:
        parts.append("stablecoins only")
    parts.append(f"APY <= {e.max_apy:g}%")
    if e.min_tvl_usd is not None:
        parts.append(f"TVL >= {_usd(e.min_tvl_usd)}")
    if e.min_sustainability is not None:
        parts.append(f"sustainability >= {e.min_sustainability:g}")
    if e.max_risk is not None:
        parts.append(f"risk <= {e.max_risk:g}")
    if e.asset_categories:
        parts.append("categories " + ", ".join(e.asset_categories))
    if e.min_market_cap_usd is not None:
        parts.append(f"market cap >= {_usd(e.min_market_cap_usd)}")
    parts.append("passing the screens" if e.require_screens else "screens not required")
    return "; ".join(parts)


def _component(c: Component) -> str:
    if c.index is not None:
        return f"{c.name} {_pct(c.weight)} (index {c.index})"
    how = f"{len(c.assets)} assets by {c.weighting}"
    if c.single_cap is not None:
        how += f", {_pct(c.single_cap)} cap"
    if c.staking_routes:
        how += f", staked through {c.staking_routes}'s route choice"
    return f"{c.name} {_pct(c.weight)} ({how})"


def _gas(gas: Mapping[str, float], default: float) -> str:
    listed = ", ".join(f"{chain} ${usd:g}" for chain, usd in sorted(gas.items()))
    return f"gas ${default:g} a trade" + (f" ({listed})" if listed else "")


def describe_rules(defn: IndexDefinition) -> list[tuple[str, str]]:
    """The rules of ``defn`` as (section, text) lines, in the order of the methodology."""
    lines: list[tuple[str, str]] = []
    if defn.components:
        lines.append(("components", "; ".join(_component(c) for c in defn.components)))
    elif defn.basket is not None:
        lines.append(("basket", ", ".join(defn.basket.assets) + " by market cap"))
    elif defn.staking is not None:
        s = defn.staking
        lines.append(
            (
                "networks",
                f"PoS networks with a market cap >= {_usd(s.min_market_cap_usd)}, by market "
                f"cap; each through its best route ({', '.join(s.routes)}): net APY - "
                f"{s.lockup_penalty_pp_per_30d:g} pp per 30 days of lock-up - "
                f"{s.risk_penalty:g} pp x risk / 100",
            )
        )
    else:
        lines.append(("eligible", _eligibility(defn.eligibility)))
    caps = defn.caps
    count = f"at least {caps.min_constituents}"
    if caps.max_constituents is not None:
        count = f"{caps.min_constituents}-{caps.max_constituents}"
    deps = ", ".join(f"{k} {_pct(v)}" for k, v in caps.dependency.items())
    lines.append(
        (
            "caps",
            f"single {_pct(caps.single)}"
            + (f"; per {deps}" if deps else "")
            + f"; {count} holdings",
        )
    )
    w = defn.weighting
    if defn.components:
        if w.min_weight:
            lines.append(("weighting", f"by component; minimum weight {_pct(w.min_weight)}"))
    else:
        how = w.method
        if w.method == "risk_adjusted_yield":
            how = f"{w.yield_field} x (1 - {w.risk_aversion:g} x risk / 100)"
        if w.min_weight:
            how += f"; minimum weight {_pct(w.min_weight)}"
        lines.append(("weighting", how))
    if defn.sleeves:
        lines.append(
            (
                "sleeves",
                "; ".join(
                    f"{s.name} {_pct(s.weight)} ({', '.join(s.eligibility.kinds) or 'any kind'}"
                    + (", stablecoins only" if s.eligibility.stablecoin_only else "")
                    + ")"
                    for s in defn.sleeves
                ),
            )
        )
    if defn.regime is not None:
        g = defn.regime
        lines.append(
            (
                "regime",
                f"risk on at or above the {g.window_days}-day {g.signal}; below it, "
                f"hold {g.fallback}",
            )
        )
    r = defn.rebalance
    c = r.costs
    slippage = f"slippage {c.slippage_bps:g} bps"
    if c.slippage_bps_per_1pct_of_tvl:
        slippage += f" + {c.slippage_bps_per_1pct_of_tvl:g} bps per 1% of TVL"
    lines.append(
        (
            "rebalance",
            f"{r.schedule}; drift trigger {r.drift_trigger_pp:g} pp; no-trade band "
            f"{r.no_trade_band_pp:g} pp; fee {c.fee_bps:g} bps, {slippage}, "
            f"{_gas(c.gas_usd, c.default_gas_usd)} on {_usd(c.notional_usd)}",
        )
    )
    return lines
