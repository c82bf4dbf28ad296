"""History statistics as of a date, against a plain per-pool computation.

The reference below walks each pool's rows in Python with the ``statistics`` module (a
two-pass sample standard deviation): an independent restatement of the definitions, not
the running sums and binary searches the implementation uses.
"""

from __future__ import annotations

import math
import statistics
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realyield.scoring.history_stats import (
    RECENT_DAYS,
    STATS_COLUMNS,
    HistoryStatsIndex,
    history_stats,
)
from realyield.sources.snapshot import load_snapshot

START = date(2023, 1, 1)


def reference(rows: list[tuple[str, date, float | None, float | None]], as_of: date | None):
    """id -> the statistics, from the definitions."""
    out: dict[str, dict[str, Any]] = {}
    by_id: dict[str, list[tuple[date, float, float | None]]] = {}
    for pool, day, apy, tvl in rows:  # input order kept within a day (a stable sort)
        if apy is None or (as_of is not None and day > as_of):
            continue
        by_id.setdefault(pool, []).append((day, apy, tvl))
    for pool, obs in by_id.items():
        obs.sort(key=lambda r: r[0])
        apys = [a for _, a, _ in obs]
        last = obs[-1][0]
        recent = [a for d, a, _ in obs if d > last - timedelta(days=RECENT_DAYS)]
        tvl_now = [t for _, _, t in obs if t is not None]
        tvl_then = [
            t for d, _, t in obs if t is not None and d <= last - timedelta(days=RECENT_DAYS)
        ]
        change = None
        if tvl_now and tvl_then:
            change = math.inf if tvl_then[-1] == 0 else tvl_now[-1] / tvl_then[-1] - 1.0
            if tvl_then[-1] == 0 and tvl_now[-1] == 0:
                change = math.nan
        out[pool] = {
            "n_obs": len(apys),
            "first_date": obs[0][0],
            "last_date": last,
            "mu": statistics.fmean(apys),
            "sigma": statistics.stdev(apys) if len(apys) > 1 else None,
            "mean_30d": statistics.fmean(recent),
            "std_30d": statistics.stdev(recent) if len(recent) > 1 else None,
            "tvl_change_30d": change,
        }
    return out


def frame(rows: list[tuple[str, date, float | None, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"id": pl.Utf8, "date": pl.Date, "apy": pl.Float64, "tvl_usd": pl.Float64},
        orient="row",
    )


def assert_matches(got: pl.DataFrame, want: dict[str, dict[str, Any]]) -> None:
    assert got.columns == list(STATS_COLUMNS)
    assert sorted(got["id"].to_list()) == sorted(want)
    for row in got.iter_rows(named=True):
        ref = want[row["id"]]
        for name, value in ref.items():
            actual = row[name]
            if value is None:
                assert actual is None, (row["id"], name, actual)
            elif isinstance(value, float):
                if math.isnan(value):
                    assert actual is not None and math.isnan(actual), (row["id"], name)
                elif math.isinf(value):
                    assert actual == value, (row["id"], name)
                else:
                    scale = max(1.0, abs(value))
                    assert actual == pytest.approx(value, rel=1e-9, abs=1e-9 * scale), (
                        row["id"],
                        name,
                    )
            else:
                assert actual == value, (row["id"], name)


def test_by_hand() -> None:
    rows = [
        ("a", START + timedelta(days=d), apy, tvl)
        for d, apy, tvl in [
            (0, 4.0, 100.0),
            (10, 6.0, None),
            (20, 5.0, 150.0),
            (45, 9.0, 200.0),
            (50, None, 1e9),  # no APY: ignored, TVL included
            (55, 3.0, None),
        ]
    ] + [("b", START, 7.0, 0.0)]
    got = {
        r["id"]: r
        for r in history_stats(frame(rows), as_of=START + timedelta(days=60)).rows(named=True)
    }
    a = got["a"]
    assert a["n_obs"] == 5 and a["first_date"] == START and a["last_date"] == START + timedelta(55)
    assert a["mu"] == pytest.approx((4 + 6 + 5 + 9 + 3) / 5)
    assert a["sigma"] == pytest.approx(statistics.stdev([4, 6, 5, 9, 3]))
    # the 30 days ending on day 55 hold days 45 and 55
    assert a["mean_30d"] == pytest.approx(6.0) and a["std_30d"] == pytest.approx(math.sqrt(18))
    # TVL: now 200 (day 45; day 55 has none), 30 days before day 55 -> day 20: 150
    assert a["tvl_change_30d"] == pytest.approx(200 / 150 - 1)
    b = got["b"]
    assert b["sigma"] is None and b["std_30d"] is None and b["tvl_change_30d"] is None


def test_a_flat_history_has_exactly_zero_deviation_even_after_a_move() -> None:
    rows = [("p", START + timedelta(days=d), 3.3 if d < 40 else 12.7, 1.0) for d in range(80)]
    index = HistoryStatsIndex(frame(rows))
    early = index.at(START + timedelta(days=39)).row(0, named=True)
    assert early["sigma"] == 0.0 and early["std_30d"] == 0.0
    late = index.at(START + timedelta(days=79)).row(0, named=True)
    assert late["std_30d"] == 0.0  # the last 30 days are all 12.7
    assert late["sigma"] == pytest.approx(statistics.stdev([3.3] * 40 + [12.7] * 40), rel=1e-12)


def test_before_any_row_and_empty_history() -> None:
    rows = [("p", START, 1.0, 1.0)]
    assert history_stats(frame(rows), as_of=START - timedelta(days=1)).is_empty()
    empty = history_stats(frame([]), as_of=START)
    assert empty.is_empty() and empty.columns == list(STATS_COLUMNS)


pools = st.sampled_from(["p1", "p2", "p3", "p4"])
row = st.tuples(
    pools,
    st.integers(0, 120).map(lambda d: START + timedelta(days=d)),
    st.one_of(st.none(), st.floats(0, 500, allow_nan=False), st.sampled_from([2.5, 2.5, 7.0])),
    st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False), st.just(0.0)),
)


@given(st.lists(row, max_size=120), st.lists(st.integers(-5, 130), min_size=1, max_size=5))
@settings(max_examples=150, deadline=None)
def test_random_histories_match_the_definitions(rows: list[Any], days: list[int]) -> None:
    index = HistoryStatsIndex(frame(rows))
    for d in days:
        as_of = START + timedelta(days=d)
        assert_matches(index.at(as_of), reference(rows, as_of))
    assert_matches(index.at(None), reference(rows, None))


def test_bundled_history_matches_the_definitions_on_many_dates() -> None:
    snap = load_snapshot()
    rows = [(p.opportunity_id, p.date, p.apy, p.tvl_usd) for p in snap.apy_history]
    index = HistoryStatsIndex(frame(rows))
    for as_of in [date(2022, 7, 15), date(2023, 11, 30), date(2025, 6, 30)]:
        assert_matches(index.at(as_of), reference(rows, as_of))


def test_reward_token_trend_by_hand() -> None:
    from realyield.scoring.inputs import reward_token_facts
    from realyield.universe.point_in_time import SortedHistory

    as_of = date(2024, 6, 30)
    rows = [
        ("gov", as_of - timedelta(days=200), 50.0),  # before the 90-day window
        ("gov", as_of - timedelta(days=89), 2.0),  # the window's first price
        ("gov", as_of - timedelta(days=29), 1.0),
        ("gov", as_of, 1.5),
        ("gov", as_of + timedelta(days=1), 99.0),  # after the date: never read
        ("new", as_of - timedelta(days=20), 1.0),  # under 30 days of prices: no trend
        ("new", as_of, 3.0),
    ]
    prices = pl.DataFrame(rows, schema=["asset_id", "date", "price_usd"], orient="row")
    for source in (prices, SortedHistory(prices, "asset_id")):
        _, trend = reward_token_facts([], source, as_of=as_of)
        assert set(trend) == {"gov"}
        assert trend["gov"] == pytest.approx((1.5 / 2.0) ** (365.0 / 89) - 1.0, rel=1e-12)
