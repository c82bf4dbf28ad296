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

import numpy as np
import polars as pl
from numpy.typing import NDArray

from realyield.core.model import Asset, Opportunity
from realyield.scoring.dependencies import Dependencies, dependencies_of
from realyield.scoring.metadata import chain_facts, protocol_facts, split_symbol, token_facts
from realyield.sources.staking import StakingParams, load_staking_params

F64 = NDArray[np.float64]
BOOL = NDArray[np.bool_]
NAN = math.nan
YEAR_DAYS = 365.25
#: Issuers whose stablecoins are backed by derivatives or strategies, not cash.
SYNTHETIC_ISSUERS = frozenset(
    {"ethena", "usual", "resolv", "falcon-finance", "elixir", "level", "f(x)", "angle", "reserve"}
)


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
    dependencies: list[Dependencies] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.opportunities)


def _years(start: date | None, end: date) -> float:
    return NAN if start is None else max(0.0, (end - start).days / YEAR_DAYS)


def _num(value: object) -> float:
    if value is None or isinstance(value, bool):
        return NAN
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return NAN
    return result if math.isfinite(result) else NAN


def reward_token_facts(
    assets: Sequence[Asset], prices: pl.DataFrame | None, *, as_of: date, window_days: int = 90
) -> tuple[dict[str, float], dict[str, float]]:
    """Per asset id: annual supply inflation, and annualised price change over the
    last ``window_days`` (both fractions), from stored assets and price history."""
    dilution = {a.id: a.supply_inflation for a in assets if a.supply_inflation is not None}
    trend: dict[str, float] = {}
    if prices is not None and not prices.is_empty():
        window = prices.filter(
            (pl.col("date") <= as_of) & (pl.col("date") > as_of - np.timedelta64(window_days, "D"))
        ).sort("asset_id", "date")
        ends = window.group_by("asset_id").agg(
            pl.col("price_usd").first().alias("p0"),
            pl.col("price_usd").last().alias("p1"),
            pl.col("date").first().alias("d0"),
            pl.col("date").last().alias("d1"),
        )
        for row in ends.iter_rows(named=True):
            days = (row["d1"] - row["d0"]).days
            if days >= 30 and row["p0"] > 0:
                trend[row["asset_id"]] = (row["p1"] / row["p0"]) ** (365.0 / days) - 1.0
    return dilution, trend


def _staking_lookup(
    params: Sequence[StakingParams],
) -> tuple[dict[str, StakingParams], dict[str, StakingParams]]:
    """Staking rows by asset id, and native/delegated rows by the peg symbol (eth, sol)."""
    by_asset = {p.asset_id: p for p in params}
    by_peg = {p.symbol.lower(): p for p in params if p.route != "liquid"}
    return by_asset, by_peg


def build_inputs(
    opportunities: Sequence[Opportunity],
    *,
    as_of: date,
    stats: pl.DataFrame | None = None,
    assets: Sequence[Asset] = (),
    prices: pl.DataFrame | None = None,
    staking: Sequence[StakingParams] | None = None,
) -> ScoringInputs:
    """Assemble the scoring columns for ``opportunities`` as of ``as_of``.

    ``stats`` comes from ``history_stats``; without it, DeFiLlama's own statistics in
    ``meta`` (count, mu, sigma, apyMean30d) are used where present.
    """
    n = len(opportunities)
    staking = load_staking_params() if staking is None else staking
    stake_by_asset, stake_by_peg = _staking_lookup(staking)
    dilution_of, trend_of = reward_token_facts(assets, prices, as_of=as_of)
    stat_rows: Mapping[str, dict[str, object]] = (
        {r["id"]: r for r in stats.iter_rows(named=True)} if stats is not None else {}
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
        )
    }
    split_known = np.zeros(n, dtype=bool)
    is_staking = np.zeros(n, dtype=bool)
    is_lst = np.zeros(n, dtype=bool)
    custodial = np.zeros(n, dtype=bool)
    collateral: list[str] = []
    chain_kind: list[str] = []
    depeg_tokens: list[tuple[str, ...]] = []
    deps: list[Dependencies] = []
    for i, o in enumerate(opportunities):
        meta = o.meta
        tokens = split_symbol(o.symbol)
        facts = [t for t in (token_facts(s) for s in tokens) if t is not None]
        cols["apy"][i] = _num(o.apy)
        split_known[i] = o.apy_base is not None or o.apy_reward is not None
        if split_known[i]:
            cols["apy_base"][i] = _num(o.apy_base) if o.apy_base is not None else 0.0
            cols["apy_reward"][i] = _num(o.apy_reward) if o.apy_reward is not None else 0.0
        else:  # unknown split: nothing is assumed real
            cols["apy_base"][i] = 0.0
            cols["apy_reward"][i] = _num(o.apy)
        cols["tvl_usd"][i] = _num(o.tvl_usd)
        cols["lockup_days"][i] = _num(o.lockup_days)
        cols["il_7d"][i] = _num(meta.get("il_7d"))
        if isinstance(meta.get("outlier"), bool):
            cols["source_outlier"][i] = 1.0 if meta["outlier"] else 0.0
        if o.exposure is not None:
            cols["exposure_multi"][i] = 1.0 if o.exposure == "multi" else 0.0
        elif len(tokens) > 1:
            cols["exposure_multi"][i] = 1.0
        pegs = {t.peg for t in facts}
        if o.il_risk is not None and cols["exposure_multi"][i] == 1.0:
            cols["correlated"][i] = 0.0 if o.il_risk else 1.0
        elif len(tokens) > 1 and len(facts) == len(tokens):
            cols["correlated"][i] = 1.0 if len(pegs) == 1 else 0.0
        # staking: inflation of the network behind the stake, slashing
        is_staking[i] = o.kind == "staking"
        is_lst[i] = o.kind == "liquid_staking"
        if is_staking[i] or is_lst[i]:
            params = next((stake_by_asset[a] for a in o.underlying if a in stake_by_asset), None)
            if params is None:
                peg = next((t.peg for t in facts if t.peg in stake_by_peg), None)
                params = stake_by_peg.get(peg or o.symbol.lower())
            if params is not None:
                cols["staking_inflation"][i] = params.supply_inflation_pct / 100.0
                cols["slashing"][i] = 1.0 if params.slashing else 0.0
                if is_staking[i] and math.isnan(cols["lockup_days"][i]):
                    cols["lockup_days"][i] = params.unbonding_days
        # depeg exposure: the riskiest pegged token held
        points, exposed = 0.0, []
        for t in facts:
            p = {
                "stablecoin": 8.0 if t.issuer in SYNTHETIC_ISSUERS else 4.0,
                "lst": 5.0,
                "lrt": 8.0,
                "wrapped": 5.0,
            }.get(t.kind, 0.0)
            if p:
                exposed.append(t.symbol)
                points = max(points, p)
        if len({t.issuer for t in facts if t.kind != "native"}) > 1:
            points += 2.0  # two issuers: either can break the position
        cols["depeg_points"][i] = min(points, 12.0)
        depeg_tokens.append(tuple(exposed))
        # reward tokens: dilution and price trend where known (mean over known tokens)
        d = [dilution_of[r] for r in o.reward_tokens if r in dilution_of]
        tr = [trend_of[r] for r in o.reward_tokens if r in trend_of]
        cols["reward_dilution"][i] = sum(d) / len(d) if d else NAN
        cols["reward_trend"][i] = sum(tr) / len(tr) if tr else NAN
        # history statistics: stored history first, DeFiLlama's meta second
        row = stat_rows.get(o.id)
        if row is not None:
            for name in ("n_obs", "mu", "sigma", "mean_30d", "std_30d", "tvl_change_30d"):
                cols[name][i] = _num(row[name])
        else:
            cols["n_obs"][i] = _num(meta.get("count"))
            cols["mu"][i] = _num(meta.get("mu"))
            cols["sigma"][i] = _num(meta.get("sigma"))
            cols["mean_30d"][i] = _num(meta.get("apy_mean_30d"))
        # protocol and chain facts; the record's own launch date and audits win
        pf = protocol_facts(o.protocol)
        launched = o.launched or (pf.launched if pf else None)
        cols["protocol_age_years"][i] = _years(launched, as_of)
        cols["audits"][i] = (
            float(o.audits) if o.audits is not None else (float(pf.audits) if pf else NAN)
        )
        if pf is not None:
            cols["exploits"][i] = float(pf.exploits)
            cols["years_since_exploit"][i] = _years(pf.last_exploit, as_of)
            cols["layers"][i] = float(pf.layers)
            collateral.append(pf.collateral if o.kind == "lending" else "not_lending")
            custodial[i] = pf.custody == "custodial"
        else:
            cols["layers"][i] = 1.0 if o.kind == "vault" else NAN
            collateral.append("unknown" if o.kind == "lending" else "not_lending")
        cf = chain_facts(o.chain)
        if cf is not None:
            cols["chain_age_years"][i] = _years(cf.launched, as_of)
            cols["chain_bridge"][i] = 1.0 if cf.bridge_dependency else 0.0
            cols["chain_incidents"][i] = float(cf.major_incidents)
            chain_kind.append(cf.kind)
        else:
            chain_kind.append("unknown")
        deps.append(dependencies_of(o, tokens, facts, pf, cf))
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    return ScoringInputs(
        opportunities=opportunities,
        as_of=as_of,
        split_known=split_known,
        is_staking=is_staking,
        is_lst=is_lst,
        collateral=collateral,
        custodial=custodial,
        chain_kind=chain_kind,
        depeg_tokens=depeg_tokens,
        dependencies=deps,
        **arrays,
    )
