"""Forecast features and targets: values by hand, no look-ahead (property), robustness."""

from __future__ import annotations

import math
from datetime import date, timedelta

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from realyield.core.errors import DataError
from realyield.core.model import ApyPoint
from realyield.scoring.features import (
    FEATURE_COLUMNS,
    MIN_OBSERVATIONS,
    TARGET_COLUMNS,
    attrs_from_pool_info,
    build_features,
    exposure_from_symbol,
    history_from_points,
    label_down,
    stablecoin_from_symbol,
)

D0 = date(2024, 1, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def frame(rows: list[tuple[str, int, float]], **extra: list[float | None]) -> pl.DataFrame:
    data: dict[str, list[object]] = {
        "id": [r[0] for r in rows],
        "date": [day(r[1]) for r in rows],
        "apy": [r[2] for r in rows],
    }
    data.update(extra)
    return pl.DataFrame(data)


def row(features: pl.DataFrame, key: str, n: int) -> dict[str, object]:
    return features.filter((pl.col("id") == key) & (pl.col("date") == day(n))).row(0, named=True)


# --- targets by hand ------------------------------------------------------------------------


def step_series() -> pl.DataFrame:
    """41 consecutive days: APY 10 on days 0..20, then 5 on days 21..40."""
    return frame([("a", d, 10.0 if d <= 20 else 5.0) for d in range(41)])


def test_median_target_and_down_label_by_hand() -> None:
    f = build_features(step_series())
    # day 0 looks at days 1..30: twenty 10s and ten 5s -> median 10, not down
    r0 = row(f, "a", 0)
    assert r0["target_median_30d"] == 10.0 and r0["target_down"] is False
    assert r0["n_future"] == 30 and r0["label_end"] == day(30)
    # day 5 looks at days 6..35: fifteen 10s, fifteen 5s -> median 7.5 < 0.8 * 10 -> down
    r5 = row(f, "a", 5)
    assert r5["target_median_30d"] == 7.5 and r5["target_down"] is True
    # day 10: days 11..40 -> ten 10s, twenty 5s -> median 5 -> down ((5 - 10) / 10 = -0.5)
    r10 = row(f, "a", 10)
    assert r10["target_median_30d"] == 5.0 and r10["target_down"] is True
    # day 25 (APY 5) looks at 26..40 only: the window is not complete -> unknown
    r25 = row(f, "a", 25)
    assert r25["target_median_30d"] is None and r25["target_down"] is None
    known = f.filter(pl.col("target_median_30d").is_not_null())
    assert known["date"].max() == day(10)  # the last day whose 30-day future is observed


def test_target_needs_ten_future_observations() -> None:
    sparse = frame([("b", d, 4.0) for d in range(0, 90, 4)])  # 7-8 points per 30 days
    f = build_features(sparse)
    assert f["target_median_30d"].null_count() == f.height
    assert f["n_future"].max() in (7, 8)
    dense_enough = frame([("c", d, 4.0) for d in range(0, 90, 3)])  # exactly 10 per 30 days
    g = build_features(dense_enough)
    assert row(g, "c", 0)["target_median_30d"] == 4.0


def test_down_label_at_zero_apy_is_false() -> None:
    f = build_features(frame([("z", d, 0.0) for d in range(40)]))
    assert row(f, "z", 0)["target_median_30d"] == 0.0
    assert row(f, "z", 0)["target_down"] is False
    assert label_down(0.0, 0.0) is False and label_down(0.0, 3.0) is False
    assert label_down(10.0, 7.9) is True and label_down(10.0, 8.0) is False


def test_labels_agree_with_the_reference_formula() -> None:
    values = [3.0, 9.0, 1.0, 12.0, 0.0, 7.0, 2.5, 30.0, 4.0, 6.0] * 6
    f = build_features(frame([("m", d, v) for d, v in enumerate(values)]))
    for r in f.filter(pl.col("target_down").is_not_null()).iter_rows(named=True):
        offset = (r["date"] - D0).days
        future = sorted(values[offset + 1 : offset + 31])
        median = (future[14] + future[15]) / 2
        assert r["target_median_30d"] == pytest.approx(median)
        assert r["target_down"] is label_down(r["apy"], median)


# --- features by hand -------------------------------------------------------------------------


def test_rolling_expanding_and_calendar_features_by_hand() -> None:
    days = [0, 1, 2, 10, 40, 41]
    apys = [2.0, 4.0, 6.0, 8.0, 10.0, 20.0]
    tvl = [100.0, None, 300.0, 400.0, 500.0, 600.0]
    h = frame([("a", d, a) for d, a in zip(days, apys, strict=True)], tvl_usd=tvl)
    h = h.with_columns(
        pl.Series("apy_base", [1.0, 4.0, 6.0, 8.0, 2.5, None]),
        pl.Series("apy_reward", [1.0, None, 0.0, 0.0, 7.5, 20.0]),
    )
    f = build_features(h, targets=False)
    r = row(f, "a", 10)
    assert r["n_obs"] == 4 and r["days_since_first"] == 10 and r["days_since_prev"] == 8
    assert r["mean_7obs"] == pytest.approx(5.0)  # all four observations
    assert r["mean_7d"] == pytest.approx(8.0)  # days 4..10: only day 10
    assert r["mean_30d"] == pytest.approx(5.0)  # days -19..10: all four
    assert r["median_30d"] == pytest.approx(5.0)
    assert r["mean_exp"] == pytest.approx(5.0)
    assert r["std_exp"] == pytest.approx(math.sqrt(20 / 3))
    assert r["rel_mean_30d"] == pytest.approx(math.log1p(8.0) - math.log1p(5.0))
    # day 10 looks 7 days back to day 3 -> last observation on or before it is day 2
    assert r["apy_change_7d"] == pytest.approx(math.log1p(8.0) - math.log1p(6.0))
    assert r["apy_change_30d"] is None  # nothing on or before day -20
    assert r["tvl_change_7d"] == pytest.approx(math.log1p(400.0) - math.log1p(300.0))
    r40 = row(f, "a", 40)
    assert r40["mean_30d"] == pytest.approx(10.0)  # days 11..40: only day 40
    assert r40["obs_30d"] == 1 and r40["std_30d"] is None
    assert r40["mean_7obs"] == pytest.approx(6.0)
    assert r40["reward_share"] == pytest.approx(0.75)
    assert row(f, "a", 41)["reward_share"] == pytest.approx(1.0)
    assert row(f, "a", 0)["reward_share"] == pytest.approx(0.5)
    assert row(f, "a", 1)["reward_share"] == 0.0  # base known, reward blank = none
    # TVL missing on day 1: its level is carried forward from day 0 (the past), not skipped
    assert row(f, "a", 1)["log_tvl"] == pytest.approx(math.log1p(100.0))


def test_attributes_join_as_lowercase_categoricals_and_stablecoin_flag() -> None:
    h = frame([("x", d, 5.0) for d in range(3)] + [("y", d, 5.0) for d in range(3)])
    attrs = pl.DataFrame(
        {
            "id": ["x", "x"],
            "chain": ["Ethereum", "Base"],
            "project": ["aave-v3", None],
            "kind": ["lending", None],
            "stablecoin": [True, None],
            "exposure": ["single", None],
        }
    )
    f = build_features(h, attrs, targets=False)
    x = row(f, "x", 0)
    assert (x["chain"], x["project"], x["kind"], x["exposure"]) == (
        "ethereum",
        "aave-v3",
        "lending",
        "single",
    )  # the first row of a duplicated id wins
    assert x["stablecoin"] == 1.0
    y = row(f, "y", 0)
    assert y["chain"] is None and y["stablecoin"] is None
    assert list(build_features(h, None).columns) == [
        "id",
        "date",
        *FEATURE_COLUMNS,
        *TARGET_COLUMNS,
    ]


def test_duplicates_missing_values_and_datetime_dates() -> None:
    h = pl.DataFrame(
        {
            "id": ["a", "a", "a", "a"],
            "date": [day(0), day(0), day(1), day(2)],
            "apy": [1.0, 2.0, None, float("nan")],
        }
    )
    f = build_features(h, targets=False)
    assert f.height == 1 and f["apy"][0] == 2.0  # the last row of a day wins
    as_datetime = h.with_columns(pl.col("date").cast(pl.Datetime("us", "UTC")))
    assert build_features(as_datetime, targets=False)["apy"].to_list() == [2.0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (pl.DataFrame({"id": ["a"], "apy": [1.0]}), "missing column"),
        (pl.DataFrame({"id": ["a"], "date": [D0], "apy": [-1.0]}), "negative"),
        (pl.DataFrame({"id": ["a"], "date": ["not a date"], "apy": [1.0]}), "wrong type"),
    ],
)
def test_bad_history_raises_data_error(bad: pl.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=message):
        build_features(bad)


def test_bad_attrs_raise_data_error() -> None:
    with pytest.raises(DataError, match="'id'"):
        build_features(step_series(), pl.DataFrame({"chain": ["x"]}))


def test_helpers_guess_stablecoin_and_exposure() -> None:
    assert stablecoin_from_symbol("USDC-USDT") is True
    assert stablecoin_from_symbol("usdc") is True
    assert stablecoin_from_symbol("WETH-USDC") is False
    assert stablecoin_from_symbol("") is None
    assert exposure_from_symbol("WETH-USDC") == "multi"
    assert exposure_from_symbol("DAI") == "single"
    points = [ApyPoint("p", day(0), 5.0, 5.0, None, 10.0)]
    h = history_from_points(points, source="file.csv")
    assert h.columns == [
        "id",
        "date",
        "apy",
        "apy_base",
        "apy_reward",
        "tvl_usd",
        "source",
    ]
    attrs = attrs_from_pool_info({"p": {"chain": "Base", "symbol": "USDC"}}, kind="lending")
    assert attrs.row(0) == ("p", "Base", None, "lending", True, "single")


# --- no look-ahead ------------------------------------------------------------------------------

_ids = st.sampled_from(["a", "b", "c"])
_apy = st.floats(min_value=0.0, max_value=5_000.0, allow_nan=False)
_tvl = st.none() | st.floats(min_value=0.0, max_value=1e9, allow_nan=False)
_rows = st.lists(st.tuples(_ids, st.integers(0, 90), _apy, _tvl), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(past=_rows, future=_rows, other_future=_rows, cut=st.integers(0, 90))
def test_changing_future_rows_never_changes_earlier_features(
    past: list[tuple[str, int, float, float | None]],
    future: list[tuple[str, int, float, float | None]],
    other_future: list[tuple[str, int, float, float | None]],
    cut: int,
) -> None:
    def history(rows: list[tuple[str, int, float, float | None]]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "id": [r[0] for r in rows],
                "date": [day(r[1]) for r in rows],
                "apy": [r[2] for r in rows],
                "tvl_usd": [r[3] for r in rows],
            },
            schema={"id": pl.Utf8, "date": pl.Date, "apy": pl.Float64, "tvl_usd": pl.Float64},
        )

    attrs = pl.DataFrame({"id": ["a", "b"], "chain": ["ethereum", "base"]})
    before = [r for r in past if r[1] <= cut]
    one = [r for r in future if r[1] > cut]
    two = [r for r in other_future if r[1] > cut]
    columns = ["id", "date", *FEATURE_COLUMNS]

    def features(rows: list[tuple[str, int, float, float | None]]) -> pl.DataFrame:
        return (
            build_features(history(before + rows), attrs, targets=False)
            .filter(pl.col("date") <= day(cut))
            .select(columns)
        )

    baseline = features([])
    for extra in (one, two):
        assert_frame_equal(features(extra), baseline, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)


def test_min_observations_constant() -> None:
    assert MIN_OBSERVATIONS == 7
