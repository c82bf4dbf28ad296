"""Universe records that imported files imply: assets from price files, opportunities
from APY histories that name their pools, staking routes from the dated parameters.

A price file says an asset existed and traded from its first day; an APY history with
``chain, project, symbol`` says a pool existed from its first day. Each becomes one
record dated that first day, so a point-in-time view (``universe --as-of``) sees it only
from then on and restates its figures from the histories (``universe.repository``).
Names go through the alias table (``realyield.reference.aliases``): nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime

from realyield.core.model import ApyPoint, Asset, Opportunity, PricePoint
from realyield.reference.aliases import canonical_asset
from realyield.reference.loading import load_tokens
from realyield.reference.lookups import split_symbol, token_facts
from realyield.reference.staking import load_staking_params
from realyield.sources.classify import classify_project
from realyield.sources.coingecko import asset_category
from realyield.sources.staking import staking_opportunities

__all__ = ["history_opportunities", "price_assets", "staking_routes_for"]

STAKING_SOURCE = "staking"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _symbols_by_asset() -> dict[str, str]:
    """Asset id -> the shortest token symbol that names it (``ethereum`` -> ``ETH``)."""
    out: dict[str, str] = {}
    for symbol, facts in load_tokens().items():
        if facts.asset_id and len(symbol) < len(out.get(facts.asset_id, symbol + "_")):
            out[facts.asset_id] = symbol
    for p in load_staking_params():
        out.setdefault(p.asset_id, p.symbol)
    return out


def price_assets(points: Iterable[PricePoint], *, source: str) -> list[Asset]:
    """One asset record per asset of a price import, dated its first price day.

    The record carries that day's price and market cap (and the circulating supply they
    imply); later days are read from the price history itself. Category from the
    CoinGecko id (``asset_category``), inflation from the staking parameters.
    """
    first: dict[str, PricePoint] = {}
    for p in points:
        if p.asset_id not in first or p.date < first[p.asset_id].date:
            first[p.asset_id] = p
    symbols = _symbols_by_asset()
    inflation = {p.asset_id: p.supply_inflation_pct / 100 for p in load_staking_params()}
    out = []
    for asset_id, p in sorted(first.items()):
        cap = p.market_cap_usd or None  # CoinGecko prints 0 before it knows the supply
        out.append(
            Asset(
                id=asset_id,
                symbol=symbols.get(asset_id, asset_id.upper()),
                name=asset_id,
                category=asset_category(asset_id),
                as_of=_midnight(p.date),
                source=source,
                price_usd=p.price_usd,
                market_cap_usd=cap,
                circulating_supply=cap / p.price_usd if cap else None,
                supply_inflation=inflation.get(asset_id),
            )
        )
    return out


def staking_routes_for(points: Iterable[PricePoint]) -> list[Opportunity]:
    """The native and delegated staking routes of the networks a price import covers,
    each dated the first day its asset is priced (the bundled, dated parameters;
    ``meta.parameters_as_of`` says how old they are)."""
    first: dict[str, date] = {}
    for p in points:
        if p.asset_id not in first or p.date < first[p.asset_id]:
            first[p.asset_id] = p.date
    out = []
    for params in load_staking_params():
        if params.route != "liquid" and params.asset_id in first:
            out.extend(staking_opportunities([params], as_of=_midnight(first[params.asset_id])))
    return out


#: Token kinds redeemable 1:1 for their peg (a wrapper of the native coin, a wrapped
#: coin): the peg's price history prices them.
_ONE_TO_ONE = ("native", "wrapped")


def _underlying(symbol: str) -> tuple[tuple[str, ...], bool | None]:
    """Asset ids whose prices move a pool symbol's tokens (known tokens only; a 1:1
    wrapper counts as its peg) and whether all are stablecoins (``None`` when a part is
    unknown)."""
    parts = split_symbol(symbol)
    ids: list[str] = []
    stable: bool | None = True
    for part in parts:
        facts = token_facts(part)
        asset = facts.asset_id if facts and facts.asset_id else canonical_asset(part)
        peg = token_facts(facts.peg) if facts and facts.kind in _ONE_TO_ONE else None
        if peg is not None and peg.asset_id:
            asset = peg.asset_id  # WETH moves with ETH, WBTC with BTC: price the peg
        if asset and asset not in ids:
            ids.append(asset)
        if facts is not None:
            is_stable: bool | None = facts.kind == "stablecoin"
        else:  # a CoinGecko id the table knows but the token table does not (LINK)
            is_stable = None if asset is None else asset_category(asset) == "stablecoin"
        if is_stable is None:
            stable = None if stable is not False else False
        elif not is_stable:
            stable = False
    return tuple(ids), (stable if parts else None)


def history_opportunities(
    points: Iterable[ApyPoint], pool_info: Mapping[str, Mapping[str, str]], *, source: str
) -> list[Opportunity]:
    """One opportunity per history series whose pool facts (chain, project, symbol) are
    known, dated the series' first day with that day's figures.

    The kind comes from the project (``classify_project``); exposure, stablecoin and
    impermanent-loss risk from the symbol's tokens in the reference table (left unknown
    when a token is not listed).
    """
    first: dict[str, ApyPoint] = {}
    for p in points:
        if p.apy is not None and (
            p.opportunity_id not in first or p.date < first[p.opportunity_id].date
        ):
            first[p.opportunity_id] = p
    out = []
    for series, p in sorted(first.items()):
        info = pool_info.get(series, {})
        if not {"chain", "project", "symbol"} <= set(info):
            continue
        symbol = info["symbol"]
        underlying, stable = _underlying(symbol)
        multi = len(split_symbol(symbol)) > 1
        exposure = "multi" if multi else "single"
        kind, basis = classify_project(info["project"], exposure, symbol)
        out.append(
            Opportunity(
                id=series,
                kind=kind,
                chain=info["chain"],
                protocol=info["project"],
                symbol=symbol,
                apy=p.apy,
                apy_base=p.apy_base,
                apy_reward=p.apy_reward,
                tvl_usd=p.tvl_usd,
                as_of=_midnight(p.date),
                source=source,
                underlying=underlying,
                exposure=exposure,
                stablecoin=stable,
                il_risk=(None if stable is None else not stable) if multi else False,
                meta={"kind_basis": basis, "from_history": True},
            )
        )
    return out
