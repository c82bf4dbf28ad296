"""Gathering everything the scores need into columns: one array per input, one slot per
opportunity (NaN = unknown).

Why columns: scoring 20,000 opportunities must take well under a second, so the factor
kernels work on numpy arrays; this module is the one place that walks the records and
looks facts up (protocol, chain and token tables, staking parameters, reward-token
dilution and price trend, history statistics).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from realyield.core.model import Asset, Opportunity
from realyield.reference.defunct import DefunctToken
from realyield.reference.staking import StakingParams, load_staking_params
from realyield.scoring import signals
from realyield.scoring.dependencies import Dependencies
from realyield.scoring.record_facts import (
    FactsCache,
    PairToken,
    RecordFacts,
    number,
    record_facts,
)
from realyield.universe.point_in_time import SortedHistory, day_number

F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]
NAN = math.nan
YEAR_DAYS = 365.25


@dataclass
class ScoringInputs:
    """Column arrays of every scoring input, aligned with ``opportunities``."""

    opportunities: Sequence[Opportunity]
    as_of: date
    apy: F64
    apy_base: F64
    apy_reward: F64
    split_known: BOOL
    tvl_usd: F64
    is_staking: BOOL
    is_lst: BOOL
    staking_inflation: F64
    slashing: F64  # 1 slashing applies, 0 not, NaN unknown / not staking
    lockup_days: F64
    exposure_multi: F64  # 1 multi, 0 single, NaN unknown
    correlated: F64  # 1 the pair's assets share a peg, 0 not, NaN unknown
    il_7d: F64
    depeg_points: F64
    depeg_tokens: list[tuple[str, ...]]
    reward_dilution: F64
    reward_trend: F64
    n_obs: F64
    mu: F64
    sigma: F64
    mean_30d: F64
    std_30d: F64
    tvl_change_30d: F64
    protocol_age_years: F64
    audits: F64
    exploits: F64
    years_since_exploit: F64
    layers: F64
    collateral: list[str]  # overcollateralized | undercollateralized | not_lending | unknown
    custodial: BOOL
    chain_age_years: F64
    chain_kind: list[str]
    chain_bridge: F64
    chain_incidents: F64
    source_outlier: F64  # 1 flagged by the source (DeFiLlama ``outlier``), 0 not, NaN unknown
    volume_1d: F64  # USD traded over the last day, as the source reports it
    volume_7d: F64  # USD traded over the last 7 days
    fee_tier: F64  # percent, from the pool's description
    p_down: F64  # the source's predicted probability that the APY falls (fraction)
    is_amm: BOOL  # a liquidity pool: its base APY is trading fees
    frozen: BOOL  # a market-set rate that has not moved for 30 days
    volatile: BOOL  # multi-asset exposure to tokens without a common peg
    dependencies: list[Dependencies] = field(default_factory=list)
    pair_tokens: list[tuple[PairToken, ...]] = field(default_factory=list)
    defunct: list[list[tuple[str, DefunctToken]]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.opportunities)


def _years(start: date | None, end: date) -> float:
    return NAN if start is None else max(0.0, (end - start).days / YEAR_DAYS)


def reward_token_facts(
    assets: Sequence[Asset],
    prices: pl.DataFrame | SortedHistory | None,
    *,
    as_of: date,
    window_days: int = 90,
) -> tuple[dict[str, float], dict[str, float]]:
    """Per asset id: annual supply inflation, and annualised price change over the
    last ``window_days`` (both fractions), from stored assets and price history.

    ``prices`` (``asset_id, date, price_usd``) may be given already sorted as a
    ``SortedHistory`` when asking for many dates. The trend runs from the first to the
    last price in ``(as_of - window_days, as_of]`` and needs at least 30 days between them.
    """
    dilution = {a.id: a.supply_inflation for a in assets if a.supply_inflation is not None}
    trend: dict[str, float] = {}
    if prices is None:
        return dilution, trend
    rows = prices if isinstance(prices, SortedHistory) else SortedHistory(prices, "asset_id")
    if not rows.keys:
        return dilution, trend
    day = day_number(as_of)
    first, end = rows.ends(day - window_days), rows.ends(day)
    have = np.flatnonzero(end > first)
    price = rows.numbers("price_usd")
    first, last = first[have], end[have] - 1
    days = rows.day[last] - rows.day[first]
    p0, p1 = price[first], price[last]
    for k, n, a, b in zip(have.tolist(), days.tolist(), p0.tolist(), p1.tolist(), strict=True):
        if n >= 30 and a > 0:
            trend[rows.keys[k]] = (b / a) ** (365.0 / n) - 1.0
    return dilution, trend


def _staking_lookup(
    params: Sequence[StakingParams],
) -> tuple[dict[str, StakingParams], dict[str, StakingParams]]:
    """Staking rows by asset id, and native/delegated rows by the peg symbol (eth, sol)."""
    by_asset = {p.asset_id: p for p in params}
    by_peg = {p.symbol.lower(): p for p in params if p.route != "liquid"}
    return by_asset, by_peg


#: Record facts that are scoring columns as they are.
_STATIC_NUMBERS = (
    "lockup_days",
    "il_7d",
    "source_outlier",
    "exposure_multi",
    "correlated",
    "staking_inflation",
    "slashing",
    "depeg_points",
    "audits",
    "exploits",
    "layers",
    "chain_bridge",
    "chain_incidents",
)


#: ``meta`` keys (DeFiLlama's, snake_case) read as numbers into scoring columns.
_META_COLUMNS = (
    ("volume_usd_1d", "volume_1d"),
    ("volume_usd_7d", "volume_7d"),
    ("apy_pct_30d", "apy_pct_30d"),
    ("count", "count"),
)


def build_inputs(
    opportunities: Sequence[Opportunity],
    *,
    as_of: date,
    stats: pl.DataFrame | None = None,
    assets: Sequence[Asset] = (),
    prices: pl.DataFrame | SortedHistory | None = None,
    staking: Sequence[StakingParams] | None = None,
    facts_cache: FactsCache | None = None,
) -> ScoringInputs:
    """Assemble the scoring columns for ``opportunities`` as of ``as_of``.

    ``stats`` comes from ``history_stats``; without it, DeFiLlama's own statistics in
    ``meta`` (count, mu, sigma, apyMean30d) are used where present. ``facts_cache``
    keeps each record's date-independent facts between calls (a replay over many
    dates).
    """
    n = len(opportunities)
    staking = load_staking_params() if staking is None else staking
    stake_by_asset, stake_by_peg = _staking_lookup(staking)
    dilution_of, trend_of = reward_token_facts(assets, prices, as_of=as_of)
    stat_names = ("n_obs", "mu", "sigma", "mean_30d", "std_30d", "tvl_change_30d")
    stat_rows: Mapping[str, tuple[object, ...]] = (
        {r[0]: r[1:] for r in stats.select("id", *stat_names).rows()} if stats is not None else {}
    )
    cols: dict[str, list[float]] = {
        name: [NAN] * n
        for name in (
            "apy",
            "apy_base",
            "apy_reward",
            "tvl_usd",
            "staking_inflation",
            "slashing",
            "lockup_days",
            "exposure_multi",
            "correlated",
            "il_7d",
            "depeg_points",
            "reward_dilution",
            "reward_trend",
            "n_obs",
            "mu",
            "sigma",
            "mean_30d",
            "std_30d",
            "tvl_change_30d",
            "protocol_age_years",
            "audits",
            "exploits",
            "years_since_exploit",
            "layers",
            "chain_age_years",
            "chain_bridge",
            "chain_incidents",
            "source_outlier",
            "volume_1d",
            "volume_7d",
            "fee_tier",
            "p_down",
            "apy_pct_30d",
            "count",
        )
    }
    from_history = np.zeros(n, dtype=bool)
    split_known = np.zeros(n, dtype=bool)
    cache = facts_cache.using(staking) if facts_cache is not None else None
    found = [
        cache.facts(o, stake_by_asset, stake_by_peg)
        if cache is not None
        else record_facts(o, stake_by_asset, stake_by_peg)
        for o in opportunities
    ]
    # the record facts, field by field (one transposition, no per-field loop)
    static: dict[str, tuple[Any, ...]] = dict(
        zip(
            RecordFacts._fields,
            zip(*found, strict=True) if found else [()] * len(RecordFacts._fields),
            strict=True,
        )
    )
    for i, o in enumerate(opportunities):
        cols["apy"][i] = number(o.apy)
        split_known[i] = o.apy_base is not None or o.apy_reward is not None
        if split_known[i]:
            cols["apy_base"][i] = number(o.apy_base) if o.apy_base is not None else 0.0
            cols["apy_reward"][i] = number(o.apy_reward) if o.apy_reward is not None else 0.0
        else:  # unknown split: nothing is assumed real
            cols["apy_base"][i] = 0.0
            cols["apy_reward"][i] = number(o.apy)
        cols["tvl_usd"][i] = number(o.tvl_usd)
        # reward tokens: dilution and price trend where known (mean over known tokens)
        if o.reward_tokens:
            d = [dilution_of[r] for r in o.reward_tokens if r in dilution_of]
            tr = [trend_of[r] for r in o.reward_tokens if r in trend_of]
            cols["reward_dilution"][i] = sum(d) / len(d) if d else NAN
            cols["reward_trend"][i] = sum(tr) / len(tr) if tr else NAN
        # history statistics: stored history first, DeFiLlama's meta second
        meta = o.meta
        # the source's own figures, where it sent them (absent keys stay NaN)
        for key, column in _META_COLUMNS:
            value = meta.get(key)
            if value is not None:
                cols[column][i] = number(value)
        if "pool_meta" in meta:
            cols["fee_tier"][i] = signals.fee_tier_pct(meta["pool_meta"])
        if "predicted_class" in meta:
            cols["p_down"][i] = signals.p_down(
                meta["predicted_class"], meta.get("predicted_probability")
            )
        row = stat_rows.get(o.id)
        if row is not None:
            from_history[i] = True
            for name, value in zip(stat_names, row, strict=True):
                cols[name][i] = number(value)
        else:
            cols["n_obs"][i] = number(meta.get("count"))
            cols["mu"][i] = number(meta.get("mu"))
            cols["sigma"][i] = number(meta.get("sigma"))
            cols["mean_30d"][i] = number(meta.get("apy_mean_30d"))
    for name in _STATIC_NUMBERS:
        cols[name] = list(static[name])
    cols["protocol_age_years"] = [_years(d, as_of) for d in static["launched"]]
    cols["years_since_exploit"] = [_years(d, as_of) for d in static["last_exploit"]]
    cols["chain_age_years"] = [_years(d, as_of) for d in static["chain_launched"]]
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    kinds = [o.kind for o in opportunities]
    is_amm = np.asarray([k == "liquidity" for k in kinds], dtype=bool)
    multi = arrays["exposure_multi"] == 1.0
    market_rate = is_amm | np.asarray([k == "lending" for k in kinds], dtype=bool)
    market_rate |= multi & np.asarray([k == "vault" for k in kinds], dtype=bool)
    with np.errstate(invalid="ignore"):
        frozen = np.where(
            from_history,
            signals.frozen_from_history(arrays["apy"], arrays["std_30d"], arrays["n_obs"]),
            signals.frozen_from_source(
                arrays["apy"], arrays["apy_pct_30d"], arrays["mean_30d"], arrays["count"]
            ),
        )
    del arrays["apy_pct_30d"], arrays["count"]
    return ScoringInputs(
        opportunities=opportunities,
        as_of=as_of,
        split_known=split_known,
        is_staking=np.asarray(static["is_staking"], dtype=bool),
        is_lst=np.asarray(static["is_lst"], dtype=bool),
        collateral=list(static["collateral"]),
        custodial=np.asarray(static["custodial"], dtype=bool),
        chain_kind=list(static["chain_kind"]),
        depeg_tokens=list(static["depeg_tokens"]),
        dependencies=list(static["dependencies"]),
        pair_tokens=list(static["pair_tokens"]),
        defunct=[
            [(s, d) for s, d in found if d.since <= as_of] if found else []
            for found in static["defunct"]
        ],
        is_amm=is_amm,
        frozen=frozen & market_rate,
        volatile=multi & (arrays["correlated"] != 1.0),
        **arrays,
    )
