"""Head to head with DeFiLlama (issue 19): labels, scorecards, the record head, --until.

Logic runs on small synthetic histories; one test runs the real comparison on the
2025-08-31 DEX dump and skips when ../shared/data is absent.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from realyield.scoring.features.records import RECORD_FEATURES, record_features
from realyield.scoring.forecast import ForecastModel, ForecastParams, predict, train_model
from realyield.scoring.forecast.compare import (
    compare_with_defillama,
    defillama_p_down,
    realised_labels,
    scorecard,
)
from tests.scoring.test_forecast import SHARED_DATA, START, attrs_for, mean_reverting

TINY = ForecastParams(
    max_iter=15, classifier_max_iter=15, min_samples_leaf=40, classifier_min_samples_leaf=40
)
AS_OF = START + timedelta(days=120)


@pytest.fixture(scope="module")
def history() -> pl.DataFrame:
    return mean_reverting(n_ids=30, n_days=160, seed=5)


@pytest.fixture(scope="module")
def model(history: pl.DataFrame) -> ForecastModel:
    return train_model(
        history, attrs_for(history), sources=["s"], params=TINY, evaluate=False, until=AS_OF
    )


def _records(history: pl.DataFrame, day: date) -> pl.DataFrame:
    """A /pools-like record per id on ``day`` (with a DeFiLlama prediction)."""
    today = history.filter(pl.col("date") <= day).group_by("id").agg(pl.col("apy").last())
    return today.sort("id").with_columns(
        pl.lit(1.0).alias("apy_pct_1d"),
        pl.col("apy").alias("apy_mean_30d"),
        pl.col("apy").alias("mu"),
        pl.lit(90.0).alias("count"),
        pl.lit(1e6).alias("tvl_usd"),
        pl.lit("Down").alias("predicted_class"),
        pl.lit(60.0).alias("predicted_probability"),
    )


def test_realised_labels_follow_defillamas_rule_by_hand() -> None:
    day = date(2025, 8, 31)
    history = pl.DataFrame(
        {
            "id": ["a"] * 25 + ["b"] * 25 + ["c"] * 10 + ["a"],
            "date": [day + timedelta(days=k + 1) for k in range(25)] * 2
            + [day + timedelta(days=k + 1) for k in range(10)]
            + [day],  # the dump's own day is not the future
            "apy": [7.0] * 25 + [9.0] * 25 + [1.0] * 10 + [1000.0],
        }
    )
    records = pl.DataFrame({"id": ["a", "b", "c"], "apy": [10.0, 10.0, 10.0]})
    labels = realised_labels(records, history, day).sort("id")
    # c has 10 realised days (< 20): unlabelled. Window (day, day+30]: 25 rows each.
    assert labels["id"].to_list() == ["a", "b"]
    assert labels["n_realised"].to_list() == [25, 25]
    assert labels["realised_median"].to_list() == [7.0, 9.0]
    assert labels["down"].to_list() == [True, False]  # 7 < 0.8 * 10; 9 is not


def test_defillama_probability_is_of_its_class() -> None:
    frame = pl.DataFrame(
        {"predicted_class": ["Down", "Stable/Up", None], "predicted_probability": [60.0, 70.0, 50]}
    )
    p = frame.select(defillama_p_down(frame).alias("p"))["p"].to_list()
    assert p[0] == pytest.approx(0.6) and p[1] == pytest.approx(0.3) and p[2] is None


def test_scorecard_against_hand_counts() -> None:
    down = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([0.9, 0.2, 0.4, 0.6])
    card = scorecard(down, p, forecast=np.array([1.0, 2.0, 3.0, 10.0]), actual=np.ones(4))
    assert card.accuracy == pytest.approx(0.5)  # right on 0.9 and 0.2 only
    assert card.brier == pytest.approx((0.01 + 0.04 + 0.36 + 0.36) / 4)
    # pairs (down, up): (0.9,0.2) (0.9,0.6) (0.4,0.2) right, (0.4,0.6) wrong -> 3/4
    assert card.auc == pytest.approx(0.75)
    assert card.mae == pytest.approx((0 + 1 + 2 + 9) / 4) and card.median_error == 1.5
    assert sum(b.n for b in card.calibration) == 4
    constant = scorecard(down, np.zeros(4))
    assert constant.auc == 0.5 and constant.accuracy == 0.5


def test_train_until_keeps_every_label_window_inside(model: ForecastModel) -> None:
    assert model.train_last_date + timedelta(days=30) <= AS_OF


def test_every_record_gets_a_forecast_and_the_reason_names_its_features(
    model: ForecastModel, history: pl.DataFrame
) -> None:
    records = _records(history, AS_OF)
    young = history.filter(pl.col("id") == "pool-0").head(3)  # too short for history features
    out = predict(model, young, None, as_of=AS_OF, records=records).sort("id")
    assert out.height == records.height
    assert out["forecast_apy_30d"].null_count() == 0 and out["p_down"].null_count() == 0
    assert all(r.startswith("pool record features") for r in out["reason"].to_list())
    assert set(model.record_feature_columns) <= set(RECORD_FEATURES)
    with_history = predict(model, history, None, as_of=AS_OF, records=records)
    assert all(r.startswith("history features") for r in with_history["reason"].to_list())


def test_record_features_rebuild_past_apy_from_changes() -> None:
    frame = pl.DataFrame({"id": ["x"], "apy": [10.0], "apy_pct_1d": [2.0], "apy_pct_30d": [20.0]})
    row = record_features(frame).row(0, named=True)
    assert row["apy_change_1obs"] == pytest.approx(np.log1p(10) - np.log1p(8))
    assert row["apy_change_30d"] == pytest.approx(np.log1p(10))  # past APY floored at 0
    assert row["apy_change_7d"] is None and row["n_obs"] is None


def test_compare_scores_all_predictors_on_the_same_pools(
    model: ForecastModel, history: pl.DataFrame
) -> None:
    result = compare_with_defillama(
        _records(history, AS_OF), history, attrs_for(history), as_of=AS_OF, model=model
    )
    assert result.n == 30 and result.realyield.n == result.defillama.n == result.naive.n == 30
    assert result.defillama.accuracy == pytest.approx(result.down_rate)  # always "Down"
    assert result.naive.accuracy == pytest.approx(1 - result.down_rate)
    payload = result.as_dict()
    assert {"n", "realyield", "defillama", "naive"} <= set(payload)
    assert {"auc", "accuracy", "brier"} <= set(payload["realyield"])


def test_real_compare_on_the_2025_08_31_dump() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real public data not found at {SHARED_DATA} (../shared/data beside the repo)")
    from realyield.scoring.features import attrs_from_pool_info, history_from_points
    from realyield.scoring.features.records import record_frame
    from realyield.sources.files import import_apy_history, import_pools

    opps, _ = import_pools(SHARED_DATA / "defillama" / "pools_2025-08-31_dex_full_schema.csv")
    imported, _ = import_apy_history(
        SHARED_DATA / "yields" / "defillama_dex_pool_history.csv.gz", apy_unit="percent"
    )
    history = history_from_points(imported.points)
    attrs = attrs_from_pool_info(imported.pool_info, kind="liquidity")
    result = compare_with_defillama(
        record_frame(opps), history, attrs, as_of=date(2025, 8, 31), params=TINY
    )
    # the figures for DeFiLlama on its 247 labelled pools
    assert result.n == 247
    assert result.defillama.accuracy == pytest.approx(0.583, abs=5e-4)
    assert result.defillama.auc == pytest.approx(0.732, abs=5e-4)
    assert result.naive.accuracy == pytest.approx(0.668, abs=5e-4)
    assert result.model_trained_until <= date(2025, 8, 1)
    assert result.realyield.auc is not None and result.realyield.auc > 0.6


def test_records_alone_without_any_history_get_forecasts(
    model: ForecastModel, history: pl.DataFrame
) -> None:
    empty = pl.DataFrame(schema={"id": pl.Utf8, "date": pl.Date, "apy": pl.Float64})
    records = _records(history, AS_OF)
    out = predict(model, empty, None, as_of=AS_OF, records=records)
    assert out.height == records.height and out["p_down"].null_count() == 0
    assert out["n_obs"].to_list() == [0] * records.height
    assert (out["date"] == AS_OF).all()


def test_evaluate_warns_when_the_file_overlaps_the_training_window(
    model: ForecastModel, history: pl.DataFrame
) -> None:
    from realyield.scoring.forecast import training_overlap

    warning = training_overlap(model, history, ["s"])
    inside = history.filter(
        pl.col("date").is_between(model.train_first_date, model.train_last_date)
    ).height
    assert warning is not None and f"{inside:,} of {history.height:,}" in warning
    assert "trained on s: these rows are in-sample" in warning
    later = history.filter(pl.col("date") > model.train_last_date)
    assert training_overlap(model, later, ["s"]) is None


def test_compare_cli_says_what_is_wrong_with_its_input(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from realyield.cli import app

    runner = CliRunner()
    missing = tmp_path / "nope.csv"
    base = ["model", "compare", "--defillama", str(missing), "--history", str(missing)]
    bad_date = runner.invoke(app, [*base, "--as-of", "31/08/2025"])
    assert bad_date.exit_code == 2 and "--as-of '31/08/2025' is not a YYYY-MM-DD" in bad_date.output
    no_file = runner.invoke(app, [*base, "--as-of", "2025-08-31"])
    assert no_file.exit_code == 1 and "nope.csv" in no_file.output
    assert "Traceback" not in no_file.output
