"""Rules over daily APY/TVL histories: TVL drop, APY collapse, APY spike or outlier, jump
in reward share.

Input is the long history frame the store gives (``id, date, apy, apy_base,
apy_reward, tvl_usd``; APY in percent). Every comparison looks back only: the 30-day
mean excludes the day itself, and "7 days ago" is the last value on or before day-7 (at
most ``lookup_tolerance_days`` older, so a gap in the history does not compare against
a value from months ago).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from realyield.monitor.rules import Finding, RuleConfig


def _window(frame: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    return frame.filter((pl.col("date") >= start) & (pl.col("date") <= end))


def _value_days_ago(
    frame: pl.DataFrame, column: str, days: int, tolerance_days: int
) -> pl.DataFrame:
    """``frame`` with ``<column>_back`` and ``back_date``: the value ``days`` earlier."""
    left = frame.with_columns((pl.col("date") - pl.duration(days=days)).alias("_back")).sort(
        "_back"
    )
    right = (
        frame.filter(pl.col(column).is_not_null())
        .select(
            "id",
            pl.col("date").alias("_back"),
            pl.col("date").alias("back_date"),
            pl.col(column).alias(f"{column}_back"),
        )
        .sort("_back")
    )
    return left.join_asof(
        right,
        on="_back",
        by="id",
        strategy="backward",
        tolerance=f"{tolerance_days}d",
        check_sortedness=False,
    ).drop("_back")


def _label(labels: Mapping[str, str] | None, opp_id: str) -> str:
    return (labels or {}).get(opp_id, opp_id)


def tvl_drop(
    history: pl.DataFrame,
    config: RuleConfig,
    start: date,
    end: date,
    labels: Mapping[str, str] | None = None,
) -> list[Finding]:
    """TVL down more than ``tvl_drop_pct`` against ``tvl_window_days`` earlier; critical
    at twice the threshold (money leaving fast is how pools die)."""
    frame = history.filter(
        pl.col("tvl_usd").is_not_null()
        & (
            pl.col("date")
            >= pl.lit(start)
            - pl.duration(days=config.tvl_window_days + config.lookup_tolerance_days)
        )
        & (pl.col("date") <= end)
    ).select("id", "date", "tvl_usd")
    back = _value_days_ago(frame, "tvl_usd", config.tvl_window_days, config.lookup_tolerance_days)
    hits = (
        _window(back, start, end)
        .filter(pl.col("tvl_usd_back") > 0)
        .with_columns(((1.0 - pl.col("tvl_usd") / pl.col("tvl_usd_back")) * 100).alias("drop_pct"))
        .filter(pl.col("drop_pct") > config.tvl_drop_pct)
        .sort("id", "date")
    )
    out: list[Finding] = []
    for r in hits.iter_rows(named=True):
        drop = float(r["drop_pct"])
        name = _label(labels, r["id"])
        out.append(
            Finding(
                rule="tvl_drop",
                subject=r["id"],
                day=r["date"],
                severity="critical" if drop >= 2 * config.tvl_drop_pct else "warning",
                title=f"{name}: TVL down {drop:.1f}% in {config.tvl_window_days} days",
                evidence={
                    "date": r["date"].isoformat(),
                    "tvl_usd": float(r["tvl_usd"]),
                    "tvl_usd_before": float(r["tvl_usd_back"]),
                    "before_date": r["back_date"].isoformat(),
                    "drop_pct": round(drop, 3),
                    "threshold_pct": config.tvl_drop_pct,
                },
                action=(
                    "Find out why deposits are leaving (exploit, incentive end, better rate "
                    "elsewhere); an exploit or insolvency rumour is a reason to exit now."
                ),
                magnitude=drop,
            )
        )
    return out


def _with_trailing_mean(
    history: pl.DataFrame, config: RuleConfig, start: date, end: date
) -> pl.DataFrame:
    days = config.apy_mean_days
    return (
        history.filter(
            pl.col("apy").is_not_null()
            & (pl.col("date") >= pl.lit(start) - pl.duration(days=days))
            & (pl.col("date") <= end)
        )
        .select("id", "date", "apy")
        .sort("id", "date")
        .with_columns(
            pl.col("apy")
            .rolling_mean_by("date", window_size=f"{days}d", closed="left")
            .over("id")
            .alias("mean"),
            pl.col("apy")
            .is_not_null()
            .cast(pl.Int32)
            .rolling_sum_by("date", window_size=f"{days}d", closed="left")
            .over("id")
            .fill_null(0)
            .alias("points"),
        )
    )


def apy_collapse(
    history: pl.DataFrame,
    config: RuleConfig,
    start: date,
    end: date,
    labels: Mapping[str, str] | None = None,
) -> list[Finding]:
    """APY below ``(1 - apy_collapse_pct/100)`` times its mean of the previous
    ``apy_mean_days`` (at least ``apy_min_points`` days, mean at least ``apy_floor``)."""
    scored = _window(_with_trailing_mean(history, config, start, end), start, end)
    keep = 1.0 - config.apy_collapse_pct / 100
    hits = scored.filter(
        (pl.col("points") >= config.apy_min_points)
        & (pl.col("mean") >= config.apy_floor)
        & (pl.col("apy") < keep * pl.col("mean"))
    )
    out: list[Finding] = []
    for r in hits.iter_rows(named=True):
        fall = (1.0 - r["apy"] / r["mean"]) * 100
        name = _label(labels, r["id"])
        out.append(
            Finding(
                rule="apy_collapse",
                subject=r["id"],
                day=r["date"],
                severity="warning",
                title=(
                    f"{name}: APY {r['apy']:.2f}% vs {r['mean']:.2f}% "
                    f"{config.apy_mean_days}-day mean ({fall:.0f}% lower)"
                ),
                evidence={
                    "date": r["date"].isoformat(),
                    "apy": round(float(r["apy"]), 4),
                    "mean_apy": round(float(r["mean"]), 4),
                    "mean_days": config.apy_mean_days,
                    "points": int(r["points"]),
                    "fall_pct": round(fall, 3),
                    "threshold_pct": config.apy_collapse_pct,
                },
                action=(
                    "Check whether incentives ended or demand for borrowing fell; compare with "
                    "the index's alternatives and move if the lower yield persists a week."
                ),
                magnitude=fall,
            )
        )
    return out


def apy_spike(
    history: pl.DataFrame,
    config: RuleConfig,
    start: date,
    end: date,
    labels: Mapping[str, str] | None = None,
) -> list[Finding]:
    """APY at least ``apy_spike_ratio`` times its trailing mean and ``apy_spike_min_points``
    above it, or above ``apy_outlier`` percent outright (an outlier whatever its past)."""
    scored = _window(_with_trailing_mean(history, config, start, end), start, end)
    spike = (
        (pl.col("points") >= config.apy_min_points)
        & (pl.col("apy") >= config.apy_spike_ratio * pl.col("mean"))
        & (pl.col("apy") - pl.col("mean") >= config.apy_spike_min_points)
    )
    hits = scored.filter(spike.fill_null(False) | (pl.col("apy") > config.apy_outlier))
    out: list[Finding] = []
    for r in hits.iter_rows(named=True):
        mean = r["mean"]
        ratio = r["apy"] / mean if mean else None
        name = _label(labels, r["id"])
        outlier = r["apy"] > config.apy_outlier
        out.append(
            Finding(
                rule="apy_spike",
                subject=r["id"],
                day=r["date"],
                severity="warning",
                title=(
                    f"{name}: APY {r['apy']:.2f}% "
                    + (f"is {ratio:.1f}x its 30-day mean" if ratio else "has no 30-day mean")
                    + (" (outlier)" if outlier else "")
                ),
                evidence={
                    "date": r["date"].isoformat(),
                    "apy": round(float(r["apy"]), 4),
                    "mean_apy": None if mean is None else round(float(mean), 4),
                    "ratio": None if ratio is None else round(ratio, 4),
                    "spike_ratio": config.apy_spike_ratio,
                    "outlier_apy": config.apy_outlier,
                },
                action=(
                    "A spike is rarely income you can keep: check for a temporary incentive, a "
                    "thin pool or a data error before adding money; do not chase it."
                ),
                magnitude=float(ratio or r["apy"]),
            )
        )
    return out


def reward_share_jump(
    history: pl.DataFrame,
    config: RuleConfig,
    start: date,
    end: date,
    labels: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Share of the APY paid in emissions (``apy_reward / apy``) up more than
    ``reward_share_jump_pp`` points against ``reward_window_days`` earlier: the yield is
    turning from real income into token emissions."""
    frame = history.filter(
        pl.col("apy").is_not_null()
        & (pl.col("apy") > 0)
        & pl.col("apy_reward").is_not_null()
        & (
            pl.col("date")
            >= pl.lit(start)
            - pl.duration(days=config.reward_window_days + config.lookup_tolerance_days)
        )
        & (pl.col("date") <= end)
    ).select("id", "date", (pl.col("apy_reward") / pl.col("apy") * 100).alias("share"))
    back = _value_days_ago(frame, "share", config.reward_window_days, config.lookup_tolerance_days)
    hits = (
        _window(back, start, end)
        .with_columns((pl.col("share") - pl.col("share_back")).alias("jump"))
        .filter(pl.col("jump") > config.reward_share_jump_pp)
        .sort("id", "date")
    )
    out: list[Finding] = []
    for r in hits.iter_rows(named=True):
        name = _label(labels, r["id"])
        out.append(
            Finding(
                rule="reward_share_jump",
                subject=r["id"],
                day=r["date"],
                severity="warning",
                title=f"{name}: reward share {r['share_back']:.0f}% -> {r['share']:.0f}% of APY",
                evidence={
                    "date": r["date"].isoformat(),
                    "reward_share_pct": round(float(r["share"]), 3),
                    "reward_share_before_pct": round(float(r["share_back"]), 3),
                    "before_date": r["back_date"].isoformat(),
                    "jump_pp": round(float(r["jump"]), 3),
                    "threshold_pp": config.reward_share_jump_pp,
                },
                action=(
                    "More of the yield is now paid in the protocol's own token: value it at a "
                    "discount (emissions dilute) and check when the incentive programme ends."
                ),
                magnitude=float(r["jump"]),
            )
        )
    return out
