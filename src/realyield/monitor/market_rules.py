"""Rules over daily prices: stablecoin depeg, liquid staking token discount, price crash.

Each rule scans a long price frame (``asset_id, date, price_usd``: one 00:00 UTC price a
day, as the store holds them) and reports every day in ``[start, end]`` that breaks it,
using only prices up to that day (trailing windows exclude the day itself). Running it
for one day is the live monitor; running it for years is the replay.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from realyield.monitor.rules import Finding, RuleConfig
from realyield.reference.pegs import PegInfo

#: Comparisons against a threshold ignore float noise below this (percentage points):
#: a price of exactly 0.99 is 1% from the peg, not "beyond 1%".
EPS_PCT = 1e-9


def _window(frame: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    return frame.filter((pl.col("date") >= start) & (pl.col("date") <= end))


def depeg(
    prices: pl.DataFrame,
    pegs: Mapping[str, PegInfo],
    config: RuleConfig,
    start: date,
    end: date,
) -> list[Finding]:
    """USD stablecoins whose price is more than ``depeg_pct`` from 1 USD.

    Severity is critical from ``depeg_critical_pct``. Evidence: the price, the
    deviation in percent (negative below the peg), the threshold and the day.
    """
    ids = [a for a, p in pegs.items() if p.kind == "stablecoin" and p.reference_id is None]
    if not ids:
        return []
    rows = _window(prices.filter(pl.col("asset_id").is_in(ids)), start, end).with_columns(
        ((pl.col("price_usd") - 1.0) * 100).alias("deviation_pct")
    )
    hits = rows.filter(pl.col("deviation_pct").abs() > config.depeg_pct + EPS_PCT).sort(
        "asset_id", "date"
    )
    out: list[Finding] = []
    for r in hits.iter_rows(named=True):
        info = pegs[r["asset_id"]]
        dev = float(r["deviation_pct"])
        severity = "critical" if abs(dev) >= config.depeg_critical_pct else "warning"
        side = "below" if dev < 0 else "above"
        out.append(
            Finding(
                rule="depeg",
                subject=r["asset_id"],
                day=r["date"],
                severity=severity,
                title=f"{info.symbol} at ${r['price_usd']:.4f}, {abs(dev):.2f}% {side} its peg",
                evidence={
                    "date": r["date"].isoformat(),
                    "symbol": info.symbol,
                    "price_usd": round(float(r["price_usd"]), 6),
                    "peg_usd": 1.0,
                    "deviation_pct": round(dev, 4),
                    "threshold_pct": config.depeg_pct,
                },
                action=(
                    f"Check {info.symbol}'s issuer news and redemption status. Consider moving "
                    "exposure to another stablecoin with a different issuer; selling far below "
                    "redemption value locks in the loss if the peg recovers."
                ),
                magnitude=abs(dev),
            )
        )
    return out


def lst_discount(
    prices: pl.DataFrame,
    pegs: Mapping[str, PegInfo],
    config: RuleConfig,
    start: date,
    end: date,
) -> list[Finding]:
    """Liquid staking tokens trading more than ``lst_discount_pct`` below their coin.

    ``ratio`` = token price / coin price on the same day. A rebasing token (par) is
    discounted by ``1 - ratio``; an accruing one by ``1 - ratio / reference`` where the
    reference is the highest ratio of the previous ``lst_reference_days`` (see
    ``reference.pegs``). Days without both prices are skipped.
    """
    lsts = {a: p for a, p in pegs.items() if p.kind == "lst" and p.reference_id is not None}
    if not lsts:
        return []
    refs = pl.DataFrame(
        {"asset_id": list(lsts), "reference_id": [p.reference_id for p in lsts.values()]},
        schema={"asset_id": pl.Utf8, "reference_id": pl.Utf8},
    )
    coin = prices.select(
        pl.col("asset_id").alias("reference_id"), "date", pl.col("price_usd").alias("coin_usd")
    )
    lookback = pl.duration(days=config.lst_reference_days)
    ratios = (
        prices.filter(pl.col("asset_id").is_in(list(lsts)))
        .filter(pl.col("date") >= pl.lit(start) - lookback)
        .join(refs, on="asset_id")
        .join(coin, on=["reference_id", "date"])
        .with_columns((pl.col("price_usd") / pl.col("coin_usd")).alias("ratio"))
        .sort("asset_id", "date")
        .with_columns(
            pl.col("ratio")
            .rolling_max_by("date", window_size=f"{config.lst_reference_days}d", closed="left")
            .over("asset_id")
            .alias("trailing_max")
        )
    )
    par = pl.col("asset_id").is_in([a for a, p in lsts.items() if p.par])
    reference = pl.when(par).then(pl.lit(1.0)).otherwise(pl.col("trailing_max"))
    scored = _window(ratios, start, end).with_columns(
        reference.alias("reference_ratio"),
        ((1.0 - pl.col("ratio") / reference) * 100).alias("discount_pct"),
    )
    hits = scored.filter(pl.col("discount_pct") > config.lst_discount_pct + EPS_PCT)
    out: list[Finding] = []
    for r in hits.iter_rows(named=True):
        info = lsts[r["asset_id"]]
        disc = float(r["discount_pct"])
        out.append(
            Finding(
                rule="lst_discount",
                subject=r["asset_id"],
                day=r["date"],
                severity="critical" if disc >= config.lst_critical_pct else "warning",
                title=f"{info.symbol} {disc:.2f}% below {info.peg.upper()}",
                evidence={
                    "date": r["date"].isoformat(),
                    "symbol": info.symbol,
                    "price_usd": round(float(r["price_usd"]), 6),
                    "coin": info.reference_id,
                    "coin_usd": round(float(r["coin_usd"]), 6),
                    "ratio": round(float(r["ratio"]), 6),
                    "reference_ratio": round(float(r["reference_ratio"]), 6),
                    "reference": "par (1:1)"
                    if info.par
                    else (f"highest ratio of the previous {config.lst_reference_days} days"),
                    "discount_pct": round(disc, 4),
                    "threshold_pct": config.lst_discount_pct,
                },
                action=(
                    f"A discount means holders are exiting {info.symbol} faster than it can be "
                    "redeemed. Check the protocol's withdrawal queue and news; unwinding "
                    "leveraged positions on it comes first, selling at a discount last."
                ),
                magnitude=disc,
            )
        )
    return out


def price_crash(
    prices: pl.DataFrame,
    config: RuleConfig,
    start: date,
    end: date,
    assets: list[str] | None = None,
) -> list[Finding]:
    """Assets whose price fell more than ``crash_pct`` below their highest price of the
    previous ``crash_window_days`` (the day itself excluded). Always critical.

    Catches collapses that no peg rule sees, e.g. LUNA in May 2022 (the UST depeg's
    other side) or a reward token whose emissions are paying for the yield.
    """
    frame = prices if assets is None else prices.filter(pl.col("asset_id").is_in(assets))
    lookback = pl.duration(days=config.crash_window_days)
    scored = (
        frame.filter(pl.col("date") >= pl.lit(start) - lookback)
        .sort("asset_id", "date")
        .with_columns(
            pl.col("price_usd")
            .rolling_max_by("date", window_size=f"{config.crash_window_days}d", closed="left")
            .over("asset_id")
            .alias("high")
        )
        .with_columns(((1.0 - pl.col("price_usd") / pl.col("high")) * 100).alias("drop_pct"))
    )
    hits = _window(scored, start, end).filter(pl.col("drop_pct") > config.crash_pct + EPS_PCT)
    out: list[Finding] = []
    for r in hits.iter_rows(named=True):
        drop = float(r["drop_pct"])
        out.append(
            Finding(
                rule="price_crash",
                subject=r["asset_id"],
                day=r["date"],
                severity="critical",
                title=(
                    f"{r['asset_id']} down {drop:.1f}% from its {config.crash_window_days}-day high"
                ),
                evidence={
                    "date": r["date"].isoformat(),
                    "price_usd": float(r["price_usd"]),
                    "high_usd": float(r["high"]),
                    "window_days": config.crash_window_days,
                    "drop_pct": round(drop, 3),
                    "threshold_pct": config.crash_pct,
                },
                action=(
                    "Find out why before acting: a protocol failure or depeg of a related "
                    "stablecoin calls for leaving every position that depends on this asset."
                ),
                magnitude=drop,
            )
        )
    return out
