"""Per-opportunity statistics of the APY/TVL history, as of a date (no look-ahead).

These feed the screens (history length, spike against the 30-day mean, outliers on mu
and sigma) and the stability and TVL-trend factors. ``mu`` and ``sigma`` follow
DeFiLlama's published meaning: the mean and standard deviation of the pool's APY over
its whole history so far.

A level replay scores the universe at every rebalance date of a multi-year history, so
:class:`HistoryStatsIndex` sorts the history once and then answers each date with
binary searches and running sums over the sorted rows: the cost of a date grows with
the number of opportunities, not with the length of their histories. The whole-history
mean and variance come from running sums, restarted at each pool, of its APY minus its
first APY (which keeps the cancellation in ``sum x^2 - (sum x)^2 / n`` small and a flat
history's deviation exactly zero); the 30-day statistics are computed two-pass over the
window's rows, as a textbook would.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from realyield.universe.point_in_time import SortedHistory, day_number

STATS_SCHEMA = {
    "id": pl.Utf8,
    "n_obs": pl.UInt32,
    "first_date": pl.Date,
    "last_date": pl.Date,
    "mu": pl.Float64,
    "sigma": pl.Float64,
    "mean_30d": pl.Float64,
    "std_30d": pl.Float64,
    "tvl_change_30d": pl.Float64,
}
STATS_COLUMNS = tuple(STATS_SCHEMA)

RECENT_DAYS = 30


class HistoryStatsIndex:
    """A history sorted once by (id, date), answering :meth:`at` for any date.

    ``history`` has at least ``id, date, apy, tvl_usd``; rows without an APY are
    ignored (they say nothing about the yield). Rows sharing an id and a date (two
    sources) each count, as they would in a plain group-by.
    """

    def __init__(self, history: pl.DataFrame) -> None:
        rows = SortedHistory(
            history.select("id", "date", "apy", "tvl_usd").filter(pl.col("apy").is_not_null()),
            "id",
        )
        self._rows = rows
        self._apy = rows.frame["apy"].cast(pl.Float64).to_numpy()
        # each id's first APY: the shift for the running sums (a flat stretch then sums
        # exact zeros, so its standard deviation is exactly 0)
        centred = self._apy - np.repeat(self._apy[rows.start], rows.stop - rows.start)
        # running sums that restart at each id: a single running sum over every id would
        # grow with the whole table and lose the digits a late id's variance needs
        self._sum = np.zeros(centred.size + 1)
        self._sum_sq = np.zeros(centred.size + 1)
        for a, b in zip(rows.start.tolist(), rows.stop.tolist(), strict=True):
            np.cumsum(centred[a:b], out=self._sum[a + 1 : b + 1])
            np.cumsum(centred[a:b] ** 2, out=self._sum_sq[a + 1 : b + 1])
        # for each row, the position of the last row at or before it with a TVL (-1: none)
        tvl = rows.frame["tvl_usd"].cast(pl.Float64).to_numpy()
        self._tvl = tvl
        self._last_tvl = np.maximum.accumulate(np.where(~np.isnan(tvl), np.arange(tvl.size), -1))

    def at(self, as_of: date | None = None) -> pl.DataFrame:
        """One row per id with history up to ``as_of``: observation count, first/last
        date, mu, sigma, 30-day mean/std of APY (the 30 days ending at the id's last
        observation), and the relative TVL change over those 30 days (fraction).
        Statistics of a single observation (a standard deviation, a change) are null."""
        r = self._rows
        if not r.keys:
            return pl.DataFrame(schema=STATS_SCHEMA)
        last_day = int(r.day.max()) if as_of is None else day_number(as_of)
        start = r.start
        end = r.ends(last_day)
        present = end > start
        ids = np.flatnonzero(present)
        start, end = start[ids], end[ids]
        n = end - start
        last = r.day[end - 1]
        # whole history up to the date
        s = self._sum[end]  # sums from each id's first row (they restart there)
        q = self._sum_sq[end]
        mu = self._apy[start] + s / n
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.maximum(q - s * s / n, 0.0) / (n - 1)
        sigma = np.sqrt(var)
        # the 30 days ending at each id's last observation, two-pass
        w0 = r.ends(last - RECENT_DAYS, ids)
        w_n = end - w0
        rows = np.repeat(w0 - np.concatenate([[0], np.cumsum(w_n)[:-1]]), w_n) + np.arange(
            int(w_n.sum())
        )
        group = np.repeat(np.arange(ids.size), w_n)
        x0 = self._apy[w0]  # shifted by the window's first APY: a flat window gives 0
        x = self._apy[rows] - x0[group]
        mean_x = np.bincount(group, weights=x, minlength=ids.size) / w_n
        mean_30 = x0 + mean_x
        dev = x - mean_x[group]
        with np.errstate(divide="ignore", invalid="ignore"):
            var_30 = np.bincount(group, weights=dev * dev, minlength=ids.size) / (w_n - 1)
        std_30 = np.sqrt(var_30)
        # TVL now (last known up to the date) against the last known 30 days before
        now_at = self._last_tvl[end - 1]
        then_at = np.where(w0 > start, self._last_tvl[np.maximum(w0 - 1, 0)], -1)
        have = (now_at >= start) & (then_at >= start)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # x / 0: inf
            change = self._tvl[np.maximum(now_at, 0)] / self._tvl[np.maximum(then_at, 0)] - 1.0
        first = r.day[start]
        # built column by column (no query: a replay asks once per rebalance date, and
        # each query waits for Polars' thread pool)
        return pl.DataFrame(
            [
                pl.Series("id", [r.keys[i] for i in ids], dtype=pl.Utf8),
                pl.Series("n_obs", n.astype(np.uint32)),
                pl.Series("first_date", first.astype(np.int32)).cast(pl.Date),
                pl.Series("last_date", last.astype(np.int32)).cast(pl.Date),
                pl.Series("mu", mu),
                _null_where("sigma", sigma, n == 1),
                pl.Series("mean_30d", mean_30),
                _null_where("std_30d", std_30, w_n == 1),
                _null_where("tvl_change_30d", change, ~have),
            ]
        )


def _null_where(name: str, values: np.ndarray, null: np.ndarray) -> pl.Series:
    """``values`` as a Float64 column, null where ``null`` holds (NaN elsewhere stays)."""
    out = pl.Series(name, values, dtype=pl.Float64)
    where = np.flatnonzero(null)
    return out.scatter(where, None) if where.size else out


def history_stats(history: pl.DataFrame, *, as_of: date | None = None) -> pl.DataFrame:
    """One row per id: observation count, first/last date, mu, sigma, 30-day mean/std of
    APY, and the relative TVL change over the last 30 days (fraction).

    ``history`` has at least ``id, date, apy, tvl_usd``; rows after ``as_of`` are ignored.
    For many dates over one history, build a :class:`HistoryStatsIndex` once instead.
    """
    if history.is_empty():
        return pl.DataFrame(schema=STATS_SCHEMA)
    return HistoryStatsIndex(history).at(as_of)
