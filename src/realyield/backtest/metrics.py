"""Performance metrics over daily returns, many strategies (columns) at once.

Conventions (they match empyrical-reloaded called with ``annualization=365``, which
the tests check to 1e-9 on real prices):

* crypto trades every day: ``ANNUALIZATION = 365`` periods a year;
* ``returns`` are simple daily returns, rows = days, columns = strategies;
* CAGR: ``prod(1 + r) ** (365 / n) - 1`` with ``n`` the number of returns;
* volatility: sample standard deviation (ddof 1) times ``sqrt(365)``;
* Sharpe: ``mean(r - rf) / std(r - rf, ddof 1) * sqrt(365)``, ``rf`` a daily rate
  (default 0);
* Sortino: ``mean(r - m) * 365 / (sqrt(mean(min(r - m, 0) ** 2)) * sqrt(365))``: the
  downside deviation averages the squared shortfalls over *all* days, not only the
  losing ones; ``m`` the required daily return (default 0);
* maximum drawdown: worst fall of the cumulative value from its running peak, the
  starting value counting as the first peak (so a first-day loss is a drawdown);
* Calmar: CAGR / |maximum drawdown| (NaN without a drawdown);
* drawdown durations in days, from the peak to the first day back at or above it, or
  to the last day when the value has not recovered (then ``recovered`` is False).

Degenerate inputs follow the reference: fewer than two returns gives NaN for the
ratios; a constant series has zero dispersion and an infinite or NaN Sharpe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from realyield.core.errors import DataError

Array = NDArray[np.float64]
ANNUALIZATION = 365


def _returns(returns: ArrayLike) -> Array:
    r = np.asarray(returns, dtype=float)
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2:
        raise DataError(f"returns must be (days,) or (days, strategies), got shape {r.shape}")
    if np.any(r[np.isfinite(r)] < -1):
        raise DataError("a daily return below -100% is not possible: check the input series")
    return r


def returns_from_values(values: ArrayLike) -> Array:
    """Simple returns from a value path (rows: days); a value of 0 stays 0 (return 0
    after a total loss rather than 0/0)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = v[1:] / v[:-1] - 1.0
    return np.asarray(np.where(v[:-1] > 0, r, 0.0))


def cumulative(returns: ArrayLike) -> Array:
    """Growth of 1 with the starting 1 as row 0: (days + 1, strategies)."""
    r = _returns(returns)
    return np.vstack([np.ones((1, r.shape[1])), np.cumprod(1.0 + r, axis=0)])


def cagr(returns: ArrayLike, annualization: int = ANNUALIZATION) -> Array:
    r = _returns(returns)
    if r.shape[0] < 1:
        return np.full(r.shape[1], np.nan)
    return np.asarray(np.prod(1.0 + r, axis=0) ** (annualization / r.shape[0]) - 1.0)


def annual_volatility(returns: ArrayLike, annualization: int = ANNUALIZATION) -> Array:
    r = _returns(returns)
    if r.shape[0] < 2:
        return np.full(r.shape[1], np.nan)
    return np.asarray(np.std(r, axis=0, ddof=1) * np.sqrt(annualization))


def _std_or_zero(x: Array) -> Array:
    std = np.std(x, axis=0, ddof=1)
    return np.asarray(np.where(x.max(axis=0) == x.min(axis=0), 0.0, std))


def sharpe(returns: ArrayLike, risk_free: float = 0.0, annualization: int = ANNUALIZATION) -> Array:
    r = _returns(returns)
    if r.shape[0] < 2:
        return np.full(r.shape[1], np.nan)
    x = r - risk_free
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(x.mean(axis=0) / _std_or_zero(x) * np.sqrt(annualization))


def downside_risk(
    returns: ArrayLike, required: float = 0.0, annualization: int = ANNUALIZATION
) -> Array:
    r = _returns(returns)
    short = np.clip(r - required, None, 0.0)
    return np.asarray(np.sqrt(np.mean(short**2, axis=0)) * np.sqrt(annualization))


def sortino(returns: ArrayLike, required: float = 0.0, annualization: int = ANNUALIZATION) -> Array:
    r = _returns(returns)
    if r.shape[0] < 2:
        return np.full(r.shape[1], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(
            (r - required).mean(axis=0) * annualization / downside_risk(r, required, annualization)
        )


def drawdowns(returns: ArrayLike) -> Array:
    """Drawdown path (days + 1 rows, the start first): value / running peak - 1."""
    c = cumulative(returns)
    return np.asarray(c / np.maximum.accumulate(c, axis=0) - 1.0)


def max_drawdown(returns: ArrayLike) -> Array:
    r = _returns(returns)
    if r.shape[0] < 1:
        return np.full(r.shape[1], np.nan)
    return np.asarray(drawdowns(r).min(axis=0))


def calmar(returns: ArrayLike, annualization: int = ANNUALIZATION) -> Array:
    mdd = max_drawdown(returns)
    growth = cagr(returns, annualization)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mdd < 0, growth / np.abs(mdd), np.nan)
    return np.asarray(np.where(np.isinf(out), np.nan, out))


@dataclass(frozen=True)
class DrawdownSpans:
    """Per strategy: the maximum drawdown's peak, trough and recovery (row indices of the
    cumulative path, 0 = start; recovery -1 when not recovered), its duration in days,
    and the longest time spent under a previous peak."""

    peak: NDArray[np.int64]
    trough: NDArray[np.int64]
    recovery: NDArray[np.int64]
    max_drawdown_days: NDArray[np.int64]
    longest_drawdown_days: NDArray[np.int64]

    @property
    def recovered(self) -> NDArray[np.bool_]:
        return np.asarray(self.recovery >= 0)


def drawdown_spans(returns: ArrayLike) -> DrawdownSpans:
    """Where the maximum drawdown starts, bottoms and ends, and how long drawdowns last.

    With the cumulative path ``c`` (row 0 the start), ``peak_at[t]`` is the last row at
    or before ``t`` where ``c`` stood at its running maximum; ``t - peak_at[t]`` days have
    passed under water. A drawdown recovers on the first row back at or above its peak.
    """
    c = cumulative(returns)
    n, s = c.shape
    rows = np.arange(n)[:, None]
    running = np.maximum.accumulate(c, axis=0)
    at_peak = c >= running
    peak_at = np.maximum.accumulate(np.where(at_peak, rows, 0), axis=0)
    under = rows - peak_at
    trough = np.argmin(c / running, axis=0)
    cols = np.arange(s)
    peak = peak_at[trough, cols]
    after = (rows > trough[None, :]) & (c >= c[peak, cols][None, :])
    recovery = np.where(after.any(axis=0), np.argmax(after, axis=0), -1)
    mdd_days = np.where(recovery >= 0, recovery - peak, n - 1 - peak)
    # a stretch under water ends the day before a row at a peak (+1 day to get back) or
    # is still running on the last row
    ends = np.zeros_like(at_peak)
    ends[:-1] = at_peak[1:] & (under[:-1] > 0)
    closed = np.where(ends, under + 1, 0).max(axis=0)
    longest = np.maximum(closed, under[-1])
    mdd_days = np.where((c / running).min(axis=0) < 1.0, mdd_days, 0)
    return DrawdownSpans(
        peak.astype(np.int64),
        trough.astype(np.int64),
        recovery.astype(np.int64),
        mdd_days.astype(np.int64),
        longest.astype(np.int64),
    )


@dataclass(frozen=True)
class Metrics:
    """The figures of one strategy over one period (fractions, not percent)."""

    days: int
    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_days: int
    max_drawdown_recovered: bool
    longest_drawdown_days: int

    def as_dict(self) -> dict[str, float | int | bool]:
        return dict(self.__dict__)


def metrics_table(returns: ArrayLike, annualization: int = ANNUALIZATION) -> list[Metrics]:
    """All return-based metrics for every column of ``returns``."""
    r = _returns(returns)
    total = np.prod(1.0 + r, axis=0) - 1.0
    spans = drawdown_spans(r)
    columns = zip(
        total,
        cagr(r, annualization),
        annual_volatility(r, annualization),
        sharpe(r, 0.0, annualization),
        sortino(r, 0.0, annualization),
        calmar(r, annualization),
        max_drawdown(r),
        spans.max_drawdown_days,
        spans.recovered,
        spans.longest_drawdown_days,
        strict=True,
    )
    return [
        Metrics(
            int(r.shape[0]),
            float(t),
            float(c),
            float(v),
            float(sh),
            float(so),
            float(ca),
            float(m),
            int(d),
            bool(rec),
            int(lo),
        )
        for t, c, v, sh, so, ca, m, d, rec, lo in columns
    ]
