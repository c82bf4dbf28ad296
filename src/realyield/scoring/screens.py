"""Screens: rules that exclude an opportunity, each leaving a reason a user can read.

Defaults follow the brief and DeFiLlama's own outlier rule; every threshold is a field
of ``ScreenConfig`` (and so configurable). Unknown inputs fail a screen conservatively:
an unverifiable TVL or history is a reason to stay out of an index, and the reason
says it was unknown rather than low.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from realyield.core.errors import ConfigError
from realyield.reference.defunct import DefunctToken
from realyield.scoring.realyield import Array

ZERO_VOLUME_REASON = "no trading volume: the source reports $0 traded over {}"
DEFUNCT_PREFIX = "defunct issuer"


@dataclass(frozen=True)
class ScreenConfig:
    """Screen thresholds. ``None`` switches a screen off."""

    max_apy: float | None = 100.0
    min_tvl_usd: float | None = 1_000_000.0
    min_history_days: int | None = 14
    spike_ratio: float | None = 2.0  # APY above this multiple of its 30-day mean...
    spike_min_points: float = 2.0  # ...and at least this many points above it
    outlier_iqr: float | None = 1.5
    zero_volume: bool = True  # the source reports no trade over 7 days
    defunct_issuers: bool = True  # holds a token of a failed or retired issuer

    def __post_init__(self) -> None:
        for name in ("max_apy", "min_tvl_usd", "min_history_days", "spike_ratio", "outlier_iqr"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ConfigError(f"screen {name} must be >= 0 or None, not {value!r}")


def _outlier_bounds(values: Array, k: float) -> tuple[float, float] | None:
    known = values[~np.isnan(values)]
    if known.size < 4:
        return None
    q1, median, q3 = np.percentile(known, [25, 50, 75])
    spread = k * (q3 - q1)
    return float(median - spread), float(median + spread)


def _outlier_text(
    name: str, values: Array, low: float, high: float, k: float
) -> Callable[[int], str]:
    def text(i: int) -> str:
        return (
            f"outlier: {name} {values[i]:.3g} outside median +/- {k:g} IQR [{low:.3g}, {high:.3g}]"
        )

    return text


def screen_reasons(
    config: ScreenConfig,
    *,
    apy: Array,
    tvl_usd: Array,
    n_obs: Array,
    mean_30d: Array,
    mu: Array,
    sigma: Array,
    flagged_outlier: Array,
    zero_volume: np.ndarray | None = None,
    volume_7d_known: np.ndarray | None = None,
    defunct: Sequence[Sequence[tuple[str, DefunctToken]]] | None = None,
) -> list[list[str]]:
    """For each opportunity, the list of reasons it is excluded (empty = it passes).

    ``flagged_outlier`` is 1 where the source itself flagged an outlier (DeFiLlama's
    ``outlier``), NaN where unknown. ``zero_volume`` marks pools the source says nobody
    traded with over 7 days (or the last day, where ``volume_7d_known`` is False);
    ``defunct`` lists, per opportunity, the tokens of failed or retired issuers it holds
    (``reference.defunct``). The outlier band is computed over every opportunity given:
    screen the whole universe, then filter.
    """
    n = apy.size
    reasons: list[list[str]] = [[] for _ in range(n)]

    def add(mask: np.ndarray, text: str | Callable[[int], str]) -> None:
        for i in np.flatnonzero(mask):
            reasons[i].append(text(int(i)) if callable(text) else text)

    if config.defunct_issuers and defunct is not None:
        for i, found in enumerate(defunct):
            held: dict[tuple[object, ...], tuple[DefunctToken, list[str]]] = {}
            for symbol, row in found:  # one reason per issuer event, naming its tokens
                key = (row.issuer, row.status, row.since, row.source)
                held.setdefault(key, (row, []))[1].append(symbol)
            for row, symbols in held.values():
                reasons[i].append(f"{DEFUNCT_PREFIX}: {row.reason(', '.join(symbols))}")
    if config.zero_volume and zero_volume is not None:
        week = np.ones(n, dtype=bool) if volume_7d_known is None else volume_7d_known
        add(
            zero_volume,
            lambda i: ZERO_VOLUME_REASON.format("7 days" if week[i] else "the last day"),
        )
    if config.max_apy is not None:
        add(
            apy > config.max_apy,
            lambda i: f"APY {apy[i]:,.1f}% above {config.max_apy:g}% (not a sustainable yield)",
        )
    add(np.isnan(apy), "APY unknown")
    if config.min_tvl_usd is not None:
        add(np.isnan(tvl_usd), f"TVL unknown (floor ${config.min_tvl_usd:,.0f})")
        add(
            tvl_usd < config.min_tvl_usd,
            lambda i: f"TVL ${tvl_usd[i]:,.0f} below the ${config.min_tvl_usd:,.0f} floor",
        )
    if config.min_history_days is not None:
        add(np.isnan(n_obs), f"history unknown (need {config.min_history_days} days)")
        add(
            n_obs < config.min_history_days,
            lambda i: f"only {n_obs[i]:.0f} days of history (need {config.min_history_days})",
        )
    if config.spike_ratio is not None:
        with np.errstate(invalid="ignore"):
            spike = (
                (mean_30d > 0)
                & (apy > config.spike_ratio * mean_30d)
                & (apy - mean_30d >= config.spike_min_points)
            )
        add(
            spike,
            lambda i: (
                f"APY spike: {apy[i]:.2f}% is {apy[i] / mean_30d[i]:.1f}x its "
                f"30-day mean {mean_30d[i]:.2f}%"
            ),
        )
    if config.outlier_iqr is not None:
        flagged = np.zeros(n, dtype=bool)
        for name, values in (("mu", mu), ("sigma", sigma)):
            bounds = _outlier_bounds(values, config.outlier_iqr)
            if bounds is not None:
                low, high = bounds
                with np.errstate(invalid="ignore"):
                    outside = (values < low) | (values > high)
                add(outside & ~flagged, _outlier_text(name, values, low, high, config.outlier_iqr))
                flagged |= outside
        add((flagged_outlier == 1.0) & ~flagged, "flagged as an outlier by the source")
    return reasons
