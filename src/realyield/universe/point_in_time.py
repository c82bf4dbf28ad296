"""The universe as it stood on a past date, rebuilt from stored histories.

Index levels and backtests must rebalance with what was known then: an opportunity's
APY parts and TVL on that day (the latest history row at most ``max_gap_days`` old), and
an asset's price and market cap on that day. Opportunities without a history row in
that window did not exist yet, or had died: they are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import polars as pl

from realyield.core.model import Asset, Opportunity


def _latest_rows(frame: pl.DataFrame, key: str, day: date, max_gap_days: int) -> pl.DataFrame:
    window = frame.filter(pl.col("date").is_between(day - timedelta(days=max_gap_days), day))
    return window.sort(key, "date").unique(subset=[key], keep="last")


def opportunities_at(
    opps: Sequence[Opportunity], history: pl.DataFrame, day: date, *, max_gap_days: int = 7
) -> list[Opportunity]:
    """Each opportunity with its APY parts and TVL as of ``day`` (dated that day)."""
    rows = {
        r["id"]: r for r in _latest_rows(history, "id", day, max_gap_days).iter_rows(named=True)
    }
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = []
    for o in opps:
        row = rows.get(o.id)
        if row is None or row["apy"] is None:
            continue
        out.append(
            replace(
                o,
                apy=row["apy"],
                apy_base=row["apy_base"],
                apy_reward=row["apy_reward"],
                tvl_usd=row["tvl_usd"],
                as_of=at,
            )
        )
    return out


def assets_at(
    assets: Sequence[Asset], prices: pl.DataFrame, day: date, *, max_gap_days: int = 7
) -> dict[str, Asset]:
    """Assets with the price and market cap they had on ``day`` (when known then)."""
    rows = {
        r["asset_id"]: r
        for r in _latest_rows(prices, "asset_id", day, max_gap_days).iter_rows(named=True)
    }
    at = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = {}
    for a in assets:
        row = rows.get(a.id)
        if row is None:
            continue
        out[a.id] = replace(
            a,
            price_usd=row["price_usd"],
            market_cap_usd=row.get("market_cap_usd") or None,
            as_of=at,
        )
    return out
