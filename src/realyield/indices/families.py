"""Asset-based families: Large-Cap Staking, growth baskets and the trend filter.

Large-Cap Staking weights PoS networks by market cap (single-asset cap), then holds each
network through its best staking route: native, delegated or a liquid staking token,
chosen by net yield minus a lock-up penalty and a risk penalty. Growth baskets hold
assets by market cap; the regime filter compares the basket's cap-weighted price with
its moving average on the rebalance date, using prices up to that date only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

import numpy as np
import polars as pl

from realyield.core.errors import InsufficientDataError
from realyield.core.model import Asset
from realyield.indices.candidates import CandidateColumns, dependency_groups
from realyield.indices.composition import Constituent, IndexComposition
from realyield.indices.weights import (
    InfeasibleWeightsError,
    capped_proportional,
    capped_weights,
)
from realyield.reference import token_facts
from realyield.reference.staking import StakingParams, load_staking_params
from realyield.universe.point_in_time import SortedHistory, day_number


def _network_assets(params: Sequence[StakingParams]) -> dict[str, str]:
    """Map every staking-table asset id (native and liquid) to its network's asset id."""
    native = {p.network: p.asset_id for p in params if p.route != "liquid"}
    return {p.asset_id: native.get(p.network, p.asset_id) for p in params}


def _route_network(
    underlying: Sequence[str],
    symbol: str,
    to_network: Mapping[str, str],
    peg_assets: Mapping[str, str],
) -> str | None:
    for asset in underlying:
        if asset in to_network:
            return to_network[asset]
    for token in symbol.replace("/", "-").split("-"):
        facts = token_facts(token)
        if facts is not None and facts.peg in peg_assets:
            return peg_assets[facts.peg]
    return None


def best_routes(
    candidates: CandidateColumns,
    networks: Collection[str],
    *,
    routes: Sequence[str],
    lockup_penalty_pp_per_30d: float,
    risk_penalty: float,
    staking: Sequence[StakingParams] | None = None,
) -> dict[str, int]:
    """The best staking route of each of ``networks`` (native asset ids) among the
    scored opportunities that pass the screens: the candidate row with the highest
    ``APY - lockup_penalty_pp_per_30d x lockup_days / 30 - risk_penalty x risk / 100``.

    The one route choice: Large-Cap Staking holds its networks through it, and a
    composite's growth basket holds its PoS assets through it. A network without an
    allowed route that passes the screens is left out of the result (BTC has none).
    """
    params = list(staking) if staking is not None else load_staking_params()
    to_network = _network_assets(params)
    peg_assets = {p.symbol.lower(): p.asset_id for p in params if p.route != "liquid"}
    wanted = set(networks)
    opps = candidates.scored.inputs.opportunities
    staking_rows = np.flatnonzero(
        np.isin(candidates.kind, ["staking", "liquid_staking"]) & ~candidates.excluded
    )
    best: dict[str, tuple[float, int]] = {}
    for i in staking_rows.tolist():
        o = opps[i]
        route = "liquid" if o.kind == "liquid_staking" else "native"
        if route not in routes and not (route == "native" and "delegated" in routes):
            continue
        network = _route_network(candidates.underlying[i], o.symbol, to_network, peg_assets)
        if network not in wanted:
            continue
        # net yield after the lock-up (the record's, else the network's unbonding period)
        # and the risk penalties
        lockup = float(np.nan_to_num(candidates.lockup_days[i]))
        score = (
            float(np.nan_to_num(candidates.apy[i]))
            - lockup_penalty_pp_per_30d * lockup / 30.0
            - risk_penalty * float(candidates.risk[i]) / 100.0
        )
        if network not in best or score > best[network][0]:
            best[network] = (score, i)
    return {network: row for network, (_, row) in best.items()}


def build_staking_index(
    name: str,
    title: str,
    candidates: CandidateColumns,
    assets: Mapping[str, Asset],
    *,
    as_of: date,
    single_cap: float,
    min_market_cap_usd: float,
    routes: Sequence[str],
    lockup_penalty_pp_per_30d: float,
    risk_penalty: float,
    min_constituents: int,
    staking: Sequence[StakingParams] | None = None,
    dependency_caps: Mapping[str, float] | None = None,
    min_weight: float = 0.0,
) -> IndexComposition:
    """Large-Cap Staking: cap-weighted PoS networks, each through its best route.

    Networks whose weight would fall under ``min_weight`` are dropped and their weight
    re-spread (``capped_weights``), unless that breaks a cap.

    Raises:
        InfeasibleWeightsError: fewer eligible networks than the minimum, or a cap that
            cannot be met with them.
    """
    params = list(staking) if staking is not None else load_staking_params()
    networks = sorted({_network_assets(params)[p.asset_id] for p in params})
    caps = {a: (assets[a].market_cap_usd or 0.0) if a in assets else 0.0 for a in networks}
    chosen_networks = [a for a in networks if caps[a] >= min_market_cap_usd]
    best = best_routes(
        candidates,
        chosen_networks,
        routes=routes,
        lockup_penalty_pp_per_30d=lockup_penalty_pp_per_30d,
        risk_penalty=risk_penalty,
        staking=params,
    )
    held = [a for a in chosen_networks if a in best]
    if len(held) < min_constituents:
        raise InfeasibleWeightsError(
            f"{name}: only {len(held)} PoS networks above ${min_market_cap_usd:,.0f} with a "
            f"staking route (need {min_constituents})"
        )
    target = np.asarray([caps[a] for a in held], dtype=float)
    weights = capped_proportional(target, single_cap)
    groups = dependency_groups(
        [candidates.dependencies[best[a]] for a in held],
        dependency_caps or {},
        shared_only=True,
    )
    if groups or min_weight > 0:  # e.g. two networks staked through one LST issuer
        weights = capped_weights(
            target,
            single_cap=single_cap,
            groups=groups,
            min_constituents=min_constituents,
            min_weight=min_weight,
        )
    constituents = [
        candidates.constituent(best[network], float(w), network, underlying=(network,))
        for network, w in zip(held, weights, strict=True)
        if w > 1e-9
    ]
    return IndexComposition(name, title, as_of, constituents)


def build_basket(
    name: str,
    title: str,
    asset_ids: Sequence[str],
    assets: Mapping[str, Asset],
    *,
    as_of: date,
    single_cap: float,
    min_constituents: int,
    min_weight: float = 0.0,
) -> IndexComposition:
    """A cap-weighted basket of plain holdings (no yield): the growth sleeve. Assets
    whose weight would fall under ``min_weight`` are dropped and their weight re-spread
    (unless the single cap then cannot hold).

    Raises:
        InfeasibleWeightsError: too few assets with a known market cap.
    """
    known = [a for a in asset_ids if a in assets and (assets[a].market_cap_usd or 0) > 0]
    if len(known) < min_constituents:
        raise InfeasibleWeightsError(
            f"{name}: {len(known)} assets with a known market cap (need {min_constituents}); "
            f"missing: {sorted(set(asset_ids) - set(known))}"
        )
    target = np.asarray([assets[a].market_cap_usd or 0.0 for a in known], dtype=float)
    if min_weight > 0:
        weights = capped_weights(
            target,
            single_cap=single_cap,
            groups=[],
            min_constituents=min_constituents,
            min_weight=min(min_weight, single_cap),
        )
    else:
        weights = capped_proportional(target, single_cap)
    constituents = [
        Constituent(
            id=f"asset:{a}",
            label=assets[a].symbol,
            kind="asset",
            chain=None,
            weight=float(w),
            apy=0.0,
            apy_real=0.0,
            apy_emission=0.0,
            apy_sustainable=0.0,
            risk=0.0,
            underlying=(a,),
            dependencies=(f"asset:{a}",),
        )
        for a, w in zip(known, weights, strict=True)
        if w > 1e-9
    ]
    return IndexComposition(name, title, as_of, constituents)


def risk_on(
    composition: IndexComposition,
    prices: pl.DataFrame | SortedHistory | None,
    *,
    as_of: date,
    window_days: int,
) -> tuple[bool, str]:
    """Trend filter: is the basket's cap-weighted price above its moving average?

    ``prices`` (``asset_id, date, price_usd``) may be given sorted as a
    ``SortedHistory``; either way only prices dated in the window ending on ``as_of`` are
    read. Returns the decision and its evidence.

    Raises:
        InsufficientDataError: less price history than the window.
    """
    if prices is None or (isinstance(prices, pl.DataFrame) and prices.is_empty()):
        raise InsufficientDataError("trend filter needs price history; none stored")
    rows = prices if isinstance(prices, SortedHistory) else SortedHistory(prices, "asset_id")
    weights = {c.underlying[0]: c.weight for c in composition.constituents}
    assets = list(weights)
    first_day, last_day = day_number(as_of) - (window_days - 1), day_number(as_of)
    # each asset's rows in the window (positions in the sorted table)
    spans = []
    for a in assets:
        code = rows.code_of.get(a)
        if code is None:
            spans.append(np.zeros(0, dtype=np.intp))
            continue
        codes = np.array([code], dtype=np.int64)
        lo, hi = int(rows.ends(first_day - 1, codes)[0]), int(rows.ends(last_day, codes)[0])
        spans.append(np.arange(lo, hi, dtype=np.intp))
    taken = np.concatenate(spans)
    # dates x assets, only the dates that have a price (the last row of a date counts)
    day_codes, day_of_row = np.unique(rows.day[taken], return_inverse=True)
    cols = np.repeat(np.arange(len(assets)), [s.size for s in spans])
    wide = np.full((day_codes.size, len(assets)), np.nan)
    wide[day_of_row, cols] = rows.numbers("price_usd")[taken]
    missing = [a for a, s in zip(assets, spans, strict=True) if s.size == 0]
    if day_codes.size < window_days * 0.8 or missing:
        raise InsufficientDataError(
            f"trend filter needs {window_days} days of prices for {sorted(weights)} up to "
            f"{as_of}; found {day_codes.size} days"
        )
    # carry each price forward over the days it is missing, then start where all are known
    seen = np.where(~np.isnan(wide), np.arange(day_codes.size)[:, None], 0)
    wide = wide[np.maximum.accumulate(seen, axis=0), np.arange(len(assets))]
    wide = wide[~np.isnan(wide).any(axis=1)]
    if wide.size == 0:
        raise InsufficientDataError(
            f"trend filter: no day up to {as_of} has a price for every asset of {sorted(weights)}"
        )
    level = (wide / wide[0]) @ np.array([weights[a] for a in assets])
    today, average = float(level[-1]), float(level.mean())
    on = today >= average
    return on, (
        f"basket at {today:.3f} vs its {window_days}-day average {average:.3f} on "
        f"{as_of}: risk {'on' if on else 'off'}"
    )
